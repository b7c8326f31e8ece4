"""
The one source of time. Flows and the middleware take a `Clock` so tests move time
instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["Clock", "as_utc", "doubling_pause", "system_clock"]

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | str) -> datetime:
    """A stored time as an aware UTC datetime: SQLite gives naive ones back, and its
    CURRENT_TIMESTAMP as text (UTC, to the second)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def doubling_pause(attempts: int, *, first: timedelta, most: timedelta) -> timedelta:
    """The pause before the next try after `attempts` tries: `first`, doubling, at most
    `most` (the exponent bounded, so a long run of failures cannot overflow)."""
    pause: timedelta = first * (2 ** min(max(attempts - 1, 0), 30))
    return min(pause, most)
