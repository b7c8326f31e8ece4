"""
Rate limits and throttling. Where the counters live:

- with `AUTHKIT_REDIS_URL`, every rule counts in Redis (the `limits` library's moving
  windows), shared by every worker and host;
- without it, client-IP rules count in process memory (`memory_counters`: bounded, cost
  per check independent of the number of clients) and per-account rules, whose windows
  reach 30 days, count in the database (`database_counters`), shared by every worker.

Two kinds of key: the client IP (stops one machine hammering many accounts) and the
account, i.e. the normalized email (stops many machines hammering one account). Account
keys use moving windows of growing length, so repeated failures meet growing delays and
failures without a success stay under NIST's cap of 100 — but every window expires and a
success or a password reset clears them, so an attacker can delay a user, never lock them
out for good.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from math import ceil
from typing import Protocol, TypeVar

from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from sqlmodel.ext.asyncio.session import AsyncSession

from ..errors import ConfigError, RateLimited, StoreError
from ..store.db import Database
from .database_counters import DatabaseCounters
from .memory_counters import MemoryCounters
from .moving_windows import Window, windows_of
from .secrets import keyed_hash

__all__ = ["DEFAULT_RULES", "RateLimiter", "ip_bucket"]

logger = logging.getLogger("authkit.ratelimit")
_T = TypeVar("_T")

#: rule name → limits, in the `limits` notation. Account rules count failures or sends;
#: IP rules count every attempt.
DEFAULT_RULES: Mapping[str, str] = {
    "sign_in:ip": "30/minute;300/hour",
    # A passkey challenge is asked for on every sign-in page view (for autofill): a row
    # each, so a generous but real bound.
    "passkey_options:ip": "60/minute;600/hour",
    # 5 wrong passwords a minute, 20 an hour, 50 a day, 90 in 30 days: growing delays,
    # and fewer than NIST 800-63B's 100 consecutive failures. A success or a password
    # reset by email clears them all, so the owner is never locked out for good.
    "sign_in:account": "5/minute;20/hour;50/day;90/30 days",
    "sign_up:ip": "10/minute;60/hour",
    # Mail bombing: few codes per address, and per sender.
    "code_send:account": "3/minute;10/hour;30/day",
    "code_send:ip": "10/minute;60/hour",
    "code_verify:ip": "30/minute;300/hour",
    "reset:ip": "10/minute;60/hour",
    # Guessing the current password from a signed-in session (a borrowed laptop).
    "password_change:account": "5/minute;20/hour;50/day",
    # Every upload is decoded (CPU on hostile bytes): enough to try a few pictures.
    "avatar_upload:account": "5/minute;20/hour;50/day",
    # Invitations mailed by one organization (sent and sent again): a team's worth a
    # day, never a spam run.
    "org_invite:account": "20/minute;100/hour;500/day",
    # Bot protection (flows/bot_check.py). A form sent without the proof of work (no
    # JavaScript, or a bot) counts against these tighter limits instead.
    "sign_up_unproven:ip": "3/minute;10/hour",
    "sign_in_unproven:ip": "5/minute;30/hour",
    # Failed sign-ins from one IP: once this is full, its sign-in form asks for the proof.
    "sign_in_failed:ip": "3/15 minutes",
    # Each solved challenge is taken once (a key per challenge, kept past its lifetime).
    "bot_proof:once": "1/hour",
    # Challenges handed out: a few per form, generously.
    "bot_challenge:ip": "30/minute;300/hour",
}


class RateLimiter:
    """Checks and counts attempts; raises `RateLimited` with the seconds to wait."""

    def __init__(
        self,
        *,
        redis_url: str | None,
        key: bytes,
        rules: Mapping[str, str] | None = None,
        extra_rules: Mapping[str, str] | None = None,
        db: Database | None = None,
        memory: MemoryCounters | None = None,
    ) -> None:
        """`extra_rules` are the defaults that parts beyond the core add (the sign-in
        factors' own); `rules` are the host's overrides, of any rule by name. Without
        `redis_url`, account rules count in `db` (in `memory` when there is none)."""
        self._key = key
        defaults = {**DEFAULT_RULES, **(extra_rules or {})}
        unknown = sorted(set(rules or {}) - set(defaults))
        if unknown:
            raise ConfigError(
                f"Unknown rate-limit rule {unknown[0]!r}; the rules are "
                f"{', '.join(sorted(defaults))}."
            )
        self._rules: dict[str, list[RateLimitItem]] = {}
        for name, spec in {**defaults, **(rules or {})}.items():
            try:
                self._rules[name] = parse_many(spec)
            except ValueError:
                raise ConfigError(
                    f"Rate limit {name!r} must read like '5/minute;20/hour', not {spec!r}."
                ) from None
        self._windows = {name: windows_of(items) for name, items in self._rules.items()}
        if redis_url:
            redis = _RedisBackend(redis_url)
            self._ip_backend: _IpBackend = redis
            self._account_backend: _Backend = redis
        else:
            self._ip_backend = _MemoryBackend(memory or MemoryCounters())
            self._account_backend = _DatabaseBackend(db) if db is not None else self._ip_backend

    def _identifier(self, rule: str, value: str) -> str:
        if rule.endswith(":ip"):
            value = ip_bucket(value)
        # Keyed hash: the counters store no email address or IP in clear.
        return f"{rule}/{keyed_hash(self._key, value)[:32]}"

    @property
    def memory(self) -> MemoryCounters | None:
        """The in-process counters (client-IP rules without Redis), else None."""
        backend = self._ip_backend
        return backend.counters if isinstance(backend, _MemoryBackend) else None

    def _backend(self, rule: str) -> _Backend:
        return self._ip_backend if rule.endswith(":ip") else self._account_backend

    async def hit(self, rule: str, value: str, *, within: AsyncSession | None = None) -> None:
        """Count one attempt; raise `RateLimited` when it is over the limit. Inside an
        open transaction, pass it as `within`: a count kept in the database joins it."""
        wait = await self._backend(rule).hit(
            self._identifier(rule, value), self._rules[rule], self._windows[rule], within
        )
        if wait is not None:
            raise RateLimited(retry_after=wait)

    async def clear(self, rule: str, value: str) -> None:
        """Forget the count (after a success)."""
        await self._backend(rule).clear(self._identifier(rule, value), self._rules[rule])

    async def is_full(self, rule: str, value: str) -> bool:
        """Whether the next hit would be refused, counting nothing. Client-IP rules only
        (their counters live in memory or Redis)."""
        if not rule.endswith(":ip"):
            raise ValueError(f"is_full reads client-IP rules, not {rule!r}")
        return await self._ip_backend.is_full(
            self._identifier(rule, value), self._rules[rule], self._windows[rule]
        )


def ip_bucket(address: str) -> str:
    """
    The unit an IP limit counts: one IPv4 address, or one IPv6 /64. A single IPv6 host
    usually holds a whole /64, so counting addresses would let it rotate through
    billions of fresh buckets (Better Auth CVE-2026-45364).
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class _Backend(Protocol):
    """Where one kind of counter lives: None from `hit`, or the seconds to wait."""

    async def hit(
        self,
        key: str,
        items: Sequence[RateLimitItem],
        windows: Sequence[Window],
        within: AsyncSession | None,
    ) -> int | None: ...

    async def clear(self, key: str, items: Sequence[RateLimitItem]) -> None: ...


class _IpBackend(_Backend, Protocol):
    """Where client-IP counters live (memory or Redis): also read without counting."""

    async def is_full(
        self, key: str, items: Sequence[RateLimitItem], windows: Sequence[Window]
    ) -> bool: ...


class _MemoryBackend:
    def __init__(self, counters: MemoryCounters) -> None:
        self.counters = counters

    async def hit(
        self,
        key: str,
        items: Sequence[RateLimitItem],
        windows: Sequence[Window],
        within: AsyncSession | None,
    ) -> int | None:
        return self.counters.hit(key, windows)

    async def clear(self, key: str, items: Sequence[RateLimitItem]) -> None:
        self.counters.clear(key)

    async def is_full(
        self, key: str, items: Sequence[RateLimitItem], windows: Sequence[Window]
    ) -> bool:
        return self.counters.is_full(key, windows)


class _DatabaseBackend:
    def __init__(self, db: Database) -> None:
        self._counters = DatabaseCounters(db)

    async def hit(
        self,
        key: str,
        items: Sequence[RateLimitItem],
        windows: Sequence[Window],
        within: AsyncSession | None,
    ) -> int | None:
        return await self._counters.hit(key, windows, within=within)

    async def clear(self, key: str, items: Sequence[RateLimitItem]) -> None:
        await self._counters.clear(key)


class _RedisBackend:
    def __init__(self, redis_url: str) -> None:
        storage = RedisStorage(
            "async+" + redis_url,
            implementation="redispy",
            wrap_exceptions=True,
            key_prefix="authkit",
            socket_timeout=2,
            socket_connect_timeout=2,
        )
        self._limiter = MovingWindowRateLimiter(storage)

    async def hit(
        self,
        key: str,
        items: Sequence[RateLimitItem],
        windows: Sequence[Window],
        within: AsyncSession | None,
    ) -> int | None:
        for item in items:
            if not await _fail_closed(self._limiter.hit(item, key)):
                # The honest wait is the longest of every full window's, not the first's.
                waits = [1.0]
                for other in items:
                    stats = await _fail_closed(self._limiter.get_window_stats(other, key))
                    if stats.remaining == 0:
                        waits.append(stats.reset_time - time.time())
                return max(1, ceil(max(waits)))
        return None

    async def clear(self, key: str, items: Sequence[RateLimitItem]) -> None:
        for item in items:
            await _fail_closed(self._limiter.clear(item, key))

    async def is_full(
        self, key: str, items: Sequence[RateLimitItem], windows: Sequence[Window]
    ) -> bool:
        for item in items:
            if not await _fail_closed(self._limiter.test(item, key)):
                return True
        return False


async def _fail_closed(awaitable: Awaitable[_T]) -> _T:
    try:
        return await awaitable
    except (StorageError, OSError) as exc:
        # Fail closed: without its counters, the kit allows no attempt at all.
        logger.error("rate-limit storage unavailable: %s", exc)
        raise StoreError("rate-limit storage unavailable") from exc
