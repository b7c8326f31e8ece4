"""
Rate limits and throttling, on the `limits` library: counters in process memory by
default, in Redis when `AUTHKIT_REDIS_URL` is set so every worker and host shares them.

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
from collections.abc import Awaitable, Mapping
from math import ceil
from typing import Protocol, TypeVar

from limits import RateLimitItem, WindowStats, parse_many
from limits import strategies as sync_strategies
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import MemoryStorage

from ..errors import ConfigError, RateLimited, StoreError
from .secrets import keyed_hash

__all__ = ["DEFAULT_RULES", "RateLimiter", "ip_bucket"]

logger = logging.getLogger("authkit.ratelimit")
_T = TypeVar("_T")

#: rule name → limits, in the `limits` notation. Account rules count failures or sends;
#: IP rules count every attempt.
DEFAULT_RULES: Mapping[str, str] = {
    "sign_in:ip": "30/minute;300/hour",
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
    ) -> None:
        """`extra_rules` are the defaults that parts beyond the core add (the sign-in
        factors' own); `rules` are the host's overrides, of any rule by name."""
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
        self._limiter: _Backend = _RedisBackend(redis_url) if redis_url else _MemoryBackend()

    def _identifier(self, rule: str, value: str) -> str:
        if rule.endswith(":ip"):
            value = ip_bucket(value)
        # Keyed hash: the counters store no email address or IP in clear.
        return keyed_hash(self._key, value)[:32]

    async def hit(self, rule: str, value: str) -> None:
        """Count one attempt; raise `RateLimited` when it is over the limit."""
        ident = self._identifier(rule, value)
        for item in self._rules[rule]:
            if not await self._limiter.hit(item, rule, ident):
                raise RateLimited(retry_after=await self._retry_after(item, rule, ident))

    async def clear(self, rule: str, value: str) -> None:
        """Forget the count (after a success)."""
        ident = self._identifier(rule, value)
        for item in self._rules[rule]:
            await self._limiter.clear(item, rule, ident)

    async def _retry_after(self, item: RateLimitItem, rule: str, ident: str) -> int:
        stats = await self._limiter.get_window_stats(item, rule, ident)
        return max(1, ceil(stats.reset_time - time.time()))


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
    """The three operations we use, async whatever the storage."""

    async def hit(self, item: RateLimitItem, *ids: str) -> bool: ...

    async def clear(self, item: RateLimitItem, *ids: str) -> None: ...

    async def get_window_stats(self, item: RateLimitItem, *ids: str) -> WindowStats: ...


class _MemoryBackend:
    # The synchronous in-memory storage: plain dictionary work, no I/O to await (the async
    # one races its own expiry task against clear()).
    def __init__(self) -> None:
        self._limiter = sync_strategies.MovingWindowRateLimiter(MemoryStorage())

    async def hit(self, item: RateLimitItem, *ids: str) -> bool:
        return self._limiter.hit(item, *ids)

    async def clear(self, item: RateLimitItem, *ids: str) -> None:
        self._limiter.clear(item, *ids)

    async def get_window_stats(self, item: RateLimitItem, *ids: str) -> WindowStats:
        return self._limiter.get_window_stats(item, *ids)


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

    async def hit(self, item: RateLimitItem, *ids: str) -> bool:
        return await _fail_closed(self._limiter.hit(item, *ids))

    async def clear(self, item: RateLimitItem, *ids: str) -> None:
        await _fail_closed(self._limiter.clear(item, *ids))

    async def get_window_stats(self, item: RateLimitItem, *ids: str) -> WindowStats:
        return await _fail_closed(self._limiter.get_window_stats(item, *ids))


async def _fail_closed(awaitable: Awaitable[_T]) -> _T:
    try:
        return await awaitable
    except (StorageError, OSError) as exc:
        # Fail closed: without its counters, the kit allows no attempt at all.
        logger.error("rate-limit storage unavailable: %s", exc)
        raise StoreError("rate-limit storage unavailable") from exc
