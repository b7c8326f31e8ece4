"""
Defect 19 (issue 11, defect 2): a flood of sign-ins from ever new IPv6 /64s with ever new
made-up addresses grew the default, in-process rate limiter without bound (~3.5 KB a
request for 30 days) and its expiry sweep walked every key. Now client-IP counters live in
a capped in-memory structure, per-account counters (windows up to 30 days) in the
database, and a flood can neither grow memory past the cap nor push a real account's
failures out. On SQLite and PostgreSQL; the cost per check is in bench/limiter_memory.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from authkit import AuthKit
from authkit.audit_folds import ROWS_PER_MINUTE
from authkit.pruning import prune
from authkit.security import memory_counters
from authkit.security.memory_counters import MemoryCounters
from authkit.security.moving_windows import Window
from authkit.store.models import AuditEventRow, RateLimitHitRow

from ..conftest import FakeClock, KitFactory, Mailbox
from ..hostapp import make_host_app
from .throttle_helpers import (
    DAY,
    MINUTE,
    fresh_email,
    guess,
    limiter_follows,
    new_account,
    retry_after,
)

pytestmark = pytest.mark.anyio

#: The cap the tests give the in-memory counters (the default is 100,000).
CAP = 40
FLOOD = 4 * CAP


@pytest.fixture
async def kit(
    make_kit: KitFactory, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AuthKit]:
    """No Redis: the default counters, with a small memory cap, on the test's clock."""
    limiter_follows(clock, monkeypatch)
    monkeypatch.setattr(memory_counters, "MAX_COUNTERS", CAP)
    kit = make_kit(trusted_proxies="127.0.0.1")
    yield kit
    await kit.aclose()


async def flood(kit: AuthKit) -> None:
    """Sign-ins with a new made-up address from a new /64 each, as the probe sent them."""
    app = make_host_app(kit)
    for _ in range(FLOOD):
        assert (await guess(app, fresh_email("junk"))).status_code == 422


async def hit_rows(kit: AuthKit) -> int:
    async with kit.services.db.session() as s:
        return int((await s.exec(select(func.count()).select_from(RateLimitHitRow))).one())


async def test_a_flood_of_new_clients_and_addresses_keeps_the_limiters_memory_capped(
    kit: AuthKit, caplog: pytest.LogCaptureFixture
) -> None:
    await kit.ensure_started()
    await flood(kit)
    memory = kit.services.limiter.memory
    assert memory is not None
    # Only client-IP counters are in memory, never more than the cap ...
    assert len(memory) <= CAP
    assert memory.stored_hits <= CAP * 30  # sign_in:ip keeps at most 30 hits per client
    # ... said once, not once per request.
    full = [r for r in caplog.records if "rate-limit memory is full" in r.getMessage()]
    assert len(full) == 1, [r.getMessage() for r in full]
    # The accounts' counts are rows, one per made-up address, and go when they expire.
    assert await hit_rows(kit) == FLOOD


async def failure_rows(kit: AuthKit) -> list[AuditEventRow]:
    async with kit.services.db.session() as s:
        rows = await s.exec(
            select(AuditEventRow)
            .where(AuditEventRow.event == "sign_in.failed")
            .order_by(col(AuditEventRow.at))
        )
        return list(rows.all())


async def test_a_flood_of_failures_adds_a_bounded_number_of_audit_rows(
    kit: AuthKit, clock: FakeClock
) -> None:
    """The probe's flood wrote one audit row per refused request. Now a minute's repeats
    of one kind fold into one row that counts them; none is lost."""
    await kit.ensure_started()
    await flood(kit)
    rows = await failure_rows(kit)
    assert len(rows) == ROWS_PER_MINUTE + 1, len(rows)
    assert all(r.detail["reason"] == "unknown_email" for r in rows)
    assert rows[-1].detail["repeats"] == FLOOD - ROWS_PER_MINUTE
    # A new minute starts a new count.
    clock.advance(MINUTE)
    app = make_host_app(kit)
    await guess(app, fresh_email("junk"))
    assert len(await failure_rows(kit)) == ROWS_PER_MINUTE + 2


async def test_expired_account_counts_are_pruned(kit: AuthKit, clock: FakeClock) -> None:
    await kit.ensure_started()
    app = make_host_app(kit)
    for _ in range(3):
        await guess(app, fresh_email("junk"))
    assert await hit_rows(kit) == 3
    clock.advance(29 * DAY)
    assert (await prune(kit.services)).rate_limit_hits == 0
    clock.advance(DAY + 1)
    assert (await prune(kit.services)).rate_limit_hits == 3
    assert await hit_rows(kit) == 0


async def test_a_flood_cannot_push_an_accounts_failures_out(kit: AuthKit, mailbox: Mailbox) -> None:
    """The attacker's way round a capped memory: fill it until the victim's count goes.
    Account counts are not in memory, so the victim's account stays throttled."""
    app = make_host_app(kit)
    victim = fresh_email("victim")
    await new_account(app, kit, mailbox, victim)
    assert [(await guess(app, victim)).status_code for _ in range(5)] == [422] * 5
    assert retry_after(await guess(app, victim)) <= MINUTE
    await flood(kit)
    assert retry_after(await guess(app, victim)) <= MINUTE


async def test_ip_counters_are_dropped_least_recently_used_first() -> None:
    """Past the cap the quietest client is forgotten, not the one still knocking."""
    counters = MemoryCounters(max_counters=3)
    five_a_minute = (Window(5, 60),)
    for _ in range(5):
        assert counters.hit("busy", five_a_minute) is None
    for name in ("a", "b", "c", "d"):
        assert counters.hit(name, five_a_minute) is None
        assert counters.hit("busy", five_a_minute) is not None  # still refused: remembered
    assert len(counters) == 3
    assert counters.hit("a", five_a_minute) is None  # forgotten, so allowed again
    assert counters.stored_hits == 5 + 1 + 1  # busy's five, d's and a's new one


async def test_a_clients_counter_keeps_no_more_hits_than_can_decide(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client allowed 300 an hour that comes back all day never holds more than 300."""
    limiter_follows(clock, monkeypatch)
    counters = MemoryCounters()
    windows = (Window(30, 60), Window(300, 3600))
    for _ in range(2000):
        counters.hit("steady", windows)
        clock.advance(13)
    assert counters.stored_hits <= 300
