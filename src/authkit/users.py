"""
The user as hosts and templates see it: a frozen view built from the user row and its
primary email address, and the one query that loads it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .errors import FieldError
from .services import Services
from .store.models import NAME_MAX_LENGTH, EmailAddressRow, UserRow

__all__ = [
    "User",
    "active_account",
    "avatar_path",
    "clean_name",
    "get_user",
    "initials_of",
    "primary_address",
    "refuse_taken_address",
    "user_of",
]


@dataclass(frozen=True, slots=True)
class User:
    """A user of the site, as returned by `current_user(request)`."""

    id: str
    email: str
    first_name: str
    last_name: str
    created_at: datetime
    email_verified: bool
    is_banned: bool
    #: The path of the user's profile picture (`/auth/avatars/<id>/<hash>.webp`, a 256 px
    #: WebP served with long-lived caching: a new picture gets a new URL), or None when
    #: they have none and their initials are shown.
    image_url: str | None = None
    #: The ban is a lock an admin means to lift (`is_banned` is True too).
    is_locked: bool = False
    #: Clerk's metadata objects (authkit.metadata): `public_metadata` the server writes
    #: and tokens carry; `private_metadata` for the server alone; `unsafe_metadata` the
    #: user may write (never trust it).
    public_metadata: Mapping[str, Any] = field(default_factory=dict)
    private_metadata: Mapping[str, Any] = field(default_factory=dict)
    unsafe_metadata: Mapping[str, Any] = field(default_factory=dict)
    #: The language of the user's emails (`de`, `pt_BR`), or None: the site's first one.
    locale: str | None = None

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    @property
    def initials(self) -> str:
        return initials_of(self.first_name, self.last_name, self.email)


def initials_of(first_name: str, last_name: str, email: str) -> str:
    """What an avatar without a picture shows: the names' first letters, else the
    address's."""
    letters = [p[0] for p in (first_name, last_name) if p] or [email[:1]]
    return "".join(letters).upper()


async def get_user(svc: Services, user_id: str) -> User | None:
    """Load a user and their primary email in one query; None if there is no such user."""
    async with svc.db.session() as s:
        found = (
            await s.exec(
                select(UserRow, EmailAddressRow)
                .join(EmailAddressRow, col(EmailAddressRow.user_id) == col(UserRow.id))
                .where(col(UserRow.id) == user_id, col(EmailAddressRow.is_primary).is_(True))
            )
        ).first()
    if found is None:
        return None
    return user_of(*found, mount_path=svc.mount_path)


async def active_account(s: AsyncSession, user_id: str) -> tuple[UserRow, str] | None:
    """The user's row and primary address, when the account exists and is not banned
    (who may confirm it's them, or add a passkey)."""
    found = (
        await s.exec(
            select(UserRow, EmailAddressRow.email)
            .join(EmailAddressRow, col(EmailAddressRow.user_id) == col(UserRow.id))
            .where(
                col(UserRow.id) == user_id,
                col(EmailAddressRow.is_primary),
                col(UserRow.banned_at).is_(None),
            )
        )
    ).first()
    return (found[0], found[1]) if found is not None else None


async def sign_in_generation(s: AsyncSession, user_id: str) -> int | None:
    """The user's credential generation (what a new session is made under), or None
    when the user does not exist or is banned (no session may be made for them)."""
    found: int | None = (
        await s.exec(
            select(UserRow.credential_generation).where(
                col(UserRow.id) == user_id, col(UserRow.banned_at).is_(None)
            )
        )
    ).first()
    return found


async def refuse_taken_address(s: AsyncSession, normalized: str) -> None:
    """For those who may know (an admin, the host): say so when an account holds the
    address (in its comparison form).

    Raises:
        FieldError: `email_taken` on `email`.
    """
    taken = (
        await s.exec(
            select(EmailAddressRow.id).where(col(EmailAddressRow.normalized) == normalized)
        )
    ).first()
    if taken is not None:
        raise FieldError("email_taken", field="email")


async def primary_address(s: AsyncSession, user_id: str) -> str | None:
    """The user's primary address, or None."""
    return (
        await s.exec(
            select(EmailAddressRow.email).where(
                col(EmailAddressRow.user_id) == user_id, col(EmailAddressRow.is_primary)
            )
        )
    ).first()


def user_of(user: UserRow, address: EmailAddressRow, *, mount_path: str) -> User:
    """The view of a user row and its primary address; `mount_path` is where the sub-app
    is mounted (`svc.mount_path`), which the picture's URL starts with."""
    return User(
        id=user.id,
        email=address.email,
        first_name=user.first_name,
        last_name=user.last_name,
        created_at=user.created_at,
        email_verified=address.verified_at is not None,
        is_banned=user.banned_at is not None,
        is_locked=user.banned_at is not None and user.locked,
        image_url=avatar_path(mount_path, user.id, user.image_hash) if user.image_hash else None,
        public_metadata=dict(user.public_metadata or {}),
        private_metadata=dict(user.private_metadata or {}),
        unsafe_metadata=dict(user.unsafe_metadata or {}),
        locale=user.locale,
    )


def avatar_path(mount_path: str, user_id: str, image_hash: str) -> str:
    """Where the sub-app serves this version of a user's picture."""
    return f"{mount_path}/avatars/{user_id}/{image_hash}.webp"


def clean_name(
    value: str | None, *, field: str, required: bool, max_length: int = NAME_MAX_LENGTH
) -> str:
    """
    Strip a name (a user's first or last name, an organization's) and check it.

    Raises:
        FieldError: `required`, `too_long` or `name_invalid`.
    """
    name = (value or "").strip()
    if not name:
        if required:
            raise FieldError("required", field=field)
        return ""
    if len(name) > max_length:
        raise FieldError("too_long", field=field, max=max_length)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise FieldError("name_invalid", field=field)
    return name
