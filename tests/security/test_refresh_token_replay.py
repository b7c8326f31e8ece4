"""
Refresh tokens rotate with reuse detection (SECURITY.md #38, ASVS 10.4.5, load test L2)
and sessions end on the server (#41, ASVS 7.3.1/7.3.2): every refresh hands out a new
`__refresh`; requests racing with one token, on one worker or two, all succeed and end
with the same new token; a copied token replayed after the grace window revokes the
whole session; a session ends when idle and at its absolute lifetime, however busy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import anyio
import httpx
import pytest
from sqlmodel import select

from authkit import AuthKit
from authkit.cookies import REFRESH_COOKIE, SESSION_COOKIE
from authkit.sessions import REFRESH_REUSE_GRACE
from authkit.store.models import AuditEventRow, SessionRow

from ..conftest import FakeClock, KitFactory, Mailbox
from ..hostapp import make_host_app
from ..web.flow_helpers import sign_up

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def browser(kit: AuthKit, refresh: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser holding only `refresh` (its session token has expired or was lost)."""
    transport = httpx.ASGITransport(app=make_host_app(kit))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        c.cookies.set(REFRESH_COOKIE, refresh)
        yield c


async def is_signed_in(c: httpx.AsyncClient) -> bool:
    signed_in: bool = (await c.get("/")).json()["is_signed_in"]
    return signed_in


