"""
The tables authkit owns. Codes and refresh tokens are stored only as hashes; private
signing keys only encrypted with the secret key.

Timestamps are timezone-aware UTC datetimes (SQLModel stores them as UTC on both stores).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

__all__ = [
    "AuditEventRow",
    "AuthenticatorRow",
    "AvatarRow",
    "EmailAddressRow",
    "MembershipRow",
    "OAuthAccountRow",
    "OrgDomainRow",
    "OrgInvitationRow",
    "OrganizationLogoRow",
    "OrganizationRow",
    "OutboxRow",
    "PasskeyRow",
    "PasswordCredentialRow",
    "RateLimitHitRow",
    "RecoveryCodeRow",
    "SessionRow",
    "SignInAttemptRow",
    "SignUpInvitationRow",
    "SigningKeyRow",
    "UserRow",
    "UserSearchTermRow",
    "VerificationCodeRow",
    "WaitlistEntryRow",
    "WebhookMessageRow",
]

EMAIL_MAX_LENGTH = 254
NAME_MAX_LENGTH = 100


class UserRow(SQLModel, table=True):
    __tablename__ = "users"
    #: The admin console's list pages in (created_at, id) order: an index range each.
    __table_args__ = (Index("ix_users_created_at_id", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    first_name: str = Field(default="", max_length=NAME_MAX_LENGTH)
    last_name: str = Field(default="", max_length=NAME_MAX_LENGTH)
    created_at: datetime
    updated_at: datetime
    banned_at: datetime | None = None
    #: The ban is a lock an admin means to lift (a compromised account, under review):
    #: it stops sign-in and refresh exactly as a ban does (`banned_at` is set too).
    locked: bool = False
    #: Moves on with every change of the user's credentials (a new password, a ban, a
    #: second factor on or off): a session made under an older one no longer refreshes,
    #: even one whose sign-in was still running when the change was made.
    credential_generation: int = 0
    #: The current avatar's `AvatarRow.content_hash` (None: initials), kept here so the
    #: query that loads a user knows its URL without reading the image.
    image_hash: str | None = Field(default=None, max_length=64)
    #: Clerk's three metadata objects (authkit.metadata): public (server-written, in
    #: tokens), private (server only), unsafe (user-written).
    public_metadata: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    private_metadata: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    unsafe_metadata: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    #: The user's id in another system (set by `authkit users import`: their id at
    #: Clerk, Django or Auth0), unique when set.
    external_id: str | None = Field(default=None, max_length=255, unique=True)
    #: The language of the user's emails (`de`, `pt_BR`); None: the site's first language.
    locale: str | None = Field(default=None, max_length=16)


class UserSearchTermRow(SQLModel, table=True):
    """One word of a user's name or address, lower-case (search_terms.py): the admin
    console and `authkit.users.list(search=)` find users by a range on `term`."""

    __tablename__ = "user_search_terms"
    __table_args__ = (Index("ix_user_search_terms_term", "term", "user_id"),)

    user_id: str = Field(
        primary_key=True, foreign_key="users.id", max_length=40, ondelete="CASCADE"
    )
    term: str = Field(primary_key=True, max_length=EMAIL_MAX_LENGTH)


class EmailAddressRow(SQLModel, table=True):
    __tablename__ = "email_addresses"

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40, ondelete="CASCADE")
    #: As the user typed it (domain lower-cased); shown back to them.
    email: str = Field(max_length=EMAIL_MAX_LENGTH)
    #: The comparison form; unique, so one address belongs to one account.
    normalized: str = Field(max_length=EMAIL_MAX_LENGTH, unique=True)
    is_primary: bool = True
    verified_at: datetime | None = None
    created_at: datetime


class PasswordCredentialRow(SQLModel, table=True):
    __tablename__ = "password_credentials"

    user_id: str = Field(
        primary_key=True, foreign_key="users.id", max_length=40, ondelete="CASCADE"
    )
    password_hash: str = Field(max_length=512)
    updated_at: datetime


class AvatarRow(SQLModel, table=True):
    """A user's profile picture: a 256 px WebP we encoded ourselves (images.py), never
    the uploaded bytes."""

    __tablename__ = "avatars"

    user_id: str = Field(
        primary_key=True, foreign_key="users.id", max_length=40, ondelete="CASCADE"
    )
    #: SHA-256 (hex) of the image and 128 random bits: names this version in its URL,
    #: changes with every upload, and cannot be worked out from the picture.
    content_hash: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime


class SessionRow(SQLModel, table=True):
    __tablename__ = "sessions"

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40, ondelete="CASCADE")
    #: SHA-256 of the current refresh token (hex); the token itself is never stored.
    refresh_hash: str = Field(max_length=64)
    #: Random per-session input to the keyed derivation of its refresh tokens (see
    #: sessions.py); useless without the secret key.
    refresh_salt: str = Field(default="", max_length=32)
    #: How many times the refresh token was rotated; the current token is generation N.
    refresh_generation: int = 0
    #: When generation N replaced N-1; N-1 stays usable for a short grace after it.
    refresh_rotated_at: datetime | None = None
    created_at: datetime
    last_active_at: datetime
    #: Indexed for pruning, as are the code steps' expiry.
    expires_at: datetime = Field(index=True)
    revoked_at: datetime | None = None
    user_agent: str = Field(default="", max_length=512)
    ip_address: str = Field(default="", max_length=64)
    #: The factors that started the session (`password`, `totp`, ...), in order.
    amr: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: When a first and a second factor were last verified in this session (sign-in or
    #: "Confirm it's you"); the session token's `fva` claim is computed from them.
    first_factor_at: datetime | None = None
    second_factor_at: datetime | None = None
    #: The user's credential generation the session was made under (see UserRow).
    credential_generation: int = 0
    #: An admin signed in as the user (impersonation): who, from which of their sessions.
    #: The token carries them as Clerk's `act` claim; such a session ends within an hour.
    actor_user_id: str | None = Field(default=None, max_length=40)
    actor_session_id: str | None = Field(default=None, max_length=40)
    #: The organization the user is working in, in this session (None: their personal
    #: account). The token carries it with the role as Clerk's `o` claim, read from
    #: the membership at each refresh, so a changed role shows within a token lifetime.
    active_organization_id: str | None = Field(default=None, max_length=40)


class SignInAttemptRow(SQLModel, table=True):
    """
    A sign-in (or a "Confirm it's you" step-up) in progress: who it is for, which
    factors are proven and what is still needed. Referenced by a signed cookie bound to
    the browser that started it; only `complete` ends in a session.
    """

    __tablename__ = "sign_in_attempts"

    id: str = Field(primary_key=True, max_length=40)
    #: `sign_in`, or `reverify` (a signed-in session proving itself again).
    purpose: str = Field(max_length=16)
    #: needs_identifier → needs_first_factor → needs_second_factor → complete
    status: str = Field(max_length=32)
    #: None while unknown, and for ever when the address has no account (the attempt
    #: then runs its course and fails like any wrong factor).
    user_id: str | None = Field(
        default=None, foreign_key="users.id", max_length=40, ondelete="CASCADE"
    )
    #: The address as typed (domain lower-cased), shown back on the next steps.
    identifier: str = Field(default="", max_length=EMAIL_MAX_LENGTH)
    #: Keyed hash of the browser's CSRF secret: the attempt continues only there.
    browser_hash: str = Field(max_length=64)
    #: The session being reverified, or the session the sign-in created.
    session_id: str | None = Field(default=None, max_length=40)
    first_factor: str | None = Field(default=None, max_length=32)
    first_factor_at: datetime | None = None
    second_factor: str | None = Field(default=None, max_length=32)
    second_factor_at: datetime | None = None
    #: The user's credential generation when the attempt identified them: the session
    #: is made only if it has not moved by the end (a reset meanwhile).
    credential_generation: int = 0
    #: What factor strategies keep between steps (the id of the emailed code, ...).
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime
    expires_at: datetime = Field(index=True)
    completed_at: datetime | None = None


class AuthenticatorRow(SQLModel, table=True):
    """
    A factor a user set up beyond their password and addresses: an authenticator app
    (`totp`). Pending until its first code confirms it.
    """

    __tablename__ = "authenticators"
    #: One of each kind per user: two tabs confirming a set-up at once cannot make two.
    __table_args__ = (Index("ix_authenticators_user_id_kind", "user_id", "kind", unique=True),)

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", max_length=40, ondelete="CASCADE")
    kind: str = Field(max_length=16)
    name: str = Field(default="", max_length=100)
    #: The TOTP secret, Fernet-encrypted with a key derived from the secret key.
    secret_encrypted: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime
    confirmed_at: datetime | None = None
    last_used_at: datetime | None = None
    #: The TOTP time step last accepted: a code of that step or earlier never works again.
    last_used_step: int = 0


class OAuthAccountRow(SQLModel, table=True):
    """
    An account at a social-login provider linked to a user: the provider's stable id
    for it (`subject`) signs that user in. One provider account links one user.
    """

    __tablename__ = "oauth_accounts"
    __table_args__ = (
        Index("ix_oauth_accounts_provider_subject", "provider", "subject", unique=True),
    )

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40, ondelete="CASCADE")
    provider: str = Field(max_length=32)
    subject: str = Field(max_length=255)
    #: The address the provider gave when it was linked (shown in the profile).
    email: str = Field(default="", max_length=EMAIL_MAX_LENGTH)
    created_at: datetime
    last_used_at: datetime | None = None
    #: The provider's tokens, Fernet-encrypted, only for a provider set to keep them.
    tokens_encrypted: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class PasskeyRow(SQLModel, table=True):
    """
    A passkey (a WebAuthn discoverable credential) a user registered: its public key
    signs them in, with the authenticator's own user verification as the second factor.
    """

    __tablename__ = "passkeys"
    #: One credential, one row: a replayed registration cannot add it twice.
    __table_args__ = (Index("ix_passkeys_credential_id", "credential_id", unique=True),)

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40, ondelete="CASCADE")
    #: The credential id, base64url (at most 1023 bytes by the spec).
    credential_id: str = Field(max_length=1400)
    #: The COSE public key, as the authenticator gave it.
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    #: The signature counter last seen: a lower one means a cloned authenticator. An
    #: unsigned 32-bit number, so a 64-bit column.
    sign_count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    #: The AAGUID (which kind of authenticator or password manager), and its transports.
    aaguid: str = Field(default="", max_length=36)
    transports: str = Field(default="", max_length=200)
    #: Backup eligible (a synced passkey) and backed up now (the flags BE and BS).
    backup_eligible: bool = False
    backed_up: bool = False
    name: str = Field(max_length=64)
    created_at: datetime
    last_used_at: datetime | None = None


class RecoveryCodeRow(SQLModel, table=True):
    """One of a user's single-use recovery codes, stored only as a keyed hash."""

    __tablename__ = "recovery_codes"
    __table_args__ = (Index("ix_recovery_codes_user_id_code_hash", "user_id", "code_hash"),)

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", max_length=40, ondelete="CASCADE")
    code_hash: str = Field(max_length=64)
    created_at: datetime
    used_at: datetime | None = None


