"""
Moving-window limits judged from a list of hit times: the one rule both of authkit's own
counter stores (process memory for client IPs, the database for accounts) apply, so they
cannot disagree. A limit "5/minute" refuses a hit when 5 accepted hits lie within the last
60 seconds; refused hits are not recorded, so an attacker who keeps knocking does not push
the owner's wait further out.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil

from limits import RateLimitItem

__all__ = ["Window", "most_that_decide", "retry_after", "windows_of"]


@dataclass(frozen=True, slots=True)
class Window:
    amount: int
    seconds: int


def windows_of(items: Sequence[RateLimitItem]) -> tuple[Window, ...]:
    """The rule's limits, longest window last (the one that decides what to keep)."""
    return tuple(
        sorted((Window(item.amount, item.get_expiry()) for item in items), key=lambda w: w.seconds)
    )


def most_that_decide(windows: Sequence[Window]) -> int:
    """How many of the newest hits can still refuse one: older ones need not be kept."""
    return max(window.amount for window in windows)


def retry_after(hits: Sequence[float], windows: Sequence[Window], now: float) -> int | None:
    """
    None when one more hit at `now` is within every window; else the seconds until it
    would be. `hits` are the accepted hits' times, oldest first.
    """
    refused = False
    wait = 0.0
    for window in windows:
        recent = len(hits) - bisect_right(hits, now - window.seconds)
        if recent >= window.amount:
            refused = True
            # Allowed again once the amount-th newest hit leaves the window.
            oldest_that_counts = hits[len(hits) - window.amount]
            wait = max(wait, oldest_that_counts + window.seconds - now)
    return max(1, ceil(wait)) if refused else None
