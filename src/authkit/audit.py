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

__all__ = ["RequestMeta", "record_event"]


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """Who is asking: kept on the session row and in the audit log."""

    ip_address: str = ""
    user_agent: str = ""


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
    """Add an audit row to the open transaction; returns its id."""
    event_id = new_id("evt")
    s.add(
        AuditEventRow(
            id=event_id,
            at=at,
            event=event,
            user_id=user_id,
            session_id=session_id,
            ip_address=meta.ip_address[:64],
            user_agent=meta.user_agent[:512],
            detail=detail,
        )
    )
    return event_id