class VerificationCodeRow(SQLModel, table=True):
    """
    A pending step proven by an emailed code: a sign-up awaiting its code, and later a
    password reset. `payload` holds what the step needs once proven (for a sign-up: the
    password hash and names), never a code or token in clear.
    """

    __tablename__ = "verification_codes"
    __table_args__ = (Index("ix_verification_codes_purpose_email", "purpose", "email_normalized"),)

    id: str = Field(primary_key=True, max_length=40)
    purpose: str = Field(max_length=32)
    email: str = Field(max_length=EMAIL_MAX_LENGTH)
    email_normalized: str = Field(max_length=EMAIL_MAX_LENGTH)
    #: HMAC-SHA-256 of the code keyed by the secret key (hex).
    code_hash: str = Field(max_length=64)
    attempts: int = 0
    sends: int = 1
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime
    last_sent_at: datetime
    expires_at: datetime = Field(index=True)
    consumed_at: datetime | None = None


class SigningKeyRow(SQLModel, table=True):
    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True, max_length=64)
    algorithm: str = Field(default="EdDSA", max_length=16)
    #: The public key as a JWK (JSON text).
    public_jwk: str = Field(sa_column=Column(String(1024), nullable=False))
    #: The PKCS#8 private key, encrypted with a key derived from the secret key.
    private_key_encrypted: str = Field(sa_column=Column(String(1024), nullable=False))
    created_at: datetime
    #: Set when a newer key takes over signing; the key stays in the JWKS until
    #: tokens it signed have expired.
    retired_at: datetime | None = None


