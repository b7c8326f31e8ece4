"""
Steady state (SECURITY.md load test L13): users who stay signed in cost one write per
token lifetime each and no new rows, and what has ended is deleted, so the session and
code tables do not grow without bound.

Writes are counted as the SQL statements the database receives (deterministic), not
timed; latency under such a load is measured by hand in `bench/`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func
from sqlmodel import select

from authkit import AuthKit
from authkit.pruning import ENDED_RETENTION, PRUNE_INTERVAL, prune
from authkit.store.models import SessionRow, VerificationCodeRow

from ..conftest import FakeClock, KitFactory, Mailbox
from ..hostapp import make_host_app
from ..web.flow_helpers import sign_in, sign_out, sign_up, start_sign_up

pytestmark = pytest.mark.anyio

USERS = 8
MINUTES = 10


@contextmanager
def statements(kit: AuthKit) -> Iterator[list[str]]:
    """Every SQL statement the kit sends while inside, as its first word upper-cased, or
    "DELETE FROM <table>" for deletes."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.split()
        verb = words[0].upper()
        seen.append(" ".join(words[:3]) if verb == "DELETE" else verb)

    engine = kit.services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def prune_deletes(seen: list[str]) -> int:
    return sum(s in ("DELETE FROM sessions", "DELETE FROM verification_codes") for s in seen)


async def count(kit: AuthKit, model: type) -> int:
    async with kit.services.db.session() as s:
        return int((await s.exec(select(func.count()).select_from(model))).one())


def browser(kit: AuthKit) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_host_app(kit))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_ten_minutes_of_refreshes_write_once_per_user_per_token_and_add_no_rows(
    kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """L13: 8 users each making a request every 30 s for 10 minutes (tokens live 60 s):
    exactly one UPDATE per user per token lifetime, no INSERT, and still 8 session rows."""
    clients = [browser(kit) for _ in range(USERS)]
    for n, c in enumerate(clients):
        await sign_up(c, kit, mailbox, f"steady{n}@example.com")
    sessions_before = await count(kit, SessionRow)
    assert kit.settings.session_token_lifetime == 60
    refreshes = MINUTES  # per user: one each time the token expires
    with statements(kit) as seen:
        for _ in range(MINUTES * 60 // 30):
            clock.advance(30)
            for c in clients:
                assert (await c.get("/")).json()["is_signed_in"] is True
    writes = [s for s in seen if s.startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes.count("INSERT") == 0, writes
    assert prune_deletes(writes) == 0, writes
    assert writes.count("UPDATE") == USERS * refreshes, (len(writes), refreshes)
    # One read per refresh, plus the signing keys, re-read once a minute by the process.
    assert seen.count("SELECT") == USERS * refreshes + MINUTES
    assert await count(kit, SessionRow) == sessions_before == USERS
    for c in clients:
        await c.aclose()


async def test_ended_sessions_and_codes_are_deleted_after_the_retention(
    make_kit: KitFactory, mailbox: Mailbox, clock: FakeClock
) -> None:
    """Signed out, expired and abandoned rows go a week after they ended; a session in
    use and a fresh code step stay."""
    kit = make_kit(session_lifetime=2 * 86400)
    async with browser(kit) as leaver, browser(kit) as idle, browser(kit) as regular:
        await sign_up(leaver, kit, mailbox, "leaver@example.com")
        await sign_out(leaver)
        await sign_up(idle, kit, mailbox, "idle@example.com")
        async with browser(kit) as abandoner:
            await start_sign_up(abandoner, "abandoned@example.com")
        await sign_up(regular, kit, mailbox, "regular@example.com")
        assert await count(kit, SessionRow) == 3
        # The regular user keeps coming back; the others never do.
        days = (kit.settings.session_lifetime + ENDED_RETENTION.total_seconds()) // 86400 + 1
        for _ in range(int(days)):
            clock.advance(86400)
            assert (await regular.get("/")).json()["is_signed_in"] is True
        async with browser(kit) as newcomer:
            await start_sign_up(newcomer, "fresh@example.com")
        pruned = await prune(kit.services)
        assert (pruned.sessions, pruned.codes) == (2, 4)  # 3 finished sign-ups + 1 abandoned
        async with kit.services.db.session() as s:
            (session,) = (await s.exec(select(SessionRow))).all()
            (code,) = (await s.exec(select(VerificationCodeRow))).all()
        assert (await regular.get("/")).json()["session_id"] == session.id
        assert code.email == "fresh@example.com"


async def test_a_sign_in_prunes_at_most_once_an_hour(
    make_kit: KitFactory, mailbox: Mailbox, clock: FakeClock
) -> None:
    """Nobody has to remember a cron job: sign-ins prune, but only once per interval."""
    kit = make_kit()
    async with browser(kit) as c:
        await sign_up(c, kit, mailbox, "hourly@example.com")
        await sign_out(c)
        clock.advance(ENDED_RETENTION.total_seconds() + 1)
        with statements(kit) as seen:
            assert (await sign_in(c, "hourly@example.com")).status_code == 303
            await sign_out(c)
            assert (await sign_in(c, "hourly@example.com")).status_code == 303
        assert prune_deletes(seen) == 2  # sessions and codes, once
        assert await count(kit, SessionRow) == 2  # the old one is gone, the new ones stay
        clock.advance(PRUNE_INTERVAL.total_seconds())
        with statements(kit) as seen:
            await sign_out(c)
            assert (await sign_in(c, "hourly@example.com")).status_code == 303
        assert prune_deletes(seen) == 2
