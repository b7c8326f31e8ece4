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
