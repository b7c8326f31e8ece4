"""
The tables authkit owns. Codes and refresh tokens are stored only as hashes; private
signing keys only encrypted with the secret key.

Timestamps are timezone-aware UTC datetimes (SQLModel stores them as UTC on both stores).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String, Text
from sqlmodel import Field, SQLModel

__all__ = [
    "AuditEventRow",
    "EmailAddressRow",
    "PasswordCredentialRow",
    "SessionRow",
    "SigningKeyRow",
    "UserRow",
    "VerificationCodeRow",
]

EMAIL_MAX_LENGTH = 254
NAME_MAX_LENGTH = 100


class UserRow(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(primary_key=True, max_length=40)
    first_name: str = Field(default="", max_length=NAME_MAX_LENGTH)
    last_name: str = Field(default="", max_length=NAME_MAX_LENGTH)
    created_at: datetime
    updated_at: datetime
    banned_at: datetime | None = None


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


class AuditEventRow(SQLModel, table=True):
    __tablename__ = "audit_events"

    id: str = Field(primary_key=True, max_length=40)
    at: datetime = Field(index=True)
    event: str = Field(max_length=64, index=True)
    user_id: str | None = Field(default=None, max_length=40, index=True)
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
