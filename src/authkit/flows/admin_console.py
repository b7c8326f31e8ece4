"""
The admin console's rules: who is an admin (`public_metadata.role == "admin"`, or listed
in `AUTHKIT_ADMINS` by address or user id), the users list (search, filters, keyset
pages), what a user's page shows, and the actions, each audited with the admin as actor.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_, update
from sqlmodel import col, select

from ..account_facts import account_facts
from ..addresses import comparison_form
from ..audit import RequestMeta, record_event
from ..errors import FieldError, FlowError
from ..metadata import METADATA_KINDS, MetadataKind
from ..search_terms import matching_words
from ..services import Services
from ..sessions import revoke_all_sessions
from ..store.models import (
    AuthenticatorRow,
    EmailAddressRow,
    UserRow,
)
from ..users import User, user_of
from . import admin
from .metadata import replace_metadata
from .mfa import turn_off_mfa
from .reset import start_reset

__all__ = [
    "FILTERS",
    "PER_PAGE",
    "UserDetails",
    "UsersPage",
    "ban",
    "create",
    "delete",
    "find_users",
    "forget_failures",
    "is_admin",
    "lock",
    "mark_address_verified",
    "parse_metadata_field",
    "reset_mfa",
    "revoke_sessions",
    "save_metadata",
    "send_reset",
    "unban",
    "unlock",
    "user_details",
]

PER_PAGE = 25
#: The list's filters, by the query value that turns each on.
FILTERS = ("banned", "mfa", "unverified")
MAX_SEARCH_LENGTH = 254


def is_admin(svc: Services, user: User) -> bool:
    """Whether `user` may use the console."""
    if user.is_banned:
        return False
    if user.public_metadata.get("role") == "admin":
        return True
    listed = {entry.strip().casefold() for entry in svc.settings.admins.split(",")}
    listed.discard("")
    return user.id.casefold() in listed or user.email.casefold() in listed


@dataclass(frozen=True, slots=True)
class UserRowView:
    user: User
    has_mfa: bool


@dataclass(frozen=True, slots=True)
class UsersPage:
    users: list[UserRowView]
    #: The cursor of the next (older) page, None on the last one.
    next_cursor: str | None


async def find_users(
    svc: Services,
    *,
    search: str = "",
    filters: Sequence[str] = (),
    cursor: str | None = None,
    oldest_first: bool = False,
    per_page: int = PER_PAGE,
) -> UsersPage:
    """
    A page of users, newest (or oldest) first. `search` matches an id exactly, the start
    of an address when it holds an `@`, or else the start of any word of a name or an
    address (every word, for several), in any case; each by an index range. Keyset-paged
    on (created_at, id): a page costs an index range whatever its depth; a cursor that
    does not parse is the first page.
    """
    has_mfa = exists().where(
        col(AuthenticatorRow.user_id) == col(UserRow.id),
        col(AuthenticatorRow.confirmed_at).is_not(None),
    )
    # Two steps: the page's users from `users` alone (the (created_at, id) index gives
    # them in order; a join would let the planner scan every address first), then
    # their addresses.
    statement = select(UserRow, has_mfa.label("has_mfa"))
    needle = search.strip()[:MAX_SEARCH_LENGTH]
    if needle.startswith("user_"):
        statement = statement.where(col(UserRow.id) == needle)
    elif "@" in needle:
        # Looks like an address, typed from its start: a range on the unique index of
        # normalized addresses, not a scan of them all.
        start = comparison_form(needle)
        past = start[:-1] + chr(ord(start[-1]) + 1)  # the first string past the prefix
        holders = select(EmailAddressRow.user_id).where(
            col(EmailAddressRow.normalized) >= start,
            col(EmailAddressRow.normalized) < past,
            # The range is the index's work; this keeps it exact under any collation.
            func.substr(col(EmailAddressRow.normalized), 1, len(start)) == start,
        )
        statement = statement.where(col(UserRow.id).in_(holders))
    elif needle:
        statement = statement.where(matching_words(needle))
    if "banned" in filters:
        statement = statement.where(col(UserRow.banned_at).is_not(None))
    if "mfa" in filters:
        statement = statement.where(has_mfa)
    if "unverified" in filters:
        statement = statement.where(
            col(UserRow.id).in_(
                select(EmailAddressRow.user_id).where(col(EmailAddressRow.verified_at).is_(None))
            )
        )
    after = _parse_cursor(cursor)
    if after is not None:
        statement = statement.where(_beyond(after, oldest_first))
    order = (
        (col(UserRow.created_at), col(UserRow.id))
        if oldest_first
        else (col(UserRow.created_at).desc(), col(UserRow.id).desc())
    )
    async with svc.db.session() as s:
        rows = (await s.exec(statement.order_by(*order).limit(per_page + 1))).all()
        shown = rows[:per_page]
        ids = [user.id for user, _ in shown]
        addresses = {
            a.user_id: a
            for a in (
                await s.exec(
                    select(EmailAddressRow).where(
                        col(EmailAddressRow.user_id).in_(ids), col(EmailAddressRow.is_primary)
                    )
                )
            ).all()
        }
    views = [
        UserRowView(user_of(u, addresses[u.id], mount_path=svc.mount_path), bool(mfa))
        for u, mfa in shown
        if u.id in addresses
    ]
    next_cursor = _cursor(shown[-1][0]) if len(rows) > per_page else None
    return UsersPage(views, next_cursor)


def _cursor(row: UserRow) -> str:
    raw = json.dumps([row.created_at.isoformat(), row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _parse_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor or len(cursor) > 200:
        return None
    try:
        at, user_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(at), str(user_id)
    except (ValueError, TypeError, binascii.Error):
        return None


def _beyond(key: tuple[datetime, str], oldest_first: bool) -> ColumnElement[bool]:
    at, user_id = key
    if oldest_first:
        return or_(
            col(UserRow.created_at) > at,
            and_(col(UserRow.created_at) == at, col(UserRow.id) > user_id),
        )
    return or_(
        col(UserRow.created_at) < at,
        and_(col(UserRow.created_at) == at, col(UserRow.id) < user_id),
    )


@dataclass(frozen=True, slots=True)
class AddressView:
    id: str
    email: str
    is_primary: bool
    verified: bool


@dataclass(frozen=True, slots=True)
class UserDetails:
    user: User
    addresses: list[AddressView]
    connected: list[tuple[str, str]]
    has_totp: bool
    passkeys: int
    recovery_codes_left: int
    metadata_json: dict[str, str]


async def user_details(svc: Services, user_id: str) -> UserDetails | None:
    """Everything the user's page shows but sessions and activity (flows of their own)."""
    async with svc.db.session() as s:
        facts = await account_facts(s, user_id)
    if facts is None or facts.primary is None:
        return None  # every account has a primary address; a half-deleted one is gone
    return UserDetails(
        user=user_of(facts.user, facts.primary, mount_path=svc.mount_path),
        addresses=[
            AddressView(a.id, a.email, a.is_primary, a.verified_at is not None)
            for a in facts.addresses
        ],
        connected=[(a.provider, a.email) for a in facts.connected],
        has_totp=facts.has_totp,
        passkeys=facts.passkeys,
        recovery_codes_left=facts.recovery_codes_left,
        metadata_json={
            kind: json.dumps(getattr(facts.user, kind), indent=2, ensure_ascii=False)
            for kind in METADATA_KINDS
        },
    )


