"""
The HTML forms (WTForms): field names from the design and a hard length limit on every
field, so oversized input is refused before any rule or hash sees it. The rules
themselves live in the flows.
"""

from __future__ import annotations

from wtforms import (
    BooleanField,
    FileField,
    Form,
    HiddenField,
    PasswordField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length

from .passkey_names import NAME_MAX_LENGTH as PASSKEY_NAME_MAX_LENGTH
from .store.models import (
    EMAIL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    ORG_NAME_MAX_LENGTH,
    ORG_SLUG_MAX_LENGTH,
    ROLE_MAX_LENGTH,
)

__all__ = [
    "AddEmailForm",
    "AdminAddressForm",
    "AdminMetadataForm",
    "AvatarForm",
    "CodeForm",
    "ConfirmForm",
    "DeleteAccountForm",
    "FactorForm",
    "ForgotPasswordForm",
    "InvitationIdForm",
    "InviteForm",
    "LinkForm",
    "MemberForm",
    "MemberRoleForm",
    "OrgDomainForm",
    "OrgDomainIdForm",
    "OrganizationForm",
    "PasskeyNameForm",
    "ProfileForm",
    "ResetPasswordForm",
    "ReverifyForm",
    "SignInForm",
    "SignOutForm",
    "SignUpForm",
    "SwitchOrganizationForm",
    "WaitlistForm",
]

#: Generous bound for any password field; the configured maximum is checked by the flow.
PASSWORD_FIELD_LIMIT = 4096
REDIRECT_LIMIT = 2048
#: Longer than any link token we mail (the flow checks the exact token).
LINK_TOKEN_FIELD_LIMIT = 200
#: A whole mailed link, pasted: the site's base URL, the path and the token.
LINK_FIELD_LIMIT = 2048
METHOD_LIMIT = 32


class _Base(Form):
    csrf_token = HiddenField(validators=[Length(max=300)])
    redirect_url = HiddenField(validators=[Length(max=REDIRECT_LIMIT)])


class BotCheckFields(_Base):
    """The fields of a form with bot protection (flows/bot_check.py)."""

    #: The ALTCHA widget's hidden field (its default name); the flow caps its length.
    altcha = HiddenField()
    #: The honeypot, hidden from people: bots fill in a "website".
    website = StringField("Website")


class SignInForm(BotCheckFields):
    email = StringField("Email address", validators=[Length(max=EMAIL_MAX_LENGTH)])
    password = PasswordField("Password", validators=[Length(max=PASSWORD_FIELD_LIMIT)])
    #: The first factor asked for (`password`, `email_code`, ...); empty: the default.
    method = HiddenField(validators=[Length(max=METHOD_LIMIT)])
    #: `choose` when the form comes from "Use another method" (no password typed yet).
    step = HiddenField(validators=[Length(max=METHOD_LIMIT)])


class ReverifyForm(_Base):
    password = PasswordField("Password", validators=[Length(max=PASSWORD_FIELD_LIMIT)])
    method = HiddenField(validators=[Length(max=METHOD_LIMIT)])


class FactorForm(_Base):
    """A factor's step: a code (email, app, recovery code)."""

    code = StringField("Code", validators=[Length(max=40)])


class ConfirmForm(_Base):
    """A button that confirms an action (nothing to fill in)."""


class AdminAddressForm(_Base):
    """An admin's action on one of a user's addresses."""

    address_id = HiddenField(validators=[Length(max=40)])


#: An editor's JSON, indented: room for 8 KB of metadata laid out for reading.
METADATA_FIELD_LIMIT = 20_000


class AdminMetadataForm(_Base):
    """The admin's three metadata editors (JSON objects)."""

    public_metadata = TextAreaField("Public", validators=[Length(max=METADATA_FIELD_LIMIT)])
    private_metadata = TextAreaField("Private", validators=[Length(max=METADATA_FIELD_LIMIT)])
    unsafe_metadata = TextAreaField("Unsafe", validators=[Length(max=METADATA_FIELD_LIMIT)])


class AvatarForm(_Base):
    """A profile picture upload: its size is bounded by the body the endpoint reads
    (post_form's `upload`), its content checked by images.py."""

    image = FileField("Profile picture")


class PasswordChangeForm(_Base):
    current_password = PasswordField(
        "Current password", validators=[Length(max=PASSWORD_FIELD_LIMIT)]
    )
    new_password = PasswordField("New password", validators=[Length(max=PASSWORD_FIELD_LIMIT)])
    #: Checked unless the user unticks it; an unticked box posts nothing.
    sign_out_others = BooleanField("Sign out of all other devices", default=True)


def _link_field() -> StringField:
    return StringField("Link from the email", validators=[Length(max=LINK_FIELD_LIMIT)])


class LinkForm(_Base):
    """Where a mailed link lands (web/mailed_links.py): its token as authkit.js posts it
    from the fragment, or the whole link as pasted with JavaScript off; a form without
    `link` is the magic link's confirming button."""

    link = _link_field()


class SignUpForm(BotCheckFields):
    email = StringField("Email address", validators=[Length(max=EMAIL_MAX_LENGTH)])
    password = PasswordField("Password", validators=[Length(max=PASSWORD_FIELD_LIMIT)])
    first_name = StringField("First name", validators=[Length(max=NAME_MAX_LENGTH)])
    last_name = StringField("Last name", validators=[Length(max=NAME_MAX_LENGTH)])


class CodeForm(_Base):
    code = StringField("Verification code", validators=[Length(max=20)])


class AddEmailForm(_Base):
    email = StringField("Email address", validators=[Length(max=EMAIL_MAX_LENGTH)])


class PasskeyNameForm(_Base):
    name = StringField("Name", validators=[Length(max=PASSKEY_NAME_MAX_LENGTH)])


class ProfileForm(_Base):
    first_name = StringField("First name", validators=[Length(max=NAME_MAX_LENGTH)])
    last_name = StringField("Last name", validators=[Length(max=NAME_MAX_LENGTH)])
    #: The language of pages and emails (shown when the site offers a choice).
    locale = StringField("Language", validators=[Length(max=16)])


class DeleteAccountForm(_Base):
    #: The phrase the page asks for, typed to confirm (the flow compares it).
    confirmation = StringField("Confirmation", validators=[Length(max=100)])


class SignOutForm(_Base):
    pass


class ForgotPasswordForm(_Base):
    email = StringField("Email address", validators=[Length(max=EMAIL_MAX_LENGTH)])


class ResetPasswordForm(_Base):
    code = StringField("Verification code", validators=[Length(max=20)])
    password = PasswordField("New password", validators=[Length(max=PASSWORD_FIELD_LIMIT)])
    password_confirm = PasswordField(
        "Confirm new password", validators=[Length(max=PASSWORD_FIELD_LIMIT)]
    )
    #: The mailed link's token; empty on the code path.
    token = HiddenField(validators=[Length(max=LINK_TOKEN_FIELD_LIMIT)])
    #: Only where the link lands: its token as handed over (see LinkForm).
    link = _link_field()


#: Ids posted by organization forms: `org_`, `orginv_`... and 26 characters.
ID_MAX_LENGTH = 40


class OrganizationForm(_Base):
    name = StringField("Name", validators=[Length(max=ORG_NAME_MAX_LENGTH)])
    slug = StringField("Slug", validators=[Length(max=ORG_SLUG_MAX_LENGTH)])


class SwitchOrganizationForm(_Base):
    """Empty `organization_id`: the personal account."""

    organization_id = HiddenField(validators=[Length(max=ID_MAX_LENGTH)])


class InviteForm(_Base):
    email = StringField("Email address", validators=[Length(max=EMAIL_MAX_LENGTH)])
    role = StringField("Role", validators=[Length(max=ROLE_MAX_LENGTH)])


class MemberForm(_Base):
    user_id = HiddenField(validators=[Length(max=ID_MAX_LENGTH)])


class MemberRoleForm(_Base):
    user_id = HiddenField(validators=[Length(max=ID_MAX_LENGTH)])
    role = StringField("Role", validators=[Length(max=ROLE_MAX_LENGTH)])


class InvitationIdForm(_Base):
    invitation_id = HiddenField(validators=[Length(max=ID_MAX_LENGTH)])


class OrgDomainForm(_Base):
    domain = StringField("Domain", validators=[Length(max=EMAIL_MAX_LENGTH)])
    enrollment = StringField("Enrollment", validators=[Length(max=16)])


class OrgDomainIdForm(_Base):
    domain_id = HiddenField(validators=[Length(max=ID_MAX_LENGTH)])


class WaitlistForm(BotCheckFields):
    email = StringField("Email address", validators=[Length(max=EMAIL_MAX_LENGTH)])
