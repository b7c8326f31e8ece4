"""
Operator actions (the `authkit users` commands and `AuthKit.users`): create a user
directly, list, ban, unban and delete. Banning or deleting ends every session of the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Table, delete, func, update
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..addresses import normalize_email
from ..audit import record_event
from ..errors import FieldError
from ..ids import new_id
from ..security.breached import refuse_if_breached
from ..security.passwords import check_new_password
from ..services import Services
from ..sessions import RequestMeta, new_credential_generation
from ..store.models import (
    EmailAddressRow,
    PasswordCredentialRow,
    SessionRow,
    UserRow,
    VerificationCodeRow,
)
from ..users import clean_name, refuse_taken_address

__all__ = [
    "UserSummary",
    "ban_user",
    "create_user",
    "delete_user",
    "delete_user_rows",
    "find_user_id",
    "list_users",
    "owned_by_user",
    "unban_user",
]

OPERATOR = RequestMeta(ip_address="", user_agent="authkit-cli")


@dataclass(frozen=True, slots=True)
class UserSummary:
    id: str
    email: str
    name: str
    created_at: datetime
    banned: bool
    active_sessions: int


async def create_user(
    svc: Services,
    *,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    meta: RequestMeta = OPERATOR,
    actor: str | None = None,
) -> str:
    """
    Create a user with a verified email, as an operator vouching for the address
    (`actor`: the admin who did, from the console).

    Raises:
        FieldError: a field is wrong, or the address already has an account
            (`email_taken`: the operator may know).
    """
    address = normalize_email(email)
    first = clean_name(first_name, field="first_name", required=False)
    last = clean_name(last_name, field="last_name", required=False)
    check_new_password(svc.settings, password, email=address.email, names=(first, last))
    await refuse_if_breached(
        password,
        api=svc.settings.breached_password_api,
        enabled=svc.settings.breached_password_check,
    )
    password_hash = await svc.hasher.hash(password)
    now = svc.clock()
    user_id = new_id("user")
    async with svc.db.session() as s:
        await refuse_taken_address(s, address.normalized)
        s.add(UserRow(id=user_id, first_name=first, last_name=last, created_at=now, updated_at=now))
        await s.flush()
        s.add(
            EmailAddressRow(
                id=new_id("email"),
                user_id=user_id,
                email=address.email,
                normalized=address.normalized,
                verified_at=now,
                created_at=now,
            )
        )
        s.add(PasswordCredentialRow(user_id=user_id, password_hash=password_hash, updated_at=now))
        record_event(s, "user.created", at=now, meta=meta, user_id=user_id, actor=actor)
    return user_id


async def find_user_id(svc: Services, email_or_id: str) -> str | None:
    """The id of the user with this id or email address."""
    async with svc.db.session() as s:
        if email_or_id.startswith("user_"):
            row = await s.get(UserRow, email_or_id)
            return row.id if row else None
        try:
            normalized = normalize_email(email_or_id).normalized
        except FieldError:
            return None
        return (
            await s.exec(
                select(EmailAddressRow.user_id).where(col(EmailAddressRow.normalized) == normalized)
            )
        ).first()


async def list_users(svc: Services, *, limit: int = 100) -> list[UserSummary]:
    """Users, newest first, with their primary email and count of active sessions."""
    now = svc.clock()
    active = (
        select(func.count())
        .where(
            col(SessionRow.user_id) == col(UserRow.id),
            col(SessionRow.revoked_at).is_(None),
            col(SessionRow.expires_at) > now,
        )
        .scalar_subquery()
    )
    async with svc.db.session() as s:
        rows = (
            await s.exec(
                select(UserRow, EmailAddressRow.email, active)
                .join(EmailAddressRow, col(EmailAddressRow.user_id) == col(UserRow.id))
                .where(col(EmailAddressRow.is_primary).is_(True))
                .order_by(col(UserRow.created_at).desc(), col(UserRow.id))
                .limit(limit)
            )
        ).all()
    return [
        UserSummary(
            id=user.id,
            email=email,
            name=" ".join(p for p in (user.first_name, user.last_name) if p),
            created_at=user.created_at,
            banned=user.banned_at is not None,
            active_sessions=int(count or 0),
        )
        for user, email, count in rows
    ]


async def ban_user(
    svc: Services,
    user_id: str,
    *,
    meta: RequestMeta = OPERATOR,
    actor: str | None = None,
    lock: bool = False,
) -> bool:
    """Ban a user: no new sign-in, no refresh, every session ended. False if unknown.
    `actor` is the admin who did it, when one did (audited); `lock` marks a ban meant
    to be lifted (the console's "Lock"). A locked user can still be banned for good."""
    now = svc.clock()
    async with svc.db.session() as s:
        result = await s.exec(
            update(UserRow)
            .where(col(UserRow.id) == user_id)
            .values(banned_at=now, locked=lock, updated_at=now)
        )
        if not result.rowcount:
            return False
        # Every session ends, in the same transaction, and none still being made survives.
        await new_credential_generation(svc, s, user_id)
        event = "user.locked" if lock else "user.banned"
        record_event(s, event, at=now, meta=meta, user_id=user_id, actor=actor)
    return True


async def unban_user(
    svc: Services, user_id: str, *, meta: RequestMeta = OPERATOR, actor: str | None = None
) -> bool:
    """Lift a ban or a lock: the user may sign in again (their old sessions stay
    ended). False if unknown or neither banned nor locked."""
    now = svc.clock()
    async with svc.db.session() as s:
        was_locked = (
            await s.exec(
                select(UserRow.locked).where(
                    col(UserRow.id) == user_id, col(UserRow.banned_at).is_not(None)
                )
            )
        ).first()
        if was_locked is None:
            return False
        await s.exec(
            update(UserRow)
            .where(col(UserRow.id) == user_id)
            .values(banned_at=None, locked=False, updated_at=now)
        )
        event = "user.unlocked" if was_locked else "user.unbanned"
        record_event(s, event, at=now, meta=meta, user_id=user_id, actor=actor)
    return True


async def delete_user(svc: Services, user_id: str, *, meta: RequestMeta = OPERATOR) -> bool:
    """Delete a user and every row that belongs to them, in one transaction (see
    `delete_user_rows`). False if unknown."""
    async with svc.db.session() as s:
        return await delete_user_rows(svc, s, user_id, meta=meta)


async def delete_user_rows(
    svc: Services,
    s: AsyncSession,
    user_id: str,
    *,
    meta: RequestMeta,
    session_id: str | None = None,
    **detail: str | int | bool | None,
) -> bool:
    """
    Delete, in the open transaction `s`, the user and every row that belongs to them:
    each table with a foreign key to the user (found in the schema, so a table added
    later is not forgotten), and the emailed-code steps for their addresses. The audit
    log keeps its rows (they name ids, for the operator), plus a `user.deleted` one
    carrying `detail`. False if unknown.
    """
    addresses = (
        await s.exec(
            select(EmailAddressRow.normalized).where(col(EmailAddressRow.user_id) == user_id)
        )
    ).all()
    if addresses:
        await s.exec(
            delete(VerificationCodeRow).where(
                col(VerificationCodeRow.email_normalized).in_(addresses)
            )
        )
    for table, column in owned_by_user():
        await s.exec(delete(table).where(column == user_id))
    result = await s.exec(delete(UserRow).where(col(UserRow.id) == user_id))
    if not result.rowcount:
        return False
    record_event(
        s,
        "user.deleted",
        at=svc.clock(),
        meta=meta,
        user_id=user_id,
        session_id=session_id,
        **detail,
    )
    return True


def owned_by_user() -> list[tuple[Table, Column[Any]]]:
    """Every (table, column) whose column is a foreign key to users.id, the tables that
    depend on others first."""
    users_id = UserRow.__table__.c.id  # type: ignore[attr-defined]
    owned = []
    for table in reversed(SQLModel.metadata.sorted_tables):
        for key in table.foreign_keys:
            if key.column is users_id:
                owned.append((table, key.parent))
    return owned