# -- actions: each audited with the admin as actor ------------------------------------


async def create(
    svc: Services,
    *,
    admin_id: str,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    meta: RequestMeta,
) -> str:
    """A new user with a verified address (the admin vouches for it); their id.

    Raises:
        FieldError: a field is wrong, or `email_taken` (an admin may know).
    """
    return await admin.create_user(
        svc,
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
        meta=meta,
        actor=admin_id,
    )


async def send_reset(svc: Services, *, admin_id: str, user_id: str, meta: RequestMeta) -> bool:
    """Mail the user a password reset (code and link) at their primary address, as
    "Forgot password?" would; False when the user is gone or banned.

    Raises:
        RateLimited: too many resets for that address lately.
    """
    details = await user_details(svc, user_id)
    if details is None or details.user.is_banned:
        return False
    await start_reset(svc, email=details.user.email, meta=meta, actor=admin_id)
    return True


async def ban(svc: Services, *, admin_id: str, user_id: str, meta: RequestMeta) -> bool:
    return await admin.ban_user(svc, user_id, meta=meta, actor=admin_id)


async def unban(svc: Services, *, admin_id: str, user_id: str, meta: RequestMeta) -> bool:
    return await admin.unban_user(svc, user_id, meta=meta, actor=admin_id)


async def delete(svc: Services, *, admin_id: str, user_id: str, meta: RequestMeta) -> bool:
    async with svc.db.session() as s:
        return await admin.delete_user_rows(svc, s, user_id, meta=meta, actor=admin_id)


