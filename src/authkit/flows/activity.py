"""
Security activity: the user's own audit events, newest first, each as a sentence
(`activity_<event>` in messages.py; a generic one for events without a sentence), with
the browser and system of the request and its IP. Only rows whose `user_id` is the
user's, never another user's.

Pages are keyset-paged on (at, id): a cursor names the last row shown, so a page stays
right while new events arrive, and costs an index range whatever its depth. A cursor
that does not parse is no cursor: the first page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..clock import as_utc
from ..services import Services
from ..store.models import AuditEventRow
from ..user_agents import UserAgentSummary, describe_user_agent

__all__ = [
    "PER_PAGE",
    "ActivityEvent",
    "ActivityPage",
    "activity_page",
    "recent_activity",
]

#: Rows on a page of the full list.
PER_PAGE = 20
_CURSOR = re.compile(r"(?P<micros>[0-9]{1,18})\.(?P<id>[a-z]{2,8}_[A-Za-z0-9_-]{1,40})")
_UNKNOWN = "activity_unknown"


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    """One row of the activity list: `message` and `params` make its sentence."""

    id: str
    at: datetime
    message: str
    params: Mapping[str, Any]
    agent: UserAgentSummary
    ip_address: str


@dataclass(frozen=True, slots=True)
class ActivityPage:
    """A page of the full list and the cursors of its neighbours (None: no such page)."""

    events: list[ActivityEvent]
    newer: str | None
    older: str | None


async def recent_activity(svc: Services, user_id: str, *, limit: int = 5) -> list[ActivityEvent]:
    """The user's newest `limit` events."""
    return (await activity_page(svc, user_id, per_page=limit)).events


async def activity_page(
    svc: Services,
    user_id: str,
    *,
    before: str | None = None,
    after: str | None = None,
    per_page: int = PER_PAGE,
) -> ActivityPage:
    """
    A page of the user's events, newest first: the first page, the one `before` (older
    than) a cursor, or the one `after` (newer than) a cursor. Garbage cursors give the
    first page.
    """
    mine = col(AuditEventRow.user_id) == user_id
    newest_first = (col(AuditEventRow.at).desc(), col(AuditEventRow.id).desc())
    older_cursor, newer_cursor = _parse_cursor(before), _parse_cursor(after)
    async with svc.db.session() as s:
        if newer_cursor is not None and older_cursor is None:
            rows = list(
                (
                    await s.exec(
                        select(AuditEventRow)
                        .where(mine, _newer_than(*newer_cursor))
                        .order_by(col(AuditEventRow.at), col(AuditEventRow.id))
                        .limit(per_page + 1)
                    )
                ).all()
            )
            has_newer = len(rows) > per_page
            rows = rows[:per_page][::-1]
            has_older = bool(rows) and await _exists(s, mine, _older_than(*_key(rows[-1])))
        else:
            query = select(AuditEventRow).where(mine)
            if older_cursor is not None:
                query = query.where(_older_than(*older_cursor))
            rows = list((await s.exec(query.order_by(*newest_first).limit(per_page + 1))).all())
            has_older = len(rows) > per_page
            rows = rows[:per_page]
            has_newer = (
                older_cursor is not None
                and bool(rows)
                and await _exists(s, mine, _newer_than(*_key(rows[0])))
            )
    if not rows and (older_cursor or newer_cursor):
        # Nothing past the cursor (those rows went, or it was made up): the first page.
        return await activity_page(svc, user_id, per_page=per_page)
    events = [_event(svc, row) for row in rows]
    return ActivityPage(
        events=events,
        newer=_cursor(rows[0]) if has_newer else None,
        older=_cursor(rows[-1]) if has_older else None,
    )


async def _exists(s: AsyncSession, *conditions: ColumnElement[bool]) -> bool:
    found = await s.exec(select(AuditEventRow.id).where(*conditions).limit(1))
    return found.first() is not None


def _newer_than(at: datetime, event_id: str) -> ColumnElement[bool]:
    at_column, id_column = col(AuditEventRow.at), col(AuditEventRow.id)
    return or_(at_column > at, and_(at_column == at, id_column > event_id))


def _older_than(at: datetime, event_id: str) -> ColumnElement[bool]:
    at_column, id_column = col(AuditEventRow.at), col(AuditEventRow.id)
    return or_(at_column < at, and_(at_column == at, id_column < event_id))


def _key(row: AuditEventRow) -> tuple[datetime, str]:
    return as_utc(row.at), row.id


def _cursor(row: AuditEventRow) -> str:
    at, event_id = _key(row)
    micros = (at - _EPOCH) // _MICROSECOND
    return f"{micros}.{event_id}"


def _parse_cursor(value: str | None) -> tuple[datetime, str] | None:
    match = _CURSOR.fullmatch(value or "")
    if match is None:
        return None
    try:
        at = _EPOCH + int(match["micros"]) * _MICROSECOND
    except OverflowError:
        return None
    return at, match["id"]


def _event(svc: Services, row: AuditEventRow) -> ActivityEvent:
    message, params = _sentence(svc, row.event, row.detail or {})
    return ActivityEvent(
        id=row.id,
        at=as_utc(row.at),
        message=message,
        params=params,
        agent=describe_user_agent(row.user_agent),
        ip_address=row.ip_address,
    )


def _sentence(
    svc: Services, event: str, detail: Mapping[str, Any]
) -> tuple[str, Mapping[str, Any]]:
    """The message code and its fields for an event; its variants first (a folded row
    of repeated failures, "all other devices" rather than one)."""
    code = "activity_" + event.replace(".", "_")
    repeats = detail.get("repeats")
    if isinstance(repeats, int) and repeats > 0 and f"{code}_repeated" in svc.messages:
        return f"{code}_repeated", {"count": repeats}
    if detail.get("others") is True and f"{code}_others" in svc.messages:
        return f"{code}_others", {}
    if isinstance(detail.get("actor"), str) and f"{code}_by_admin" in svc.messages:
        # Done to the account by an admin of the site, not by its owner.
        return f"{code}_by_admin", {}
    params: dict[str, Any] = {}
    if isinstance(detail.get("provider"), str):
        # A social-login event names its provider as the buttons do.
        provider = svc.settings.oauth_provider(detail["provider"])
        params["provider"] = provider.label if provider else detail["provider"].capitalize()
    if isinstance(detail.get("passkey"), str):
        params["name"] = detail["passkey"]
    return (code if code in svc.messages else _UNKNOWN), params


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = datetime.resolution
