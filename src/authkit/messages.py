"""
Every user-visible sentence, keyed by a code, in English: the source the translation
catalogs (authkit/locale/) are made from, with the code as each entry's context. Hosts
override any sentence with `AuthKit(messages={...})`, in every language at once or per
language (`{"de": {...}}`); the values may use `{name}` fields, filled from the error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from babel.numbers import format_decimal

from .email.sentences import EMAIL_MESSAGES
from .i18n.catalogs import CatalogSource, Forms, Sentence
from .i18n.locales import current_locale, normalize_locale
from .i18n.phrase import Phrase
from .i18n.plural import Plural
from .security.password_advice import PASSWORD_ADVICE

__all__ = ["MESSAGES", "Messages", "Plural"]

MESSAGES: Mapping[str, str | Plural] = {
    # fields
    "required": "This field is required.",
    "email_invalid": "Enter a valid email address.",
    "too_long": Plural(
        "This is too long: at most {max} character.",
        "This is too long: at most {max} characters.",
        "max",
    ),
    "password_too_short": Plural(
        "Use at least {min} character.", "Use at least {min} characters.", "min"
    ),
    "password_too_long": Plural(
        "Use at most {max} character.", "Use at most {max} characters.", "max"
    ),
    "password_too_weak": "This password is too easy to guess. {advice}",
    "password_breached": (
        "This password has appeared in a data breach, so attackers try it first. "
        "Choose another one."
    ),
    "password_is_email": "Your password must not be your email address.",
    "email_taken": "That email address already has an account.",
    "name_invalid": "Names cannot contain control characters.",
    "metadata_not_object": "Metadata must be a JSON object.",
    "metadata_not_json": (
        "Metadata must be plain JSON text, nested at most 32 deep (no NaN or infinity)."
    ),
    "metadata_too_large": "Metadata must be at most {size}.",
    "metadata_forbidden": "Only unsafe_metadata can be changed here.",
    "signed_out": "You are signed out. Sign in and try again.",
    "token_template_unknown": "There is no token of that name.",
    # flows
    # Same message for unknown email and wrong password: no account enumeration.
    "invalid_credentials": "The email or password is incorrect.",
    "code_invalid": "That code is incorrect. Check the email and try again.",
    "code_expired": "That code has expired. Ask for a new one.",
    "code_format": "Enter the 6-digit code from the email.",
    "sign_up_closed": "Sign-up is closed.",
    "sign_up_address_refused": (
        "This email address cannot be used to sign up here. Use another one."
    ),
    "sign_up_closed_title": "Sign-up is closed",
    "sign_up_closed_text": "New accounts cannot be made here. If you have one, sign in.",
    "sign_up_invited_hint": "Your invitation is for this address.",
    "waitlist_title": "Join the waitlist",
    "waitlist_subtitle": "{app_name} is letting people in a few at a time. Leave your address.",
    "waitlist_submit": "Join the waitlist",
    "waitlist_joined": (
        "You are on the list. When your turn comes, an invitation will reach that address."
    ),
    "sign_up_invitation_only": (
        "Sign-up here is by invitation. Use the link in your invitation email."
    ),
    # organizations
    "org_not_found": "There is no such organization, or you are not in it.",
    "org_not_permitted": "Your role in this organization does not allow that.",
    "org_page_not_permitted": "Your role in this organization does not allow this page.",
    "org_slug_invalid": (
        "Use lower-case letters, digits and single hyphens, starting and ending with a "
        "letter or digit."
    ),
    "org_slug_taken": "That address is taken. Choose another.",
    "org_limit_reached": "You are in as many organizations as one account can be ({max}).",
    "org_full": "This organization has as many members and invitations as it can ({max}).",
    "org_user_unknown": "There is no such user.",
    "org_already_member": "That person is already a member.",
    "org_role_unknown": "Choose one of the roles listed.",
    "org_role_admin": "Admin",
    "org_role_member": "Member",
    "org_last_admin": (
        "An organization needs an admin: make someone else admin first, or delete it."
    ),
    "org_invitation_gone": (
        "This invitation is no longer valid: it was used, revoked or has expired. Ask for "
        "a new one."
    ),
    "org_invitation_other_address": (
        "This invitation is for {email}. Sign in with that address, or add it to your "
        "account and verify it, to accept."
    ),
    "org_domain_invalid": "Enter a domain name such as example.org.",
    "org_domain_public": "Addresses there belong to anyone: choose your organization's domain.",
    "org_domain_unverified": (
        "Add an address at {domain} to your account and verify it first: that proves the "
        "domain is yours."
    ),
    "org_domain_taken": "Another organization has that domain.",
    "org_domain_limit": Plural(
        "An organization can have at most {max} domain.",
        "An organization can have at most {max} domains.",
        "max",
    ),
    "rate_limited": "Too many attempts. Try again in {wait}.",
    # bot protection (flows/bot_check.py)
    "bot_suspected": "We could not tell that a person sent this form. Please send it again.",
    "bot_check_expired": "This form was open for too long. Please send it again.",
    "honeypot_label": "Leave this field empty",
    "csrf_failed": "Your form expired. Please try again.",
    "csrf_failed_insecure": (
        "This site is set up for https, but this page came over plain http, so your browser "
        "cannot keep its sign-in cookies. Open it with https:// instead."
    ),
    "attempt_missing": "Start again: that sign-up has expired.",
    "resend_too_soon": Plural(
        "Wait {seconds} second before asking for another code.",
        "Wait {seconds} seconds before asking for another code.",
        "seconds",
    ),
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
    "profile_heading": "Profile details",
    "email_addresses_heading": "Email addresses",
    "badge_primary": "Primary",
    "badge_unverified": "Unverified",
    "email_add": "Add email address",
    "email_add_title": "Add an email address",
    "email_add_subtitle": "We will send a code to the new address to make sure it is yours.",
    "email_add_submit": "Send code",
    "email_verify_title": "Verify your email address",
    "email_verify_subtitle": "Enter the 6-digit code we sent to {email}.",
    "email_verify": "Verify",
    "email_make_primary": "Make primary",
    "email_primary_title": "Make this your primary address?",
    "email_primary_text": (
        "Mail from {app_name} will go to {email}. We will tell your current primary address."
    ),
    "email_primary_submit": "Make primary",
    "email_remove": "Remove",
    "email_remove_title": "Remove this email address?",
    "email_remove_text": "{email} will be removed from your account; you cannot sign in with it.",
    "email_remove_submit": "Remove address",
    "email_added": "The email address was added.",
    "email_primary_changed": "Your primary email address was changed.",
    "email_removed": "The email address was removed.",
    "email_code_sent": "We sent a new code.",
    "email_already_yours": "That address is already on your account.",
    "email_already_pending": "That address is waiting for its code: verify it from the list.",
    "too_many_addresses": Plural(
        "You can have at most {max} email address. Remove one first.",
        "You can have at most {max} email addresses. Remove one first.",
        "max",
    ),
    "email_unavailable": "That address can no longer be added to your account.",
    "email_remove_primary": "Make another address primary before removing this one.",
    "sign_out_confirm": "Confirm that you want to sign out.",
    "email_label": "Email address",
    "password_label": "Password",
    "first_name_label": "First name",
    "last_name_label": "Last name",
    "code_label": "Verification code",
    "optional": "(optional)",
    "password_hint": Plural(
        "At least {min} character. Avoid common passwords.",
        "At least {min} characters. Avoid common passwords.",
        "min",
    ),
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
    "guidance_length": Plural("At least {min} character", "At least {min} characters", "min"),
    "guidance_hard_to_guess": "Hard to guess",
    "guidance_not_email": "Not your email address",
    "guidance_met": "done",
    "guidance_unmet": "not yet",
    "show_password": "Show",
    "hide_password": "Hide",
    # notices
    "code_sent": "We sent a 6-digit code to {email}.",
    "code_resent": "We sent a new code to {email}.",
    "profile_saved": "Your profile was saved.",
    "language_label": "Language",
    "language_hint": "The language of {app_name}'s pages and emails for you.",
    "language_saved": "Your language was saved.",
    "language_unknown": "Choose one of the languages listed.",
    # profile picture
    "avatar_heading": "Profile picture",
    "avatar_hint": "PNG, JPEG, GIF or WebP, up to 10 MB.",
    "avatar_choose": "Choose an image",
    "avatar_upload": "Upload",
    "avatar_remove": "Remove",
    "avatar_remove_label": "Remove profile picture",
    "avatar_updated": "Your profile picture was updated.",
    "avatar_removed": "Your profile picture was removed.",
    "image_required": "Choose an image to upload.",
    "image_too_large": "This file is too large: the limit is {max_mb} MB.",
    "image_format": "This file is not an image we accept: upload a PNG, JPEG, GIF or WebP.",
    "image_damaged": "This image could not be read: it may be damaged or incomplete.",
    "image_too_many_pixels": (
        "This image has too many pixels: at most {max_megapixels} megapixels."
    ),
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
    "method_passkey": "Use a passkey",
    # passkeys: signing in
    "passkey_sign_in": "Sign in with a passkey",
    "passkey_confirm": "Use a passkey",
    "passkey_waiting": "Waiting for your passkey…",
    "passkey_cancelled": "The passkey prompt was closed. Try again, or use another way.",
    "passkey_expired": "That took too long. Please try again.",
    "passkey_failed": "That passkey did not work. Please try again, or use another way.",
    "passkey_unknown": (
        "That passkey is not registered here. Sign in another way, then add it from your profile."
    ),
    "passkey_cloned": (
        "That passkey was refused: it may have been copied. Sign in another way and check "
        "your passkeys."
    ),
    "methods_title": "Use another method",
    "methods_subtitle": "Choose how to sign in to {app_name}.",
    "back": "Back",
    "or": "or",
    # social login
    "oauth_continue_with": "Continue with {provider}",
    "oauth_expired": (
        "That sign-in with {provider} took too long or was started in another browser. "
        "Please try again."
    ),
    "oauth_denied": "Signing in with {provider} was cancelled.",
    "oauth_unavailable": "{provider} could not be reached. Please try again in a moment.",
    "oauth_failed": "Signing in with {provider} did not work. Please try again or use another way.",
    "oauth_no_email": "{provider} did not share an email address, which an account here needs.",
    "oauth_email_unverified": (
        "{provider} has not verified your email address. Verify it there and try again, "
        "or sign in with your email here."
    ),
    "oauth_continue_title": "Continue signing in",
    "oauth_continue_subtitle": "{provider} sent you back. One moment…",
    "oauth_connected_elsewhere": (
        "That {provider} account is connected to another user here. Sign in with it "
        "there to disconnect it first."
    ),
    "connected_accounts_heading": "Connected accounts",
    "connected_accounts_none": "No accounts connected yet.",
    "oauth_connect": "Connect {provider}",
    "oauth_connect_title": "Connect {provider}?",
    "oauth_connect_text": (
        "You will sign in at {provider}. After that, your {provider} account signs you in here too."
    ),
    "oauth_connect_submit": "Continue to {provider}",
    "oauth_disconnect": "Disconnect",
    "oauth_disconnect_named": "Disconnect {provider} ({email})",
    "oauth_disconnect_title": "Disconnect {provider}?",
    "oauth_disconnect_text": "{email} at {provider} will no longer sign you in here.",
    "oauth_disconnect_submit": "Disconnect",
    "oauth_last_way": (
        "{provider} is the only way you have to sign in. Set a password first, then disconnect it."
    ),
    "account_connected": "The account was connected.",
    "account_disconnected": "The account was disconnected.",
    "activity_oauth_linked": "Connected {provider} for signing in",
    "activity_oauth_disconnected": "Disconnected {provider}",
    "activity_oauth_failed": "Signing in with {provider} did not work",
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
    "back_to_site": "Back to {app_name}",
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
    "recovery_codes_left": Plural("{count} of 10 codes left.", "{count} of 10 codes left."),
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
    # active devices
    "devices_heading": "Active devices",
    "this_device": "This device",
    "unknown_browser": "Unknown browser",
    "browser_on_os": "{browser} on {os}",
    # passkeys: the profile
    "passkeys_heading": "Passkeys",
    "passkeys_none": (
        "No passkeys yet. A passkey signs you in with your fingerprint, face or screen lock."
    ),
    "passkey_add": "Add a passkey",
    "passkey_add_title": "Add a passkey",
    "passkey_add_subtitle": (
        "Sign in with your fingerprint, face or screen lock instead of a password. The "
        "passkey is kept on this device or in your password manager."
    ),
    "passkey_add_submit": "Create a passkey",
    "passkey_add_unsupported": (
        "This browser cannot create passkeys. Turn on JavaScript, or use a browser or "
        "device that supports passkeys."
    ),
    "passkey_limit": Plural(
        "You have {max} passkey, the most an account can have. Remove it to add another.",
        "You have {max} passkeys, the most an account can have. Remove one to add another.",
        "max",
    ),
    "passkey_exists": "That passkey is already registered here.",
    "passkey_added_on": "Added {date}",
    "passkey_last_used": "Last used {when}",
    "passkey_never_used": "Not used yet",
    "passkey_synced": "Synced",
    "passkey_rename": "Rename",
    "passkey_rename_named": "Rename {name}",
    "passkey_rename_title": "Rename passkey",
    "passkey_rename_subtitle": "A name that tells you where this passkey is kept.",
    "passkey_name_label": "Name",
    "passkey_rename_submit": "Save",
    "passkey_name_required": "Enter a name for this passkey.",
    "passkey_name_too_long": Plural(
        "Use at most {max} character.", "Use at most {max} characters.", "max"
    ),
    "passkey_remove": "Remove",
    "passkey_remove_named": "Remove {name}",
    "passkey_remove_title": "Remove this passkey?",
    "passkey_remove_text": (
        "“{name}” will no longer sign you in here. You can also delete it from your device "
        "or password manager."
    ),
    "passkey_remove_submit": "Remove passkey",
    "passkey_last_way": "This passkey is the only way you have to sign in. Add another way first.",
    "passkey_added": "Passkey added.",
    "passkey_renamed": "Passkey renamed.",
    "passkey_removed": "Passkey removed.",
    "device_signed_in": "Signed in {date}",
    "device_last_active": "Last active {when}",
    "ago_now": "just now",
    "ago_minutes": Plural("{count} min ago", "{count} min ago"),
    "ago_hours": Plural("{count} h ago", "{count} h ago"),
    "ago_yesterday": "yesterday",
    "ago_days": Plural("{count} day ago", "{count} days ago"),
    "device_sign_out": "Sign out",
    "device_sign_out_named": "Sign out {device}",
    "devices_sign_out_others": "Sign out of all other devices",
    "devices_others_title": "Sign out of all other devices?",
    "devices_others_text": (
        "Every other browser and device signed in to your account is signed out within "
        "a minute. This one stays signed in."
    ),
    "devices_others_submit": "Sign out other devices",
    "device_signed_out": "That device was signed out.",
    "device_gone": "That device is no longer signed in.",
    "devices_signed_out": "Your other devices were signed out.",
    # security activity (a sentence per audit event: activity_<event, dots as underscores>)
    "activity_heading": "Security activity",
    "activity_title": "Security activity",
    "activity_subtitle": "Sign-ins and changes to your account, newest first. Times are in UTC.",
    "activity_empty": "No activity yet.",
    "activity_view_all": "View all activity",
    "activity_newer": "Newer",
    "activity_older": "Older",
    "activity_pages": "Activity pages",
    "activity_back": "Back to security",
    "activity_sign_in": "Signed in",
    "activity_sign_in_failed": "Failed sign-in attempt",
    "activity_sign_in_failed_repeated": Plural(
        "{count} more failed sign-in attempt", "{count} more failed sign-in attempts"
    ),
    "activity_reverify_failed": "Failed attempt to confirm it's you",
    "activity_reverify_failed_repeated": Plural(
        "{count} more failed attempt to confirm it's you",
        "{count} more failed attempts to confirm it's you",
    ),
    "activity_sign_out": "Signed out",
    "activity_sign_up_completed": "Created the account",
    "activity_user_created": "Account created",
    "activity_session_reverified": "Confirmed it's you",
    "activity_session_refresh_reused": "A copied session was refused and signed out",
    "activity_session_revoked": "Signed out another device",
    "activity_session_revoked_others": "Signed out all other devices",
    "activity_sessions_revoked": "Every device was signed out",
    "activity_password_changed": "Changed the password",
    "activity_password_set": "Set a password",
    "activity_password_reset_started": "Asked for a password reset",
    "activity_password_reset": "Reset the password",
    "activity_mfa_enabled": "Turned on two-step verification",
    "activity_mfa_disabled": "Turned off two-step verification",
    "activity_recovery_code_used": "Used a recovery code",
    "activity_recovery_codes_regenerated": "Generated new recovery codes",
    "activity_profile_updated": "Updated the profile",
    "activity_profile_image_updated": "Changed the profile picture",
    "activity_profile_image_removed": "Removed the profile picture",
    "activity_email_add_started": "Started adding an email address",
    "activity_email_added": "Added an email address",
    "activity_email_removed": "Removed an email address",
    "activity_email_primary_changed": "Changed the primary email address",
    "activity_user_banned": "The account was suspended",
    "activity_user_unbanned": "The account was restored",
    "activity_passkey_added": "Added a passkey ({name})",
    "activity_passkey_renamed": "Renamed a passkey ({name})",
    "activity_passkey_removed": "Removed a passkey ({name})",
    "activity_passkey_counter_regressed": "Refused a passkey that may have been copied ({name})",
    "activity_metadata_updated": "Account settings were updated",
    "activity_unknown": "Other account activity",
    "activity_email_verified": "An email address was verified",
    "activity_user_imported": "The account was brought over from another site",
    "activity_user_locked": "The account was locked",
    "activity_user_locked_by_admin": "The account was locked by an admin",
    "activity_user_unlocked": "The account was unlocked",
    "activity_user_unlocked_by_admin": "The account was unlocked by an admin",
    "activity_sign_in_throttle_cleared": "Sign-in attempts started afresh",
    "activity_sign_in_throttle_cleared_by_admin": "An admin let sign-in attempts start afresh",
    "activity_mfa_disabled_by_admin": "Two-step verification was reset by an admin",
    "activity_sessions_revoked_by_admin": "Every device was signed out by an admin",
    "activity_user_banned_by_admin": "The account was suspended by an admin",
    "activity_user_unbanned_by_admin": "The account was restored by an admin",
    "activity_metadata_updated_by_admin": "Account settings were updated by an admin",
    "activity_impersonation_started": "An admin of the site signed in as you",
    "activity_impersonation_ended": "The admin signed out of your account",
    "activity_organization_created": "Created an organization",
    "activity_organization_updated": "Changed an organization's profile",
    "activity_organization_deleted": "Deleted an organization",
    "activity_organization_member_added": "Joined an organization",
    "activity_organization_member_removed": "Removed from an organization",
    "activity_organization_left": "Left an organization",
    "activity_organization_role_changed": "Role in an organization changed",
    "activity_organization_invitation_sent": "Invited someone to an organization",
    "activity_organization_invitation_resent": "Sent an organization invitation again",
    "activity_organization_invitation_revoked": "Revoked an organization invitation",
    "activity_organization_invitation_accepted": "Accepted an invitation to an organization",
    "activity_organization_domain_added": "Added a verified domain to an organization",
    "activity_organization_domain_removed": "Removed a domain from an organization",
    "activity_organization_logo_updated": "Changed an organization's logo",
    "activity_organization_logo_removed": "Removed an organization's logo",
    # impersonation
    "impersonation_banner": "You are signed in as {email}, as an admin.",
    "impersonation_banner_anonymous": "You are signed in as another user, as an admin.",
    "impersonation_stop": "Stop impersonating",
    "impersonation_refused": (
        "Not while you are signed in as another user: only they can change their "
        "password, sign-in methods and email addresses."
    ),
    "impersonation_read_only": (
        "Signed in as this user, you can look but not change their password, sign-in "
        "methods, devices or email addresses."
    ),
    "impersonate_self": "You are signed in as yourself already.",
    "impersonate_gone": "That user cannot be signed in as: they are banned or gone.",
    # the admin console
    "admin_users_title": "Users",
    "admin_users_subtitle": "Everyone with an account, newest first.",
    "admin_nav": "Admin console",
    "admin_nav_users": "Users",
    "admin_nav_webhooks": "Webhooks",
    "admin_nav_invitations": "Invitations",
    "admin_invitations_title": "Invitations",
    "admin_invitations_subtitle_open": "Anyone may sign up; an invitation is a friendly way in.",
    "admin_invitations_subtitle_invite": "Sign-up is by invitation: invite people here.",
    "admin_invitations_subtitle_waitlist": (
        "Sign-up is by waitlist: let people in, or invite them directly."
    ),
    "admin_invitations_subtitle_closed": (
        "Sign-up is closed: invitations cannot be used until it opens."
    ),
    "admin_invite_heading": "Invite to sign up",
    "admin_invite_hint": "They get a link to create an account with this address.",
    "admin_invite_submit": "Send invitation",
    "admin_waitlist_heading": "Waitlist",
    "admin_waitlist_since": "Waiting since {date}",
    "admin_waitlist_approve": "Let in",
    "admin_waitlist_approve_named": "Let in {email}",
    "admin_waitlist_empty": "Nobody is waiting.",
    "admin_done_invited": "Invitation sent.",
    "admin_done_approved": "Let in: an invitation is on its way.",
    "admin_search_label": "Search by email, name or user ID",
    "admin_filters": "Show only",
    "admin_filter_banned": "Banned",
    "admin_filter_mfa": "Two-step on",
    "admin_filter_unverified": "Unverified email",
    "admin_sort": "Order",
    "admin_sort_newest": "Newest first",
    "admin_sort_oldest": "Oldest first",
    "admin_search_submit": "Search",
    "admin_users_caption": "Users",
    "admin_col_user": "User",
    "admin_col_status": "Status",
    "admin_col_joined": "Joined",
    "admin_badge_banned": "Banned",
    "admin_badge_mfa": "Two-step",
    "admin_badge_unverified": "Unverified",
    "admin_no_users": "No users match.",
    "admin_pages": "Pages",
    "admin_first_page": "First page",
    "admin_next_page": "Next",
    "admin_user_subtitle": "User ID {id}",
    "admin_user_heading": "Account",
    "admin_user_joined": "Joined {date}",
    "admin_action_ban": "Ban",
    "admin_action_unban": "Lift the ban",
    "admin_action_revoke_sessions": "Sign out everywhere",
    "admin_action_delete": "Delete user",
    "admin_action_impersonate": "Sign in as this user",
    "admin_action_verify": "Mark verified",
    "admin_action_verify_named": "Mark {email} verified",
    "admin_action_reset_mfa": "Reset two-step",
    "admin_action_save_metadata": "Save metadata",
    "admin_methods_heading": "Sign-in methods",
    "admin_two_step": "Two-step verification",
    "admin_on": "On",
    "admin_off": "Off",
    "admin_recovery_codes_left": "Recovery codes left: {count}",
    "admin_passkeys": "Passkeys: {count}",
    "admin_connected": "Connected: {provider}",
    "admin_no_devices": "Not signed in anywhere.",
    "admin_metadata_heading": "Metadata",
    "admin_public_metadata": "Public metadata",
    "admin_public_metadata_hint": "A JSON object. In the session token; the user can read it.",
    "admin_private_metadata": "Private metadata",
    "admin_private_metadata_hint": "A JSON object. For your servers only.",
    "admin_unsafe_metadata": "Unsafe metadata",
    "admin_unsafe_metadata_hint": "A JSON object the user can change themselves.",
    "admin_back": "Back to users",
    "admin_not_yourself": "You cannot do that to your own account here.",
    "admin_done_banned": "The user is banned and signed out everywhere.",
    "admin_done_unbanned": "The ban is lifted: the user can sign in again.",
    "admin_done_sessions_revoked": "The user is signed out everywhere.",
    "admin_done_mfa_reset": "Two-step verification is reset and the user was told.",
    "admin_done_address_verified": "The address is marked verified.",
    "admin_done_metadata_saved": "Metadata saved.",
    "admin_done_nothing": "Nothing needed changing.",
    "admin_done_deleted": "The user and everything of theirs is deleted.",
    "admin_done_replayed": "The event is queued to be sent again.",
    "admin_done_reset_sent": "A password reset code and link were mailed to the user.",
    "admin_done_created": "The user is created, with their address verified.",
    "admin_action_send_reset": "Send a password reset",
    "admin_action_lock": "Lock",
    "admin_action_unlock": "Unlock",
    "admin_action_forget_failures": "Forget failed sign-ins",
    "admin_badge_locked": "Locked",
    "admin_done_locked": (
        "The account is locked and signed out everywhere until an admin unlocks it."
    ),
    "admin_done_unlocked": "The account is unlocked: the user can sign in again.",
    "admin_done_failures_forgotten": (
        "Failed sign-in attempts are forgotten: the user can try again at once."
    ),
    "admin_action_create": "Create user",
    "admin_new_user_title": "Create a user",
    "admin_new_user_subtitle": (
        "They can sign in at once with this password. You vouch for the address: no "
        "code is mailed to it."
    ),
    "admin_create_submit": "Create user",
    "admin_webhooks_title": "Webhooks",
    "admin_webhooks_subtitle": "What was sent to your endpoints, newest first. Endpoints: {count}.",
    "admin_webhook_states": "Delivery states",
    "admin_webhook_all": "All",
    "admin_webhook_pending": "Pending",
    "admin_webhook_delivered": "Delivered",
    "admin_webhook_failed": "Failed",
    "admin_webhooks_caption": "Webhook deliveries",
    "admin_col_event": "Event",
    "admin_col_when": "When",
    "admin_col_actions": "Actions",
    "admin_webhook_replay_of": "replay of {seq}",
    "admin_webhook_attempts": "Attempts: {count}",
    "admin_webhook_replay": "Send again",
    "admin_webhook_replay_named": "Send {event} ({seq}) again",
    "admin_no_deliveries": "Nothing sent yet.",
    # deleting the account
    "delete_account_heading": "Delete account",
    "delete_account_row_title": "Delete your account",
    "delete_account_row_text": (
        "Remove your account and everything of yours. This cannot be undone."
    ),
    "delete_account": "Delete account",
    "delete_account_title": "Delete account",
    "delete_account_subtitle": (
        "Your account and everything of yours on {app_name} (sign-in methods, devices, "
        "settings) are deleted for good. This cannot be undone."
    ),
    # Typed by the user to confirm (in any case).
    "delete_account_phrase": "Delete account",
    "delete_account_confirm_label": "Type “{phrase}” to confirm",
    "delete_account_mismatch": "Type “{phrase}” exactly as shown.",
    "delete_account_submit": "Delete my account",
    "account_deleted": "Your account was deleted.",
    # organizations: the list and the switcher
    "orgs_title": "Organizations",
    "orgs_subtitle": "Choose where you work: your own account or a team.",
    "orgs_personal": "Personal account",
    "orgs_active": "Active",
    "orgs_switch": "Switch",
    "orgs_switch_named": "Switch to {name}",
    "orgs_none": "You are not in any organization yet.",
    "orgs_invitations_heading": "Invitations",
    "orgs_invited_as": "Invited as {role} ({email})",
    "orgs_join": "Join",
    "orgs_join_named": "Join {name}",
    "orgs_create": "Create organization",
    "orgs_manage": "Manage organization",
    "orgs_open_switcher": "Switch organization",
    # organizations: creating one
    "org_create_title": "Create an organization",
    "org_create_subtitle": "Invite your team and work together. You will be its admin.",
    "org_name_label": "Name",
    "org_slug_label": "Address",
    "org_slug_hint": (
        "Lower-case letters, digits and hyphens. Leave it empty to make one from the name."
    ),
    "org_slug_hint_edit": (
        "Lower-case letters, digits and hyphens. Links to the old address stop working."
    ),
    "org_create_submit": "Create organization",
    # organizations: the profile
    "org_profile_subtitle": "You are {role} here.",
    "org_general_heading": "General",
    "org_members_heading": "Members",
    "org_members_search": "Search members by name or email",
    "org_members_pages": "Members, more pages",
    "org_previous": "Previous",
    "org_next": "Next",
    "org_you": "You",
    "org_joined": "Joined {date}",
    "org_role_label": "Role",
    "org_role_of": "Role of {name}",
    "org_change_role": "Change role",
    "org_change_role_named": "Change role for {name}",
    "org_remove": "Remove",
    "org_remove_named": "Remove {name}",
    "org_no_members_found": "No member matches that search.",
    "org_invitations_heading": "Invitations",
    "org_invite_submit": "Send invitation",
    "org_invitation_expired": "Expired",
    "org_invited_on": "Invited {date}",
    "org_resend": "Resend",
    "org_resend_named": "Resend the invitation to {email}",
    "org_revoke": "Revoke",
    "org_revoke_named": "Revoke the invitation to {email}",
    "org_no_invitations": "No invitations are waiting.",
    "org_domains_heading": "Verified domains",
    "org_domains_hint": (
        "People who sign up or verify an address at one of these domains are invited, or "
        "join at once."
    ),
    "org_domain_label": "Domain",
    "org_domain_field_hint": "You need a verified address at it, such as you@example.org.",
    "org_domain_verified": "Verified",
    "org_domain_submit": "Add domain",
    "org_remove_domain_named": "Remove the domain {domain}",
    "org_enrollment_label": "People with an address there",
    "org_enrollment_invite": "Get an invitation to accept",
    "org_enrollment_join": "Join as members at once",
    "org_danger_heading": "Leave or delete",
    "org_leave_title": "Leave organization",
    "org_leave_text": "You lose access to it until someone invites you again.",
    "org_leave": "Leave",
    "org_leave_named": "Leave {name}",
    "org_delete_title": "Delete organization",
    "org_delete_text": "Its members, invitations and domains go with it. This cannot be undone.",
    "org_delete": "Delete",
    "org_delete_named": "Delete {name}",
    "org_back": "Back to your organizations",
    # organizations: the emailed invitation
    "org_invitation_title": "Join {name}",
    "org_invitation_subtitle": "You are invited to join {name} as {role}.",
    "org_invitation_gone_title": "Invitation not valid",
    "org_invitation_sign_in": "Sign in or create an account with {email} to accept.",
    "org_invitation_accept_text": "You will join as {email}.",
    "org_invitation_accept": "Join {name}",
    "org_invitation_add_address": "Add that address to your account",
    # organizations: what an action did
    "org_done_saved": "Saved.",
    "org_done_invited": "Invitation sent.",
    "org_done_revoked": "Invitation revoked.",
    "org_done_resent": "Invitation sent again.",
    "org_done_role": "Role changed.",
    "org_done_removed": "Member removed.",
    "org_done_domain_added": "Domain added.",
    "org_done_domain_removed": "Domain removed.",
    "org_done_logo": "Logo updated.",
    "org_done_logo_removed": "Logo removed.",
    "org_logo_label": "Logo",
    "org_logo_submit": "Upload logo",
    "org_logo_remove": "Remove logo",
    "org_done_joined": "Welcome! You joined the organization.",
    "org_done_created": "Organization created.",
    "org_done_left": "You left the organization.",
    "org_done_deleted": "Organization deleted.",
    "org_done_nothing": "Nothing needed changing.",
    # error pages (a status of its own: a title and a sentence)
    "error_title_400": "Bad request",
    "error_text_400": "The request could not be read. Go back and try again.",
    "error_title_403": "Forbidden",
    "error_text_403": "You cannot open this page.",
    "error_title_404": "Page not found",
    "error_text_404": "There is nothing at this address. Check the link, or go back.",
    "error_title_405": "Method not allowed",
    "error_text_405": "This address does not take that kind of request.",
    "error_title_408": "Request timeout",
    "error_text_408": "The request took too long to arrive. Try again.",
    "error_title_413": "Request too large",
    "error_text_413": "What was sent is too large for this page.",
    "error_title_415": "Unsupported form",
    "error_text_415": (
        "The form was sent in a way this page does not accept. Reload it and try again."
    ),
    "error_title_429": "Too many requests",
    "error_text_429": "Too many attempts. Wait a moment, then try again.",
    "error_title_500": "Something went wrong",
    "error_title_503": "Service unavailable",
    "error_title_other": "Error",
    # zxcvbn's feedback, the {advice} of password_too_weak
    **PASSWORD_ADVICE,
    **EMAIL_MESSAGES,
}


class Messages:
    """
    The message table in the language of the moment (authkit.i18n.current_locale): the
    host's overrides for that language, then its overrides for every language, then the
    language's catalog, then English. `t("code", **fields)` in the templates.
    """

    def __init__(
        self,
        overrides: Mapping[str, str | Plural | Mapping[str, str | Plural]] | None = None,
        *,
        catalogs: CatalogSource | None = None,
    ) -> None:
        flat: dict[str, str | Plural] = {}
        by_language: dict[str, dict[str, str | Plural]] = {}
        for key, value in (overrides or {}).items():
            if isinstance(value, Mapping):
                by_language.setdefault(normalize_locale(key), {}).update(value)
            else:
                flat[key] = value
        self._english: dict[str, Sentence] = {**MESSAGES, **flat}
        self._flat = flat
        self._by_language = by_language
        self._catalogs = catalogs if catalogs is not None else CatalogSource()
        self._tables: dict[str, _Table] = {}

    @property
    def locale(self) -> str:
        """The language sentences are in now (`pt_BR`)."""
        return current_locale()

    def __contains__(self, code: object) -> bool:
        """Whether there is a sentence for `code` (an audit event's, say)."""
        return code in self._english

    def __call__(self, code: str, /, **params: object) -> str:
        locale = current_locale()
        table = self._table(locale)
        sentence = table.sentences.get(code)
        if sentence is None:
            sentence = table.sentences["server_error"]
        text = sentence if isinstance(sentence, str) else table.choose(sentence, params)
        for name, value in params.items():
            if isinstance(value, Phrase):  # a field that is a sentence itself
                params[name] = self(value.code)
            elif type(value) is int and not -1000 < value < 1000:
                # 10,000 / 10.000 / 10 000: grouped as the language writes numbers.
                params[name] = format_decimal(value, locale=locale)
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text

    def preload(self, locales: Iterable[str]) -> None:
        """Read the catalogs of `locales` now (blocking: call it in a thread)."""
        for locale in locales:
            self._table(locale)

    def _table(self, locale: str) -> _Table:
        table = self._tables.get(locale)
        if table is None:
            table = self._tables[locale] = self._build(locale)
        return table

    def _build(self, locale: str) -> _Table:
        catalog = self._catalogs.get(locale)
        sentences: dict[str, Sentence] = dict(MESSAGES)
        if catalog is not None:
            sentences.update(catalog.sentences)
        sentences.update(self._flat)
        language = locale.split("_", 1)[0]
        if language != locale:
            sentences.update(self._by_language.get(language, {}))
        sentences.update(self._by_language.get(locale, {}))
        return _Table(sentences, catalog.plural if catalog is not None else _english_plural)


def _english_plural(n: int) -> int:
    return 0 if n == 1 else 1


class _Table:
    """One language's sentences and its rule for choosing a plural form."""

    __slots__ = ("plural", "sentences")

    def __init__(self, sentences: dict[str, Sentence], plural: Callable[[int], int]) -> None:
        self.sentences = sentences
        self.plural = plural

    def choose(self, sentence: Plural | Forms, params: Mapping[str, object]) -> str:
        if isinstance(sentence, Plural):
            n = params.get(sentence.number)
            # An override's Plural is English-shaped: singular exactly for one.
            return sentence.english(n if isinstance(n, int) else 2)
        n = params.get(sentence.number)
        forms = sentence.forms
        index = self.plural(n) if isinstance(n, int) else len(forms) - 1
        return forms[min(max(index, 0), len(forms) - 1)]
