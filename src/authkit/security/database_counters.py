"""
Rate-limit counters in the database, for the per-account rules when there is no Redis:
their windows reach 30 days, every worker must see the same count, and a flood of
made-up addresses must not push a real account's count out of memory. A bucket holds at
most its longest window's amount of rows (refused hits are not recorded); expired rows
go with `authkit prune`.

Parallel hits on one bucket are judged one at a time: PostgreSQL takes a transaction
advisory lock on the bucket, and SQLite's first statement is the insert, which takes the
database's write lock before anything is read.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..ids import new_id
from ..store.db import Database
from ..store.models import RateLimitHitRow
from .moving_windows import Window, most_that_decide, retry_after

__all__ = ["DatabaseCounters", "prune_rate_limit_hits"]


class DatabaseCounters:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def hit(
        self, bucket: str, windows: Sequence[Window], *, within: AsyncSession | None = None
    ) -> int | None:
        """Count a hit unless a window is full; returns None, or the seconds to wait.
        `within`: the caller's open transaction, when it has one (on SQLite a second
        one would wait for its write lock for ever); the hit commits with it."""
        if within is not None:
            return await self._hit(within, bucket, windows)
        async with self._db.session() as s:
            return await self._hit(s, bucket, windows)

    async def _hit(self, s: AsyncSession, bucket: str, windows: Sequence[Window]) -> int | None:
        now = time.time()
        longest = windows[-1]
        if not self._db.is_sqlite:
            await s.exec(select(func.pg_advisory_xact_lock(func.hashtext(bucket))))
        row = RateLimitHitRow(
            id=new_id("rlh"), bucket=bucket, at=now, expires=now + longest.seconds
        )
        s.add(row)
        await s.flush()
        hits = (
            await s.exec(
                select(RateLimitHitRow.at)
                .where(
                    col(RateLimitHitRow.bucket) == bucket,
                    col(RateLimitHitRow.at) > now - longest.seconds,
                    col(RateLimitHitRow.id) != row.id,
                )
                .order_by(col(RateLimitHitRow.at))
            )
        ).all()
        wait = retry_after(hits, windows, now)
        if wait is not None:
            await s.delete(row)
            await s.flush()
        elif len(hits) >= (keep := most_that_decide(windows)):
            # Hits older than the newest `keep` can no longer decide anything.
            await s.exec(
                delete(RateLimitHitRow).where(
                    col(RateLimitHitRow.bucket) == bucket,
                    col(RateLimitHitRow.at) <= hits[len(hits) - keep],
                    col(RateLimitHitRow.id) != row.id,
                )
            )
        return wait

    async def clear(self, bucket: str) -> None:
        async with self._db.session() as s:
            await s.exec(delete(RateLimitHitRow).where(col(RateLimitHitRow.bucket) == bucket))


async def prune_rate_limit_hits(db: Database) -> int:
    """Delete hits whose rule's longest window has passed; returns how many."""
    async with db.session() as s:
        result = await s.exec(
            delete(RateLimitHitRow).where(col(RateLimitHitRow.expires) < time.time())
        )
    return int(result.rowcount)