async def revoke_sessions(svc: Services, *, admin_id: str, user_id: str, meta: RequestMeta) -> int:
    """End every session of the user; how many ended."""
    async with svc.db.session() as s:
        ended = await revoke_all_sessions(svc, user_id, within=s)
        record_event(
            s,
            "sessions.revoked",
            at=svc.clock(),
            meta=meta,
            user_id=user_id,
            count=ended,
            actor=admin_id,
        )
    return ended


async def reset_mfa(svc: Services, *, admin_id: str, user_id: str, meta: RequestMeta) -> bool:
    """Remove the user's authenticator app and recovery codes (a lost phone), ending
    every session and mailing them; False when they had none."""
    try:
        await turn_off_mfa(svc, user_id=user_id, session_id=None, meta=meta, actor=admin_id)
    except FlowError:
        return False
    return True


#: The per-account throttles a run of wrong guesses fills (sign_in:account keeps up to
#: 90 failures for 30 days): by address, and by user id.
_ACCOUNT_THROTTLES_BY_ADDRESS = ("sign_in:account",)
_ACCOUNT_THROTTLES_BY_USER = ("mfa:account", "password_change:account")


async def forget_failures(svc: Services, *, admin_id: str, user_id: str, meta: RequestMeta) -> bool:
    """Forget the user's failed sign-in attempts (a user shut out by someone guessing at
    their password can sign in again at once); False when the user is gone."""
    async with svc.db.session() as s:
        facts = await account_facts(s, user_id)
        if facts is None:
            return False
        record_event(
            s,
            "sign_in.throttle_cleared",
            at=svc.clock(),
            meta=meta,
            user_id=user_id,
            actor=admin_id,
        )
    for address in facts.addresses:
        for rule in _ACCOUNT_THROTTLES_BY_ADDRESS:
            await svc.limiter.clear(rule, address.normalized)
    for rule in _ACCOUNT_THROTTLES_BY_USER:
        await svc.limiter.clear(rule, user_id)
    return True


async def lock(svc: Services, *, admin_id: str, user_id: str, meta: RequestMeta) -> bool:
    """Lock the account until an admin unlocks it: a ban meant to be lifted (no sign-in,
    no refresh, every session ended)."""
    return await admin.ban_user(svc, user_id, meta=meta, actor=admin_id, lock=True)


async def unlock(svc: Services, *, admin_id: str, user_id: str, meta: RequestMeta) -> bool:
    """Lift a lock (never a ban: that is "Lift the ban"), and forget the failed sign-in
    attempts too; False when the user is not locked."""
    details = await user_details(svc, user_id)
    if details is None or not details.user.is_locked:
        return False
    await admin.unban_user(svc, user_id, meta=meta, actor=admin_id)
    await forget_failures(svc, admin_id=admin_id, user_id=user_id, meta=meta)
    return True


async def mark_address_verified(
    svc: Services, *, admin_id: str, user_id: str, address_id: str, meta: RequestMeta
) -> bool:
    """Vouch for one of the user's addresses; False when it is not theirs or is
    verified already."""
    now = svc.clock()
    async with svc.db.session() as s:
        result = await s.exec(
            update(EmailAddressRow)
            .where(
                col(EmailAddressRow.id) == address_id,
                col(EmailAddressRow.user_id) == user_id,
                col(EmailAddressRow.verified_at).is_(None),
            )
            .values(verified_at=now)
        )
        if not result.rowcount:
            return False
        record_event(
            s,
            "email.verified",
            at=now,
            meta=meta,
            user_id=user_id,
            address_id=address_id,
            actor=admin_id,
        )
    return True


def parse_metadata_field(text: str, *, kind: MetadataKind) -> object:
    """What a metadata editor holds, parsed (`checked_metadata` judges it after).

    Raises:
        FieldError: `metadata_not_json` (field `kind`).
    """
    try:
        return json.loads(text.strip() or "{}")
    except (ValueError, RecursionError):
        raise FieldError("metadata_not_json", field=kind) from None


async def save_metadata(
    svc: Services,
    *,
    admin_id: str,
    user_id: str,
    texts: dict[MetadataKind, str],
    meta: RequestMeta,
) -> bool:
    """Replace the user's three metadata objects with the editors' JSON, all checked
    before any is written; False when the user is gone.

    Raises:
        FieldError: an editor's text is not a JSON object, or is too large.
    """
    values = {kind: parse_metadata_field(text, kind=kind) for kind, text in texts.items()}
    stored = await replace_metadata(svc, user_id, values, meta=meta, by="admin", actor=admin_id)
    return stored is not None
