"""
The audit log: one row per authentication event, written in the same transaction as
the change it records. Details never hold a password, code or token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from .ids import new_id
from .store.models import AuditEventRow

__all__ = ["Audited", "RequestMeta", "audited_in", "record_event"]

#: Where a transaction keeps what it audited (`AsyncSession.info`).
AUDITED_KEY = "authkit.audited"


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """Who is asking: kept on the session row and in the audit log."""

    ip_address: str = ""
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class Audited:
    """An event audited in a transaction: what happened, to whom."""

    event: str
    user_id: str | None


def audited_in(s: AsyncSession) -> list[Audited]:
    """The events audited in the open transaction `s` so far, oldest first."""
    return list(s.info.get(AUDITED_KEY, ()))


def record_event(
    s: AsyncSession,
    event: str,
    *,
    at: Any,
    meta: RequestMeta,
    user_id: str | None = None,
    session_id: str | None = None,
    **detail: str | int | bool | None,
) -> str:
    """Add an audit row to the open transaction; returns its id. The transaction also
    keeps a list of what it audited (`audited_in`): the webhooks hear of changes from it."""
    event_id = new_id("evt")
    s.info.setdefault(AUDITED_KEY, []).append(Audited(event, user_id))
    s.add(
        AuditEventRow(
            id=event_id,
            at=at,
            event=event,
            user_id=user_id,
            session_id=session_id,
            ip_address=meta.ip_address[:64],
            user_agent=meta.user_agent[:512],
            # `actor` (an admin acting on the account) only when there is one.
            detail={k: v for k, v in detail.items() if k != "actor" or v is not None},
        )
    )
    return event_id
