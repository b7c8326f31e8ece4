"""
The sentences of the emails authkit sends, keyed by a code (`email_<template>_<part>`), in
English: part of the message table (authkit.messages), so they are translated, and
overridden by hosts, like every other sentence.

The HTML and plain-text versions of an email share a code wherever they say the same
sentence. Where the plain-text version says it differently (a link to open instead of a
button, the address named because it has no footer, straight quotes), its sentence has
the same code with `_text` at the end. Sentences are plain text, never HTML: the
templates escape them.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..i18n.plural import Plural

__all__ = ["EMAIL_MESSAGES"]

EMAIL_MESSAGES: Mapping[str, str | Plural] = {
    # shared by every email
    "email_hello": "Hello,",
    "email_sent_to": "This email was sent to {email} by {app_name}.",
    "email_button_fallback": "If the button does not work, copy this link into your browser:",
    # account_deleted
    "email_account_deleted_subject": "Your {app_name} account was deleted",
    "email_account_deleted_title": "Your account was deleted",
    "email_account_deleted_preheader": "Your account and everything of yours were deleted.",
    "email_account_deleted_intro": (
        "Your {app_name} account ({email}) was just deleted, with everything of yours: your "
        "sign-in methods, devices and settings. Its sessions on every device have ended."
    ),
    "email_account_deleted_sign_up": (
        "You can create a new account with this address at any time:"
    ),
    "email_account_deleted_button": "Sign up",
    "email_account_deleted_not_you": (
        "If you did not delete your account, someone else had access to it. Contact "
        "{app_name} to tell them."
    ),
    # email_add_code
    "email_email_add_code_subject": "Verify your email for {app_name}",
    "email_email_add_code_title": "Verify your email",
    "email_email_add_code_preheader": Plural(
        "Your verification code is inside. It is valid for {minutes} minute.",
        "Your verification code is inside. It is valid for {minutes} minutes.",
        "minutes",
    ),
    "email_email_add_code_intro": ("Use this code to add this address to your {app_name} account:"),
    "email_email_add_code_intro_text": (
        "Use this code to add this address ({email}) to your {app_name} account:"
    ),
    "email_email_add_code_validity": Plural(
        "The code is valid for {minutes} minute. Enter it on the page where you added the "
        "address. Do not share it with anyone.",
        "The code is valid for {minutes} minutes. Enter it on the page where you added the "
        "address. Do not share it with anyone.",
        "minutes",
    ),
    "email_email_add_code_not_you": (
        "If you did not try to add this address to an account, you can ignore this email: "
        "nothing happens without the code."
    ),
    # email_add_existing
    "email_email_add_existing_subject": "Your address already has a {app_name} account",
    "email_email_add_existing_title": "This address already has an account",
    "email_email_add_existing_preheader": ("Someone tried to add your address to another account."),
    "email_email_add_existing_intro": (
        "Someone, perhaps you, tried to add {email} to another {app_name} account. This "
        "address already belongs to your account, so it was not added."
    ),
    "email_email_add_existing_sign_in": "If it was you, sign in with this address instead:",
    "email_email_add_existing_button": "Sign in",
    "email_email_add_existing_not_you": (
        "If it was not you, you can ignore this email. Your account has not changed."
    ),
    # email_primary_changed
    "email_email_primary_changed_subject": (
        "Your primary email address for {app_name} was changed"
    ),
    "email_email_primary_changed_title": "Your primary email address was changed",
    "email_email_primary_changed_preheader": ("Mail from {app_name} now goes to another address."),
    "email_email_primary_changed_intro": (
        "The primary email address of your {app_name} account was changed from {email} to "
        "{new_email}. Mail about your account now goes there."
    ),
    "email_email_primary_changed_if_you": ("If you made this change, there is nothing else to do."),
    "email_email_primary_changed_not_you": (
        "If you did not, someone else may have access to your account. Reset your password now:"
    ),
    "email_email_primary_changed_button": "Reset password",
    # mfa_disabled
    "email_mfa_disabled_subject": "Two-step verification is off for your {app_name} account",
    "email_mfa_disabled_title": "Two-step verification is off",
    "email_mfa_disabled_preheader": (
        "Signing in no longer asks for a code from your authenticator app."
    ),
    "email_mfa_disabled_intro": (
        "Two-step verification was just turned off for your {app_name} account ({email}). "
        "Signing in no longer asks for a code from your authenticator app, and your "
        "recovery codes no longer work."
    ),
    "email_mfa_disabled_not_you": (
        "If you did not do this, someone else may have access to your account. Reset your "
        "password now, then turn two-step verification on again:"
    ),
    "email_mfa_disabled_button": "Reset password",
    # mfa_enabled
    "email_mfa_enabled_subject": "Two-step verification is on for your {app_name} account",
    "email_mfa_enabled_title": "Two-step verification is on",
    "email_mfa_enabled_preheader": (
        "Signing in now also asks for a code from your authenticator app."
    ),
    "email_mfa_enabled_intro": (
        "Two-step verification was just turned on for your {app_name} account ({email}). "
        "From now on, signing in also asks for a code from your authenticator app."
    ),
    "email_mfa_enabled_recovery_codes": (
        "Keep your recovery codes somewhere safe: each one signs you in once if you lose the app."
    ),
    "email_mfa_enabled_not_you": (
        "If you did not do this, someone else may have access to your account. Reset your "
        "password now:"
    ),
    "email_mfa_enabled_button": "Reset password",
    # org_invitation (`_anonymous`: when the invitation has no inviter's name)
    "email_org_invitation_subject": (
        "{inviter_name} invited you to join {organization_name} on {app_name}"
    ),
    "email_org_invitation_subject_anonymous": (
        "You are invited to join {organization_name} on {app_name}"
    ),
    "email_org_invitation_title": "Join {organization_name}",
    "email_org_invitation_preheader": (
        "{inviter_name} invited you to {organization_name} on {app_name}."
    ),
    "email_org_invitation_preheader_anonymous": (
        "Someone invited you to {organization_name} on {app_name}."
    ),
    "email_org_invitation_intro": (
        "{inviter_name} invited you to join {organization_name} on {app_name} as {role_name}."
    ),
    "email_org_invitation_intro_anonymous": (
        "You are invited to join {organization_name} on {app_name} as {role_name}."
    ),
    "email_org_invitation_button": "Accept the invitation",
    "email_org_invitation_button_text": "Open this link to accept the invitation:",
    "email_org_invitation_terms": Plural(
        "The invitation is for {email}: sign in with that address, or create an account "
        "with it, to accept. It is valid for {days} day.",
        "The invitation is for {email}: sign in with that address, or create an account "
        "with it, to accept. It is valid for {days} days.",
        "days",
    ),
    "email_org_invitation_not_expected": (
        "If you were not expecting it, you can ignore this email."
    ),
    # org_removed
    "email_org_removed_subject": "You were removed from {organization_name} on {app_name}",
    "email_org_removed_title": "You were removed from {organization_name}",
    "email_org_removed_preheader": "An admin removed you from {organization_name}.",
    "email_org_removed_intro": (
        "An admin of {organization_name} removed your account {email} from it on "
        "{app_name}. Your account itself is unchanged, and you are still in your other "
        "organizations."
    ),
    "email_org_removed_button": "Open your organizations",
    "email_org_removed_button_text": "Your organizations:",
    "email_org_removed_wrong": (
        "If this looks wrong, ask an admin of {organization_name} to invite you again."
    ),
    # org_role_changed
    "email_org_role_changed_subject": (
        "Your role in {organization_name} on {app_name} is now {role_name}"
    ),
    "email_org_role_changed_title": "Your role in {organization_name} changed",
    "email_org_role_changed_preheader": "You are now {role_name} in {organization_name}.",
    "email_org_role_changed_intro": (
        "Your account {email} is now {role_name} in {organization_name} on {app_name}. What "
        "you can see and do there changes with it."
    ),
    "email_org_role_changed_button": "Open your organizations",
    "email_org_role_changed_button_text": "Your organizations:",
    "email_org_role_changed_wrong": "If this looks wrong, ask an admin of {organization_name}.",
    # passkey_added
    "email_passkey_added_subject": "A passkey was added to your {app_name} account",
    "email_passkey_added_title": "A passkey was added",
    "email_passkey_added_preheader": "A new passkey can now sign in to your account.",
    "email_passkey_added_intro": (
        "A passkey named “{passkey}” was just added to your {app_name} account ({email}). "
        "It can now sign you in without a password."
    ),
    "email_passkey_added_intro_text": (
        'A passkey named "{passkey}" was just added to your {app_name} account ({email}). '
        "It can now sign you in without a password."
    ),
    "email_passkey_added_manage": (
        # The HTML email's typographic apostrophe; the plain-text one (below) keeps ASCII.
        "You can rename or remove your passkeys from your account’s security page:"  # noqa: RUF001
    ),
    "email_passkey_added_manage_text": (
        "You can rename or remove your passkeys from your account's security page:"
    ),
    "email_passkey_added_button": "Review your passkeys",
    "email_passkey_added_not_you": (
        "If you did not add it, someone else may have access to your account: remove the "
        "passkey there and reset your password ({reset_url})."
    ),
    "email_passkey_added_not_you_text": (
        "If you did not add it, someone else may have access to your account: remove the "
        "passkey there and reset your password:"
    ),
    # passkey_removed
    "email_passkey_removed_subject": "A passkey was removed from your {app_name} account",
    "email_passkey_removed_title": "A passkey was removed",
    "email_passkey_removed_preheader": "A passkey no longer signs in to your account.",
    "email_passkey_removed_intro": (
        "The passkey named “{passkey}” was just removed from your {app_name} account "
        "({email}). It no longer signs you in here; you may also delete it from your device "
        "or password manager."
    ),
    "email_passkey_removed_intro_text": (
        'The passkey named "{passkey}" was just removed from your {app_name} account '
        "({email}). It no longer signs you in here; you may also delete it from your device "
        "or password manager."
    ),
    "email_passkey_removed_not_you": (
        "If you did not remove it, someone else may have access to your account. Reset your "
        "password now:"
    ),
    "email_passkey_removed_button": "Reset password",
    # password_changed
    "email_password_changed_subject": "Your {app_name} password was changed",
    "email_password_changed_title": "Your password was changed",
    "email_password_changed_preheader": "The password of your account was just changed.",
    "email_password_changed_intro": (
        "The password of your {app_name} account ({email}) was just changed."
    ),
    "email_password_changed_if_you": "If you made this change, there is nothing else to do.",
    "email_password_changed_not_you": (
        "If you did not, someone else may have access to your account. Reset your password now:"
    ),
    "email_password_changed_button": "Reset password",
    # password_reset_code
    "email_password_reset_code_subject": "Reset your {app_name} password",
    "email_password_reset_code_title": "Reset your password",
    "email_password_reset_code_preheader": Plural(
        "Your password reset code is inside. It is valid for {minutes} minute.",
        "Your password reset code is inside. It is valid for {minutes} minutes.",
        "minutes",
    ),
    "email_password_reset_code_intro": (
        "Someone asked to reset the password of the {app_name} account for {email}. To "
        "choose a new password, enter this code:"
    ),
    "email_password_reset_code_validity": Plural(
        "The code is valid for {minutes} minute and works once. Do not share it with anyone.",
        "The code is valid for {minutes} minutes and works once. Do not share it with anyone.",
        "minutes",
    ),
    "email_password_reset_code_link": "Or use this link (it also works once):",
    "email_password_reset_code_link_text": "Or open this link (it also works once):",
    "email_password_reset_code_button": "Choose a new password",
    "email_password_reset_code_not_you": (
        "If you did not ask for this, you can ignore this email: your password stays the same."
    ),
    # recovery_code_used
    "email_recovery_code_used_subject": "A recovery code was used to sign in to {app_name}",
    "email_recovery_code_used_title": "A recovery code was used",
    "email_recovery_code_used_preheader": (
        "A recovery code was just used to sign in to your account."
    ),
    "email_recovery_code_used_intro": (
        "A recovery code was just used to sign in to your {app_name} account ({email})."
    ),
    "email_recovery_code_used_left": Plural(
        "{left} code is left.", "{left} codes are left.", "left"
    ),
    "email_recovery_code_used_new_set": "You can make a new set on your security page:",
    "email_recovery_code_used_button": "Open security settings",
    "email_recovery_code_used_not_you": (
        "If this was not you, someone has your password and a recovery code. Reset your "
        "password now:"
    ),
    # sign_in_code
    "email_sign_in_code_subject": "Your {app_name} sign-in code",
    "email_sign_in_code_title": "Your sign-in code",
    "email_sign_in_code_preheader": Plural(
        "Your sign-in code is inside. It is valid for {minutes} minute.",
        "Your sign-in code is inside. It is valid for {minutes} minutes.",
        "minutes",
    ),
    "email_sign_in_code_intro": "Use this code to sign in to {app_name}:",
    "email_sign_in_code_intro_text": "Use this code to sign in to {app_name} as {email}:",
    "email_sign_in_code_validity": Plural(
        "The code is valid for {minutes} minute and works once. Enter it on the page where "
        "you asked for it. Do not share it with anyone.",
        "The code is valid for {minutes} minutes and works once. Enter it on the page where "
        "you asked for it. Do not share it with anyone.",
        "minutes",
    ),
    "email_sign_in_code_not_you": (
        "If you did not try to sign in, you can ignore this email: nobody can sign in "
        "without the code."
    ),
    # sign_in_link
    "email_sign_in_link_subject": "Sign in to {app_name}",
    "email_sign_in_link_title": "Sign in to {app_name}",
    "email_sign_in_link_preheader": Plural(
        "Your sign-in link is inside. It is valid for {minutes} minute.",
        "Your sign-in link is inside. It is valid for {minutes} minutes.",
        "minutes",
    ),
    "email_sign_in_link_intro": "Use this button to sign in to {app_name} as {email}:",
    "email_sign_in_link_intro_text": "Open this link to sign in to {app_name} as {email}:",
    "email_sign_in_link_button": "Sign in",
    "email_sign_in_link_validity": Plural(
        "The link is valid for {minutes} minute and works once. Do not forward this email: "
        "whoever has the link can sign in as you.",
        "The link is valid for {minutes} minutes and works once. Do not forward this "
        "email: whoever has the link can sign in as you.",
        "minutes",
    ),
    "email_sign_in_link_not_you": "If you did not try to sign in, you can ignore this email.",
    # sign_up_code
    "email_sign_up_code_subject": "Verify your email for {app_name}",
    "email_sign_up_code_title": "Verify your email",
    "email_sign_up_code_preheader": Plural(
        "Your verification code is inside. It is valid for {minutes} minute.",
        "Your verification code is inside. It is valid for {minutes} minutes.",
        "minutes",
    ),
    "email_sign_up_code_intro": "Use this code to verify your email address for {app_name}:",
    "email_sign_up_code_intro_text": (
        "Use this code to verify your email address ({email}) for {app_name}:"
    ),
    "email_sign_up_code_validity": Plural(
        "The code is valid for {minutes} minute. Enter it on the page where you signed up. "
        "Do not share it with anyone.",
        "The code is valid for {minutes} minutes. Enter it on the page where you signed "
        "up. Do not share it with anyone.",
        "minutes",
    ),
    "email_sign_up_code_not_you": (
        "If you did not try to create an account, you can ignore this email: nothing "
        "happens without the code."
    ),
    # sign_up_existing
    "email_sign_up_existing_subject": "You already have an account with {app_name}",
    "email_sign_up_existing_title": "You already have an account",
    "email_sign_up_existing_preheader": (
        "Someone tried to create a new account with your email address."
    ),
    "email_sign_up_existing_intro": (
        "Someone, perhaps you, tried to create a new {app_name} account with {email}. This "
        "address already has an account, so no new account was created."
    ),
    "email_sign_up_existing_sign_in": "If it was you, sign in instead:",
    "email_sign_up_existing_sign_in_button": "Sign in",
    "email_sign_up_existing_reset": "Forgot your password? Choose a new one:",
    "email_sign_up_existing_reset_text": "Forgot your password? Choose a new one here:",
    "email_sign_up_existing_reset_button": "Reset password",
    "email_sign_up_existing_not_you": (
        "If it was not you, you can ignore this email. Your account has not changed."
    ),
    # sign_up_invitation
    "email_sign_up_invitation_subject": "You are invited to {app_name}",
    "email_sign_up_invitation_title": "You are invited to {app_name}",
    "email_sign_up_invitation_preheader": ("Create your {app_name} account with this invitation."),
    "email_sign_up_invitation_intro": (
        "You are invited to create an account on {app_name} with {email}."
    ),
    "email_sign_up_invitation_button": "Create your account",
    "email_sign_up_invitation_button_text": "Open this link to create your account:",
    "email_sign_up_invitation_terms": Plural(
        "The invitation is valid for {days} day. You will get a code at this address to "
        "confirm it is yours.",
        "The invitation is valid for {days} days. You will get a code at this address to "
        "confirm it is yours.",
        "days",
    ),
    "email_sign_up_invitation_not_expected": (
        "If you were not expecting it, you can ignore this email."
    ),
}
