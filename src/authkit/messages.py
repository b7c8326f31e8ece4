"""
Every user-visible sentence, keyed by a code. Hosts override any of them with
`AuthKit(messages={...})`; the values may use `{name}` fields, filled from the error.
"""

from __future__ import annotations

from collections.abc import Mapping

MESSAGES: Mapping[str, str] = {
    # fields
    "required": "This field is required.",
    "email_invalid": "Enter a valid email address.",
    "too_long": "This is too long: at most {max} characters.",
    "password_too_short": "Use at least {min} characters.",
    "password_too_long": "Use at most {max} characters.",
    "password_too_common": "This password is too common. Choose one that is harder to guess.",
    "password_is_email": "Your password must not be your email address.",
    "email_taken": "That email address already has an account.",
    "name_invalid": "Names cannot contain control characters.",
    # flows
    # Same message for unknown email and wrong password: no account enumeration.
    "invalid_credentials": "The email or password is incorrect.",
    "code_invalid": "That code is incorrect. Check the email and try again.",
    "code_expired": "That code has expired. Ask for a new one.",
    "code_format": "Enter the 6-digit code from the email.",
    "sign_up_closed": "Sign-up is closed.",
    "rate_limited": "Too many attempts. Try again in {wait}.",
    "csrf_failed": "Your form expired. Please try again.",
    "attempt_missing": "Start again: that sign-up has expired.",
    "resend_too_soon": "Wait {seconds} seconds before asking for another code.",
    "too_many_codes": "Too many codes were sent. Start again in a few minutes.",
    "banned": "The email or password is incorrect.",
    # labels and headings
    "sign_in": "Sign in",
    "sign_up": "Sign up",
    "sign_out": "Sign out",
    "sign_in_title": "Sign in to {app_name}",
    "sign_in_subtitle": "Welcome back! Please sign in to continue.",
    "sign_up_title": "Create your account",
    "sign_up_subtitle": "Welcome! Fill in the details to get started with {app_name}.",
    "verify_title": "Verify your email",
    "verify_subtitle": "Enter the 6-digit code sent to {email}.",
    "profile_title": "Your account",
    "profile_subtitle": "Manage your profile.",
    "sign_out_confirm": "Confirm that you want to sign out.",
    "email_label": "Email address",
    "password_label": "Password",
    "first_name_label": "First name",
    "last_name_label": "Last name",
    "code_label": "Verification code",
    "optional": "(optional)",
    "password_hint": "At least {min} characters. Avoid common passwords.",
    "continue": "Continue",
    "verify": "Verify",
    "save": "Save",
    "forgot_password_link": "Forgot password?",
    "no_account": "No account?",
    "have_account": "Have an account?",
    "sign_up_link": "Sign up",
    "sign_in_link": "Sign in",
    "no_code": "Didn't get a code?",
    "resend_code": "Send a new code",
    "resend_in": "(available in {seconds} s)",
    "wrong_email": "Wrong email?",
    "go_back": "Go back",
    "open_user_menu": "Open user menu",
    "manage_account": "Manage account",
    "guidance_length": "At least {min} characters",
    "guidance_not_common": "Not a common password",
    "guidance_not_email": "Not your email address",
    "guidance_met": "done",
    "guidance_unmet": "not yet",
    "show_password": "Show",
    "hide_password": "Hide",
    # notices
    "code_sent": "We sent a 6-digit code to {email}.",
    "code_resent": "We sent a new code to {email}.",
    "profile_saved": "Your profile was saved.",
    "server_error": "Something went wrong on our side. Please try again.",
    "unavailable": "The service is unavailable right now. Please try again in a moment.",
    # password reset
    "forgot_password_title": "Forgot your password?",
    "forgot_password_subtitle": "Enter your email address and we will send you a code.",
    "send_reset_code": "Send reset code",
    "remembered_password": "Remembered it?",
    # Same notice whether or not the address has an account: no account enumeration.
    "reset_sent": "If an account exists for {email}, we sent a 6-digit code and a link.",
    "reset_password_title": "Set a new password",
    "reset_code_subtitle": "Enter the code from the email and choose a new password.",
    "reset_link_subtitle": "Choose a new password for {email}.",
    "new_password_label": "New password",
    "confirm_password_label": "Confirm new password",
    "reset_password_submit": "Reset password",
    "reset_start_again": "Start again",
    "password_mismatch": "The passwords do not match.",
    "reset_expired": "That reset has expired or was used up. Ask for a new code.",
    "reset_link_expired_title": "Link expired",
    "reset_link_expired": "This link has expired or was already used.",
    "reset_request_new": "Ask for a new link",
    "password_reset_done": "Your password was changed. Sign in with your new password.",
    "reset_link_open_subtitle": "Paste the link from the email to choose a new password.",
    "reset_code_where_asked": (
        "The code in the same email works in the browser where you asked for the reset."
    ),
    # a mailed link's landing page, when it could not read the link (JavaScript off)
    "link_paste_label": "Link from the email",
    "link_paste_hint": "Copy the whole link from the email and paste it here.",
    "link_paste_invalid": "Paste the whole link from the email.",
    # sign-in methods and steps
    "use_another_method": "Use another method",
    "method_password": "Sign in with your password",
    "use_password": "Use your password",
    "method_email_code": "Email me a code",
    "method_email_link": "Email me a sign-in link",
    "method_totp": "Use your authenticator app",
    "method_recovery_code": "Use a recovery code",
    "methods_title": "Use another method",
    "methods_subtitle": "Choose how to sign in to {app_name}.",
    "back": "Back",
    "or": "or",
    "method_unavailable": "That sign-in method is not available.",
    "attempt_expired": "That sign-in has expired. Please start again.",
    "factor_email_code_title": "Check your email",
    "factor_email_code_subtitle": "Enter the 6-digit code we sent to {email}.",
    "factor_email_link_title": "Check your email",
    "factor_email_link_subtitle": "We sent a sign-in link to {email}.",
    "factor_email_link_same_browser": (
        "Open the link in the email on this device, in this browser. It works once, for 10 minutes."
    ),
    "factor_email_link_any_browser": (
        "Open the link in the email to sign in. It works once, for 10 minutes."
    ),
    "factor_totp_title": "Two-step verification",
    "factor_totp_subtitle": "Enter the 6-digit code from your authenticator app.",
    "factor_recovery_code_title": "Use a recovery code",
    "factor_recovery_code_subtitle": (
        "Enter one of the recovery codes you saved when you set up two-step verification."
    ),
    "totp_code_label": "Authentication code",
    "recovery_code_label": "Recovery code",
    "recovery_code_format": "Enter a recovery code, like abcde-12345.",
    "recovery_code_invalid": "That recovery code is incorrect or was already used.",
    "totp_format": "Enter the 6-digit code from your authenticator app.",
    "totp_invalid": "That code is incorrect. Enter the newest code from your app.",
    "no_link": "Didn't get the email?",
    "resend_link": "Send a new link",
    "link_resent": "We sent a new link to {email}.",
    "link_confirm_title": "Sign in to {app_name}",
    "link_confirm_subtitle": "Continue as {email}.",
    "link_expired_title": "This link has expired",
    "link_expired": "The sign-in link has expired or was already used. Ask for a new one.",
    "link_other_browser_title": "Open the link where you asked for it",
    "link_other_browser": (
        "For your security, a sign-in link works only in the browser where you asked for "
        "it. Open it there, or sign in here another way."
    ),
    "sign_in_again": "Sign in again",
    "link_open_title": "Open your sign-in link",
    "link_open_subtitle": "Paste the link from the email to sign in to {app_name}.",
    # "Confirm it's you"
    "reverify_title": "Confirm it's you",
    "reverify_subtitle": "For your security, confirm it's you to continue as {email}.",
    # two-step verification
    "totp_setup_title": "Set up your authenticator app",
    "totp_setup_subtitle": (
        "Scan the QR code with an authenticator app, then enter the 6-digit code it shows."
    ),
    "totp_setup_required_subtitle": (
        "{app_name} requires two-step verification. Scan the QR code with an "
        "authenticator app, then enter the 6-digit code it shows."
    ),
    "totp_qr_title": "QR code for your authenticator app",
    "totp_secret_label": "Can't scan it? Enter this key instead:",
    "totp_open_link": "Open in an authenticator app on this device",
    "totp_confirm": "Verify and turn on",
    "cancel": "Cancel",
    "recovery_codes_title": "Save your recovery codes",
    "recovery_codes_subtitle": (
        "If you lose your authenticator app, each code signs you in once. Keep them "
        "somewhere safe: this is the only time they are shown."
    ),
    "recovery_codes_download": "Download as text",
    "recovery_codes_done": "I saved my codes",
    "security_title": "Security",
    "security_subtitle": "Manage how you sign in.",
    "account_nav": "Account",
    "security_nav": "Security",
    "profile_sections": "Profile sections",
    "mfa_heading": "Two-step verification",
    "status_on": "On",
    "status_off": "Off",
    "authenticator_app": "Authenticator app",
    "authenticator_app_off_text": (
        "Get a code from an app such as 1Password, Google Authenticator or Authy each "
        "time you sign in."
    ),
    "authenticator_app_on_text": "Turned on {date}.",
    "set_up": "Set up",
    "turn_off": "Turn off",
    "recovery_codes_heading": "Recovery codes",
    "recovery_codes_left": "{count} of 10 codes left.",
    "regenerate": "Generate new codes",
    "mfa_off_title": "Turn off two-step verification?",
    "mfa_off_text": (
        "Signing in will need only your password or an emailed code, and your recovery "
        "codes stop working."
    ),
    "mfa_off_submit": "Turn off",
    "regenerate_title": "Generate new recovery codes?",
    "regenerate_text": "Your current recovery codes stop working as soon as new ones are made.",
    "regenerate_submit": "Generate new codes",
    "mfa_turned_off": "Two-step verification is off.",
    "password_heading": "Password",
    "password_row_set_text": "Last changed {date}.",
    "password_row_none_text": "You sign in without a password. Set one to sign in with it too.",
    "change": "Change",
    "set_password": "Set password",
    "password_change_title": "Change password",
    "password_change_subtitle": "Enter your current password, then choose a new one.",
    "password_set_title": "Set a password",
    "password_set_subtitle": "Choose a password to sign in with, as well as your other methods.",
    "current_password_label": "Current password",
    "sign_out_others_label": "Sign out of all other devices",
    "sign_out_others_hint": "Recommended if you think someone else knows your password.",
    "password_change_submit": "Change password",
    "password_set_submit": "Set password",
    "current_password_wrong": "That is not your current password.",
    "password_unchanged": "Choose a password different from your current one.",
    "password_changed": "Your password was changed.",
    "password_set": "Your password is set.",
    "mfa_required": "Two-step verification is required on this site: it cannot be turned off.",
    "mfa_off": "Two-step verification is not on.",
    "totp_exists": "An authenticator app is already set up.",
    "totp_setup_expired": "That set-up has expired. Please start again.",
}


class Messages:
    """
    The message catalogue: the defaults with the host's overrides on top.
    """

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self._table = {**MESSAGES, **(overrides or {})}

    def __call__(self, code: str, /, **params: object) -> str:
        template = self._table.get(code, self._table["server_error"])
        try:
            return template.format(**params)
        except (KeyError, IndexError, ValueError):
            return template
