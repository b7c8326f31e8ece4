"""
Deleting what has ended. Sessions and emailed-code steps are rows that would otherwise
only grow: each is kept `ENDED_RETENTION` after it ended (expired, revoked or used), then
deleted. Per-account rate-limit hits go as soon as their longest window has passed.
Audit events are kept; they name ids, not rows. Pruning runs at most once per
`PRUNE_INTERVAL` per process, on a sign-in, and on demand with `authkit prune`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_
from sqlmodel import col

from .security.database_counters import prune_rate_limit_hits
from .services import Services
from .store.models import SessionRow, VerificationCodeRow

__all__ = ["ENDED_RETENTION", "PRUNE_INTERVAL", "Pruned", "prune", "prune_if_due"]

#: How long an ended session or code step stays for support questions.
ENDED_RETENTION = timedelta(days=7)
#: How often one process prunes on its own.
PRUNE_INTERVAL = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Pruned:
    sessions: int
    codes: int
    rate_limit_hits: int = 0
    webhook_events: int = 0


async def prune(svc: Services) -> Pruned:
    """Delete sessions and code steps that ended more than `ENDED_RETENTION` ago, and
    rate-limit hits that can no longer count, and webhook events past the log's days."""
    now = svc.clock()
    cutoff = now - ENDED_RETENTION
    async with svc.db.session() as s:
        sessions = await s.exec(
            delete(SessionRow).where(
                or_(col(SessionRow.expires_at) < cutoff, col(SessionRow.revoked_at) < cutoff)
            )
        )
        codes = await s.exec(
            delete(VerificationCodeRow).where(
                or_(
                    col(VerificationCodeRow.expires_at) < cutoff,
                    col(VerificationCodeRow.consumed_at) < cutoff,
                )
            )
        )
    hits = await prune_rate_limit_hits(svc.db)
    events = await svc.webhooks.prune()
    svc.pruned_at = now
    return Pruned(int(sessions.rowcount), int(codes.rowcount), hits, events)


async def prune_if_due(svc: Services) -> None:
    """Prune when this process has not done so for `PRUNE_INTERVAL`."""
    pruned_at = svc.pruned_at
    if pruned_at is None or svc.clock() - pruned_at >= PRUNE_INTERVAL:
        await prune(svc)