def refresh_cookie_of(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == REFRESH_COOKIE:
            return rest.split(";", 1)[0]
    return None


async def session_row(kit: AuthKit) -> SessionRow:
    async with kit.services.db.session() as s:
        rows = list((await s.exec(select(SessionRow))).all())
    assert len(rows) == 1
    return rows[0]


async def test_every_refresh_hands_out_a_new_refresh_token(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    await sign_up(client, kit, mailbox, "rotate@example.com")
    seen = [client.cookies[REFRESH_COOKIE]]
    for _ in range(3):
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert await is_signed_in(client)
        seen.append(client.cookies[REFRESH_COOKIE])
    assert len(set(seen)) == 4
    assert (await session_row(kit)).refresh_generation == 3


async def test_racing_refreshes_on_two_workers_all_succeed_with_one_lineage(
    client: httpx.AsyncClient,
    kit: AuthKit,
    make_kit: KitFactory,
    mailbox: Mailbox,
    clock: FakeClock,
) -> None:
    """L2: one expired cookie sent 100 times at once to two workers: no failure, no
    revocation, and every response hands the browser the same next token."""
    await sign_up(client, kit, mailbox, "race@example.com")
    refresh = client.cookies[REFRESH_COOKIE]
    clock.advance(kit.settings.session_token_lifetime + 1)
    workers = [kit, make_kit()]  # two AuthKits: two processes' worth of state
    statuses: list[bool] = []
    new_tokens: list[str | None] = []

    async def hit(worker: AuthKit) -> None:
        async with browser(worker, refresh) as c:
            r = await c.get("/")
            statuses.append(r.json()["is_signed_in"])
            new_tokens.append(refresh_cookie_of(r))

    async with anyio.create_task_group() as tg:
        for i in range(100):
            tg.start_soon(hit, workers[i % 2])
    assert statuses == [True] * 100
    assert len(set(new_tokens)) == 1 and new_tokens[0] not in (None, refresh)
    row = await session_row(kit)
    assert row.revoked_at is None
    assert row.refresh_generation == 1


async def test_a_reply_that_never_arrived_is_recovered_within_the_grace(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """The browser never stored the rotated cookie: its old one still brings it back,
    and is answered with the current token rather than treated as theft."""
    await sign_up(client, kit, mailbox, "lost@example.com")
    old = client.cookies[REFRESH_COOKIE]
    clock.advance(kit.settings.session_token_lifetime + 1)
    assert await is_signed_in(client)  # rotated; pretend this reply was lost
    current = client.cookies[REFRESH_COOKIE]
    clock.advance(REFRESH_REUSE_GRACE.total_seconds() - 1)
    async with browser(kit, old) as c:
        r = await c.get("/")
        assert r.json()["is_signed_in"] is True
        assert refresh_cookie_of(r) == current
    assert (await session_row(kit)).revoked_at is None


async def test_a_copied_refresh_token_replayed_after_the_grace_revokes_the_session(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """★ #38: the thief's copy is refused, the owner's session ends too (one of them
    holds a stolen token, and we cannot tell which), and the event is audited."""
    await sign_up(client, kit, mailbox, "victim@example.com")
    stolen = client.cookies[REFRESH_COOKIE]
    clock.advance(kit.settings.session_token_lifetime + 1)
    assert await is_signed_in(client)  # the owner rotates
    clock.advance(REFRESH_REUSE_GRACE.total_seconds() + 1)
    async with browser(kit, stolen) as thief:
        r = await thief.get("/")
        assert r.json()["is_signed_in"] is False
        assert refresh_cookie_of(r) == ""  # cleared
    clock.advance(kit.settings.session_token_lifetime + 1)
    assert not await is_signed_in(client)
    row = await session_row(kit)
    assert row.revoked_at is not None
    async with kit.services.db.session() as s:
        events = list(
            (
                await s.exec(
                    select(AuditEventRow).where(AuditEventRow.event == "session.refresh_reused")
                )
            ).all()
        )
    assert len(events) == 1
    assert events[0].session_id == row.id and events[0].user_id == row.user_id
    assert stolen not in str(events[0].detail)


async def test_an_older_generation_is_reuse_even_within_the_grace(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """Only the token rotated out last gets a grace; two generations back is a copy."""
    await sign_up(client, kit, mailbox, "generations@example.com")
    first = client.cookies[REFRESH_COOKIE]
    for _ in range(2):
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert await is_signed_in(client)
    async with browser(kit, first) as thief:
        assert not await is_signed_in(thief)
    assert (await session_row(kit)).revoked_at is not None


async def test_a_forged_token_for_a_known_session_changes_nothing(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """Session ids are not secret (they are in every JWT): a made-up token naming one
    is simply refused, and cannot be used to sign its owner out."""
    await sign_up(client, kit, mailbox, "forged@example.com")
    session_id = (await session_row(kit)).id
    for forged in (f"{session_id}.0.{'A' * 43}", f"{session_id}.0", f"{session_id}.x.y"):
        async with browser(kit, forged) as attacker:
            assert not await is_signed_in(attacker)
    clock.advance(kit.settings.session_token_lifetime + 1)
    assert await is_signed_in(client)
    assert (await session_row(kit)).revoked_at is None


async def test_the_refresh_token_of_one_session_cannot_refresh_another(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """The MAC covers the session id: swapping the id in a genuine token fails."""
    await sign_up(client, kit, mailbox, "one@example.com")
    own = client.cookies[REFRESH_COOKIE]
    async with kit.services.db.session() as s:
        row = (await s.exec(select(SessionRow))).one()
    other_id = "sess_" + "z" * (len(row.id) - len("sess_"))
    swapped = own.replace(row.id, other_id)
    async with browser(kit, swapped) as c:
        assert not await is_signed_in(c)


async def test_a_session_in_constant_use_ends_at_its_absolute_lifetime(
    make_kit: KitFactory, mailbox: Mailbox, clock: FakeClock
) -> None:
    """#41: refreshing every few minutes never stretches a session past its maximum,
    and the refresh cookie's Max-Age shrinks to what is left."""
    kit = make_kit(session_lifetime=3600, session_max_lifetime=4 * 3600)
    transport = httpx.ASGITransport(app=make_host_app(kit))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await sign_up(client, kit, mailbox, "busy@example.com")
        started = clock()
        max_ages: list[int] = []
        while clock() - started < timedelta(hours=4) - timedelta(minutes=10):
            clock.advance(600)
            r = await client.get("/")
            assert r.json()["is_signed_in"] is True, clock() - started
            header = next(
                h for h in r.headers.get_list("set-cookie") if h.startswith(REFRESH_COOKIE)
            )
            max_ages.append(int(header.split("Max-Age=")[1].split(";")[0]))
        assert max_ages[0] == 3600 and max_ages[-1] <= 600
        clock.advance(600)
        assert not await is_signed_in(client)
        assert SESSION_COOKIE not in client.cookies


async def test_an_idle_session_ends_on_the_server_whatever_the_cookie_says(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """#41: the row's expiry decides, not the browser keeping an old cookie around."""
    await sign_up(client, kit, mailbox, "idle@example.com")
    refresh = client.cookies[REFRESH_COOKIE]
    clock.advance(kit.settings.session_lifetime + 1)
    async with browser(kit, refresh) as c:
        assert not await is_signed_in(c)


async def test_settings_refuse_an_absolute_lifetime_shorter_than_a_token() -> None:
    from authkit.config import Settings
    from authkit.errors import ConfigError

    with pytest.raises(ConfigError, match="AUTHKIT_SESSION_MAX_LIFETIME"):
        Settings(secret_key="x" * 40, session_token_lifetime=60, session_max_lifetime=30)
