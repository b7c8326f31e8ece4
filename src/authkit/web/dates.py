"""
Dates and times as the templates show them, all in UTC (the server knows no reader's
time zone, so a time says it is UTC), in the reader's language (authkit.i18n.formats):
`ak_date` ("3 March 2025"), `ak_datetime` ("3 March 2025, 14:05 UTC") and `ak_ago`
("5 min ago", from the catalogue's sentences; a date once it is over a week).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import jinja2
from jinja2.runtime import Context

from ..i18n.formats import date_text, datetime_text, utc

__all__ = ["ago_text", "date_text", "datetime_text", "register_date_filters"]

_WEEK = timedelta(days=7)


@jinja2.pass_context
def ago_text(context: Context, at: datetime, now: datetime) -> str:
    """How long before `now` `at` was, in the catalogue's words (`t` in the context)."""
    t = context["t"]
    elapsed = max(timedelta(0), utc(now) - utc(at))
    minutes = int(elapsed.total_seconds() // 60)
    if minutes < 1:
        return str(t("ago_now"))
    if minutes < 60:
        return str(t("ago_minutes", count=minutes))
    if minutes < 24 * 60:
        return str(t("ago_hours", count=minutes // 60))
    if elapsed < _WEEK:
        days = elapsed.days
        return str(t("ago_yesterday") if days == 1 else t("ago_days", count=days))
    return date_text(at)


def register_date_filters(environment: jinja2.Environment) -> None:
    environment.filters["ak_date"] = date_text
    environment.filters["ak_datetime"] = datetime_text
    environment.filters["ak_ago"] = ago_text