class RateLimitHitRow(SQLModel, table=True):
    """
    One accepted attempt counted against an account (a wrong password, a mailed code):
    the per-account limits' windows reach 30 days, which belong in the database, shared
    by every worker and never forgotten to make room. `bucket` is a keyed hash of the
    rule and the account, never the address itself.
    """

    __tablename__ = "rate_limit_hits"

    #: A text id like every table's: no sequence for the database role to be granted.
    id: str = Field(primary_key=True, max_length=40)
    bucket: str = Field(max_length=80, index=True)
    #: Seconds since the epoch, as the limits' windows count them.
    at: float
    #: When the rule's longest window has passed it: pruned after this.
    expires: float = Field(index=True)


class AuditEventRow(SQLModel, table=True):
    __tablename__ = "audit_events"
    #: A user's activity, newest first, a page at a time: (user_id, at, id) is the
    #: order and the cursor, so each page is one range scan of this index.
    __table_args__ = (Index("ix_audit_events_user_id_at_id", "user_id", "at", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    at: datetime = Field(index=True)
    event: str = Field(max_length=64, index=True)
    user_id: str | None = Field(default=None, max_length=40)
    session_id: str | None = Field(default=None, max_length=40)
    ip_address: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=512)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class OutboxRow(SQLModel, table=True):
    """
    An email that must not be lost: written in the transaction that needs it (the code
    it carries is committed with it), deleted once the mail server took it. Encrypted,
    because it holds a code or link in clear.
    """

    __tablename__ = "outbox"

    id: str = Field(primary_key=True, max_length=40)
    created_at: datetime
    #: Worthless after this (the code inside has expired): deleted, never sent.
    not_after: datetime = Field(index=True)
    next_attempt_at: datetime
    attempts: int = 0
    #: A worker sending it holds it until then; after a crash another worker may.
    claimed_until: datetime | None = None
    #: What it is about (a sign-up attempt): a newer message about it replaces this one.
    about: str | None = Field(default=None, index=True, max_length=40)
    #: The RFC 5322 message, Fernet-encrypted with a key derived from the secret key.
    message_encrypted: str = Field(sa_column=Column(Text, nullable=False))


class WebhookMessageRow(SQLModel, table=True):
    """
    One webhook event for one endpoint: written in the transaction of the change it
    reports, sent after the commit, retried with growing pauses for three days, then kept
    a while as the delivery log. `seq` orders the events about one user (per endpoint,
    each waits for the one before). The payload is encrypted: it can hold private
    metadata, and an `email.created` event the code the email carries.
    """

    __tablename__ = "webhook_messages"
    __table_args__ = (
        Index("ix_webhook_messages_due", "state", "next_attempt_at"),
        Index("ix_webhook_messages_order", "endpoint_key", "ordering_key", "seq"),
    )

    seq: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    #: The Standard Webhooks `webhook-id` (`msg_...`); a replay sends it again.
    id: str = Field(index=True, max_length=40)
    endpoint_url: str = Field(max_length=2048)
    #: A short hash of the URL, for the ordering index.
    endpoint_key: str = Field(max_length=16)
    event_type: str = Field(max_length=64)
    #: Whom it is about (a user id, else an address): events with one key go in order.
    ordering_key: str = Field(max_length=260)
    payload_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    #: pending, delivered, failed (gave up after three days) or skipped (never sent).
    state: str = Field(max_length=16)
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    #: A worker sending it holds it until then; after a crash another worker may.
    claimed_until: datetime | None = None
    delivered_at: datetime | None = None
    last_status: int | None = None
    last_error: str = Field(default="", max_length=200)
    #: The message this one sends again (a replay from the delivery log).
    replay_of: int | None = None


ORG_NAME_MAX_LENGTH = 100
ORG_SLUG_MAX_LENGTH = 64
ROLE_MAX_LENGTH = 64


class OrganizationRow(SQLModel, table=True):
    __tablename__ = "organizations"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=ORG_NAME_MAX_LENGTH)
    #: The address of its pages (`/organizations/<slug>`): lower-case, unique.
    slug: str = Field(max_length=ORG_SLUG_MAX_LENGTH, unique=True)
    #: The current logo's `OrganizationLogoRow.content_hash` (None: initials).
    image_hash: str | None = Field(default=None, max_length=64)
    public_metadata: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    private_metadata: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    #: Who made it (a user id; kept when that user is gone, for the record).
    created_by: str | None = Field(default=None, max_length=40)
    created_at: datetime
    updated_at: datetime


