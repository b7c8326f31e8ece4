"""
Operator actions (the `authkit users` commands): create a user directly, list, ban and
delete. Banning or deleting ends every session of the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlmodel import col, select

from ..addresses import normalize_email
from ..audit import record_event
from ..errors import FieldError
from ..ids import new_id
from ..security.passwords import check_password
from ..services import Services
from ..sessions import RequestMeta, new_credential_generation
from ..store.models import EmailAddressRow, PasswordCredentialRow, SessionRow, UserRow
from ..users import clean_name

__all__ = ["UserSummary", "ban_user", "create_user", "delete_user", "find_user_id", "list_users"]

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
) -> str:
    """
    Create a user with a verified email, as an operator vouching for the address.

    Raises:
        FieldError: a field is wrong, or the address already has an account
            (`email_taken`: the operator may know).
    """
    address = normalize_email(email)
    check_password(
        password,
        min_length=svc.settings.password_min_length,
        max_length=svc.settings.password_max_length,
        email=address.email,
        context_words=(svc.settings.app_name,),
    )
    first = clean_name(first_name, field="first_name", required=False)
    last = clean_name(last_name, field="last_name", required=False)
    password_hash = await svc.hasher.hash(password)
    now = svc.clock()
    user_id = new_id("user")
    async with svc.db.session() as s:
        taken = (
            await s.exec(
                select(EmailAddressRow.id).where(
                    col(EmailAddressRow.normalized) == address.normalized
                )
            )
        ).first()
        if taken is not None:
            raise FieldError("email_taken", field="email")
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
        record_event(s, "user.created", at=now, meta=OPERATOR, user_id=user_id)
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


async def ban_user(svc: Services, user_id: str) -> bool:
    """Ban a user: no new sign-in, no refresh, every session ended. False if unknown."""
    now = svc.clock()
    async with svc.db.session() as s:
        result = await s.exec(
            update(UserRow).where(col(UserRow.id) == user_id).values(banned_at=now, updated_at=now)
        )
        if not result.rowcount:
            return False
        # Every session ends, in the same transaction, and none still being made survives.
        await new_credential_generation(svc, s, user_id)
        record_event(s, "user.banned", at=now, meta=OPERATOR, user_id=user_id)
    return True


async def delete_user(svc: Services, user_id: str) -> bool:
    """Delete a user and everything that belongs to them. False if unknown."""
    now = svc.clock()
    async with svc.db.session() as s:
        for table in (SessionRow, PasswordCredentialRow, EmailAddressRow):
            await s.exec(delete(table).where(col(table.user_id) == user_id))
        result = await s.exec(delete(UserRow).where(col(UserRow.id) == user_id))
        if not result.rowcount:
            return False
        record_event(s, "user.deleted", at=now, meta=OPERATOR, user_id=user_id)
    return True
