"""
Active devices, seen and managed by their owner: one per live session (not revoked,
not expired, not left behind by a credential change), with the browser and system its
User-Agent names, its IP and when it signed in and was last active. The owner can sign
out any other device, or all of them at once.

Signing a device out revokes its session row: its refresh token stops working at once,
so the device is signed out when its session token expires (one token lifetime).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..audit import RequestMeta, record_event
from ..clock import as_utc
from ..services import Services
from ..sessions import revoke_all_sessions, revoke_session
from ..store.models import SessionRow, UserRow
from ..user_agents import UserAgentSummary, describe_user_agent

__all__ = ["Device", "active_devices", "revoke_device", "revoke_other_devices"]


@dataclass(frozen=True, slots=True)
class Device:
    """A signed-in browser of the user, as the Security section lists it."""

    session_id: str
    agent: UserAgentSummary
    ip_address: str
    signed_in_at: datetime
    last_active_at: datetime
    #: When the list was read: "last active" is relative to it.
    as_of: datetime
    #: The session of the browser looking at the list.
    is_current: bool


async def active_devices(
    svc: Services, user_id: str, *, current_session_id: str | None
) -> list[Device]:
    """The user's live sessions: this device first, then the most recently active."""
    async with svc.db.session() as s:
        now = await _store_now(svc, s)
        rows = (
            await s.exec(
                select(SessionRow)
                .join(UserRow, col(UserRow.id) == col(SessionRow.user_id))
                .where(
                    col(SessionRow.user_id) == user_id,
                    col(SessionRow.revoked_at).is_(None),
                    col(SessionRow.expires_at) > now,
                    # Made under older credentials: refused at its next refresh already.
                    col(SessionRow.credential_generation) == col(UserRow.credential_generation),
                )
                .order_by(col(SessionRow.last_active_at).desc(), col(SessionRow.id))
            )
        ).all()
    devices = [
        Device(
            session_id=row.id,
            agent=describe_user_agent(row.user_agent),
            ip_address=row.ip_address,
            signed_in_at=as_utc(row.created_at),
            # This device is the one asking: active now, whatever its row last recorded
            # (a refresh under way is committed only as the page goes out).
            last_active_at=now if row.id == current_session_id else as_utc(row.last_active_at),
            as_of=now,
            is_current=row.id == current_session_id,
        )
        for row in rows
    ]
    return sorted(devices, key=lambda d: not d.is_current)


async def revoke_device(
    svc: Services, *, user_id: str, session_id: str, current_session_id: str, meta: RequestMeta
) -> bool:
    """
    Sign out one other device of the user; False (and nothing touched) when
    `session_id` is not a live session of theirs, or is the one asking (signing out
    does that).
    """
    if session_id == current_session_id:
        return False
    async with svc.db.session() as s:
        now = await _store_now(svc, s)
        owned = (
            await s.exec(
                select(SessionRow.id).where(
                    col(SessionRow.id) == session_id,
                    col(SessionRow.user_id) == user_id,
                    col(SessionRow.revoked_at).is_(None),
                    col(SessionRow.expires_at) > now,
                )
            )
        ).first()
        if owned is None or not await revoke_session(svc, s, session_id):
            return False
        record_event(
            s,
            "session.revoked",
            at=svc.clock(),
            meta=meta,
            user_id=user_id,
            session_id=current_session_id,
            revoked_session_id=session_id,
        )
    return True


async def revoke_other_devices(
    svc: Services, *, user_id: str, current_session_id: str, meta: RequestMeta
) -> int:
    """Sign out every device of the user but this one; returns how many."""
    async with svc.db.session() as s:
        ended = await revoke_all_sessions(
            svc, user_id, except_session_id=current_session_id, within=s
        )
        if ended:
            record_event(
                s,
                "session.revoked",
                at=svc.clock(),
                meta=meta,
                user_id=user_id,
                session_id=current_session_id,
                others=True,
                count=ended,
            )
    return ended


async def _store_now(svc: Services, s: AsyncSession) -> datetime:
    """The clock session ends are judged by (as in sessions.py): the injected store
    clock, else the database's, which every worker shares."""
    if svc.store_clock is not None:
        return svc.store_clock()
    return as_utc((await s.exec(select(func.now()))).one())