class OrganizationLogoRow(SQLModel, table=True):
    """An organization's logo: a WebP we encoded ourselves, as avatars are."""

    __tablename__ = "organization_logos"

    organization_id: str = Field(
        primary_key=True, foreign_key="organizations.id", max_length=40, ondelete="CASCADE"
    )
    content_hash: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime


class MembershipRow(SQLModel, table=True):
    """A user in an organization, with one role (`org:admin`, `org:member`, custom)."""

    __tablename__ = "organization_memberships"
    __table_args__ = (
        UniqueConstraint("organization_id", "user_id", name="uq_membership_org_user"),
    )

    id: str = Field(primary_key=True, max_length=40)
    organization_id: str = Field(
        foreign_key="organizations.id", index=True, max_length=40, ondelete="CASCADE"
    )
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40, ondelete="CASCADE")
    role: str = Field(max_length=ROLE_MAX_LENGTH)
    created_at: datetime
    updated_at: datetime


class OrgInvitationRow(SQLModel, table=True):
    """An invitation by email to join an organization with a role. The link carries a
    token stored only as a hash; accepting needs the invited address, verified."""

    __tablename__ = "organization_invitations"

    id: str = Field(primary_key=True, max_length=40)
    organization_id: str = Field(
        foreign_key="organizations.id", index=True, max_length=40, ondelete="CASCADE"
    )
    #: As the inviter typed it; `normalized` is the comparison form.
    email: str = Field(max_length=EMAIL_MAX_LENGTH)
    normalized: str = Field(max_length=EMAIL_MAX_LENGTH, index=True)
    role: str = Field(max_length=ROLE_MAX_LENGTH)
    #: pending, accepted or revoked (a pending one past `expires_at` is expired).
    status: str = Field(default="pending", max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    inviter_id: str | None = Field(default=None, max_length=40)
    created_at: datetime
    updated_at: datetime
    expires_at: datetime


class OrgDomainRow(SQLModel, table=True):
    """A domain an organization proved it holds: people with a verified address there
    are invited (`invite`) or join (`join`) when they sign up or verify the address."""

    __tablename__ = "organization_domains"

    id: str = Field(primary_key=True, max_length=40)
    organization_id: str = Field(
        foreign_key="organizations.id", index=True, max_length=40, ondelete="CASCADE"
    )
    #: Lower-case; one organization per domain.
    domain: str = Field(max_length=EMAIL_MAX_LENGTH, unique=True)
    enrollment: str = Field(default="invite", max_length=16)
    verified_at: datetime | None = None
    created_at: datetime


class SignUpInvitationRow(SQLModel, table=True):
    """An invitation to make an account (`AUTHKIT_SIGN_UP=invite` or `waitlist`), from an
    admin, the host's code, the CLI or an approved waitlist entry. The link carries a
    token stored only as a hash; signing up still proves the address with a code."""

    __tablename__ = "sign_up_invitations"

    id: str = Field(primary_key=True, max_length=40)
    email: str = Field(max_length=EMAIL_MAX_LENGTH)
    normalized: str = Field(max_length=EMAIL_MAX_LENGTH, index=True)
    token_hash: str = Field(max_length=64, unique=True)
    #: pending, accepted or revoked (a pending one past `expires_at` is expired).
    status: str = Field(default="pending", max_length=16)
    inviter_id: str | None = Field(default=None, max_length=40)
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None


class WaitlistEntryRow(SQLModel, table=True):
    """Someone waiting to be let in (`AUTHKIT_SIGN_UP=waitlist`): approving sends them a
    sign-up invitation."""

    __tablename__ = "waitlist_entries"

    id: str = Field(primary_key=True, max_length=40)
    email: str = Field(max_length=EMAIL_MAX_LENGTH)
    normalized: str = Field(max_length=EMAIL_MAX_LENGTH, unique=True)
    #: waiting, invited (approved: an invitation was sent) or declined.
    status: str = Field(default="waiting", max_length=16)
    created_at: datetime
    decided_at: datetime | None = None
