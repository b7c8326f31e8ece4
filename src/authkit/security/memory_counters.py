"""
Rate-limit counters in process memory, bounded. Each counter is the list of its accepted
hits within the rule's longest window (never more than that window's amount), kept in
least-recently-used order. A check touches one counter and at most two of the oldest
(dropping them when their windows have passed), so its cost does not grow with the number
of counters, and nothing sweeps in the background. Past `max_counters` counters or
`max_hits` stored hits the least recently used counters are dropped, with a warning:
memory stays capped, at the price of forgetting quiet clients first. Sites that see more
distinct clients than that in an hour want Redis (`AUTHKIT_REDIS_URL`).
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Sequence

from .moving_windows import Window, most_that_decide, retry_after

__all__ = ["MAX_COUNTERS", "MAX_HITS", "MemoryCounters"]

logger = logging.getLogger("authkit.ratelimit")

#: Counters kept, and hits stored across them: about 360 bytes a counter with a hit or two,
#: 32 per further hit (bench/limiter_memory.py: +36 MB at 100,000 counters, +52 MB once a
#: million clients went through).
MAX_COUNTERS = 100_000
MAX_HITS = 1_000_000
#: Oldest counters looked at per check, to drop ones whose windows have all passed.
EXPIRE_PER_CHECK = 2
#: At most one "memory full" warning this often.
WARN_EVERY_SECONDS = 60.0


class _Counter:
    __slots__ = ("hits", "keep_seconds")

    def __init__(self, keep_seconds: int) -> None:
        self.keep_seconds = keep_seconds
        self.hits: list[float] = []


class MemoryCounters:
    """Moving-window counters for one process; see the module docstring."""

    def __init__(self, *, max_counters: int | None = None, max_hits: int | None = None) -> None:
        self._counters: OrderedDict[str, _Counter] = OrderedDict()
        self._max_counters = max_counters if max_counters is not None else MAX_COUNTERS
        self._max_hits = max_hits if max_hits is not None else MAX_HITS
        self._stored_hits = 0
        self._warned_at = float("-inf")

    def __len__(self) -> int:
        return len(self._counters)

    @property
    def stored_hits(self) -> int:
        return self._stored_hits

    def hit(self, key: str, windows: Sequence[Window]) -> int | None:
        """Count a hit unless a window is full; returns None, or the seconds to wait."""
        now = time.time()
        keep = windows[-1].seconds
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = _Counter(keep)
        else:
            self._counters.move_to_end(key)
            self._forget_old(counter, now)
        wait = retry_after(counter.hits, windows, now)
        if wait is None:
            counter.hits.append(now)
            self._stored_hits += 1
            if len(counter.hits) > most_that_decide(windows):
                # Hits older than that many can no longer decide anything.
                del counter.hits[0]
                self._stored_hits -= 1
        self._expire_oldest(now)
        self._keep_in_bounds()
        return wait

    def is_full(self, key: str, windows: Sequence[Window]) -> bool:
        """Whether a hit now would be refused; counts nothing."""
        counter = self._counters.get(key)
        if counter is None:
            return False
        now = time.time()
        self._forget_old(counter, now)
        return retry_after(counter.hits, windows, now) is not None

    def clear(self, key: str) -> None:
        counter = self._counters.pop(key, None)
        if counter is not None:
            self._stored_hits -= len(counter.hits)

    def _forget_old(self, counter: _Counter, now: float) -> None:
        old = bisect_right(counter.hits, now - counter.keep_seconds)
        if old:
            del counter.hits[:old]
            self._stored_hits -= old

    def _expire_oldest(self, now: float) -> None:
        for _ in range(EXPIRE_PER_CHECK):
            if not self._counters:
                return
            key, counter = next(iter(self._counters.items()))
            if counter.hits and counter.hits[-1] > now - counter.keep_seconds:
                return
            self.clear(key)

    def _keep_in_bounds(self) -> None:
        dropped = 0
        while len(self._counters) > self._max_counters or self._stored_hits > self._max_hits:
            _, counter = self._counters.popitem(last=False)
            self._stored_hits -= len(counter.hits)
            dropped += 1
        if dropped:
            now = time.time()
            if now - self._warned_at >= WARN_EVERY_SECONDS:
                self._warned_at = now
                logger.warning(
                    "rate-limit memory is full (%d counters): the least recently used are "
                    "being forgotten; set AUTHKIT_REDIS_URL to keep them all",
                    len(self._counters),
                )
