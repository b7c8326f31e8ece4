"""
Dates, times and waits in the reader's language, from Babel's CLDR data. Times are in UTC
and say so (the server knows no reader's time zone).
"""

from __future__ import annotations

from datetime import UTC, datetime

from babel.dates import format_date, format_time, get_datetime_format
from babel.units import format_unit

from .locales import current_locale

__all__ = ["Wait", "date_text", "datetime_text", "utc", "wait_text"]


def utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def date_text(at: datetime, locale: str | None = None) -> str:
    """`3 March 2025`, `3. März 2025`, `2025年3月3日`."""
    locale = locale or current_locale()
    # English as the rest of the profile writes dates (day first, no comma).
    pattern = "d MMMM y" if locale.split("_", 1)[0] == "en" else "long"
    return format_date(utc(at).date(), pattern, locale=locale)


def datetime_text(at: datetime, locale: str | None = None) -> str:
    """`3 March 2025, 14:05 UTC`, in the language's order and punctuation."""
    locale = locale or current_locale()
    at = utc(at)
    time = format_time(at, "HH:mm", locale=locale) + " UTC"
    return str(get_datetime_format("medium", locale=locale)).format(time, date_text(at, locale))


def wait_text(seconds: int, locale: str | None = None) -> str:
    """How long to wait, rounded up to a whole unit: `45 seconds`, `2 minutes`, `3 days`."""
    locale = locale or current_locale()
    if seconds < 60:
        return format_unit(max(seconds, 1), "duration-second", "long", locale=locale)
    minutes = -(-seconds // 60)
    if minutes < 60:
        return format_unit(minutes, "duration-minute", "long", locale=locale)
    hours = -(-minutes // 60)
    if hours < 48:
        return format_unit(hours, "duration-hour", "long", locale=locale)
    return format_unit(-(-hours // 24), "duration-day", "long", locale=locale)


class Wait:
    """A wait as a sentence's field: written out in the language it is shown in."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds

    def __str__(self) -> str:
        return wait_text(self.seconds)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Wait) and self.seconds == other.seconds

    def __hash__(self) -> int:
        return hash(self.seconds)

    def __repr__(self) -> str:
        return f"Wait({self.seconds})"
