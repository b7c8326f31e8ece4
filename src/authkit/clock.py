"""
The one source of time. Flows and the middleware take a `Clock` so tests move time
instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "system_clock"]

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)
