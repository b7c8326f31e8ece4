"""
Mail that must not be lost (SECURITY.md load test L7): a code is committed together with
the email that carries it (the outbox), so a mail server that is down or slow, or a
process killed between the commit and the send, changes nothing the visitor sees; the
email goes out once the server is back, from whichever worker comes first, exactly once;
a stale email is dropped, not sent; "send a new code" replaces the pending one; and the
address can always be signed up again. Outbox rows are encrypted: they hold codes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text
from sqlmodel import select

from authkit import AuthKit
from authkit.email.outbox import FIRST_RETRY_PAUSE, SWEEP_INTERVAL
from authkit.store.models import OutboxRow

from ..conftest import FakeClock, KitFactory, Mailbox, free_port
from ..hostapp import make_host_app
from ..web.flow_helpers import csrf_of, start_sign_up

pytestmark = pytest.mark.anyio

EMAIL = "patient@example.com"


class MailServer:
    """An SMTP server on a fixed port that can be down (nothing listening) or up."""

    def __init__(self) -> None:
        self.port = free_port()
        self.box = Mailbox(port=self.port)
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller = Controller(self.box, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def server() -> Iterator[MailServer]:
    """Down at first."""
    s = MailServer()
    yield s
    s.stop()


@pytest.fixture
def kit(make_kit: KitFactory, server: MailServer) -> AuthKit:
    return make_kit(email_url=server.url, email_timeout=2)


@asynccontextmanager
async def browser(kit: AuthKit) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_host_app(kit))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def outbox(kit: AuthKit) -> list[OutboxRow]:
    async with kit.services.db.session() as s:
        return list((await s.exec(select(OutboxRow))).all())


async def a_request_later(kit: AuthKit, clock: FakeClock, seconds: float) -> None:
    """Time passes, someone loads a page of the sub-app, background work finishes."""
    clock.advance(seconds)
    async with browser(kit) as c:
        assert (await c.get("/auth/sign-in")).status_code == 200
    await kit.services.mailer.drain()


async def enter_code(c: httpx.AsyncClient, page: httpx.Response, code: str) -> httpx.Response:
    """Post `code` on the verification page `page` showed."""
    return await c.post(
        "/auth/sign-up/verify", data={"csrf_token": csrf_of(page.text), "code": code}
    )


@contextmanager
def crash_after_commit(kit: AuthKit, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process dies between the commit and the send: nothing is sent from it.

    Its request's background retry sweep goes too: started before the commit, under load
    it could read the committed row and send it, which a dead process never does."""
    with monkeypatch.context() as m:
        m.setattr(kit.services.outbox, "send_soon", lambda message_id: None)
        m.setattr(kit.services.outbox, "sweep_if_due", lambda: None)
        yield


async def test_sign_up_answers_the_same_with_the_mail_server_down(
    make_kit: KitFactory, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Same status, redirect and page whether the mail went out or not."""
    healthy = make_kit()
    async with browser(healthy) as c:
        up = await start_sign_up(c, "first@example.com")
    async with browser(kit) as c:
        down = await start_sign_up(c, "second@example.com")
    await kit.services.mailer.drain()
    assert up.status_code == down.status_code == 200
    assert up.url.path == down.url.path == "/auth/sign-up/verify"
    assert kit.services.mailer.failed_count == 1
    (row,) = await outbox(kit)
    assert row.attempts == 1 and row.claimed_until is None


async def test_outbox_rows_hold_no_code_or_address_in_clear(
    kit: AuthKit, server: MailServer, clock: FakeClock
) -> None:
    async with browser(kit) as c:
        await start_sign_up(c, EMAIL)
    await kit.services.mailer.drain()
    async with kit.services.db.session() as s:
        dump = str((await s.exec(text("SELECT * FROM outbox"))).all())  # type: ignore[call-overload]
    server.start()
    await a_request_later(kit, clock, SWEEP_INTERVAL.total_seconds())
    code = server.box.last_code(EMAIL)
    assert code not in dump and EMAIL not in dump and "Subject" not in dump


async def test_mail_left_by_an_outage_goes_out_when_the_server_is_back(
    kit: AuthKit, server: MailServer, clock: FakeClock
) -> None:
    """The code arrives after the outage and still works; the row is gone."""
    async with browser(kit) as c:
        page = await start_sign_up(c, EMAIL)
        await kit.services.mailer.drain()
        await a_request_later(kit, clock, SWEEP_INTERVAL.total_seconds())  # still down
        (row,) = await outbox(kit)
        assert row.attempts == 2
        server.start()
        await a_request_later(kit, clock, 2 * FIRST_RETRY_PAUSE.total_seconds())
        assert len(server.box.to(EMAIL)) == 1
        r = await enter_code(c, page, server.box.last_code(EMAIL))
        assert r.status_code == 303, r.text
        assert (await c.get("/")).json()["is_signed_in"] is True
    assert await outbox(kit) == []


async def test_a_process_killed_before_sending_leaves_the_mail_to_another(
    kit: AuthKit,
    make_kit: KitFactory,
    server: MailServer,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """L7: killed between commit and send; another worker's next request sends it."""
    server.start()
    with crash_after_commit(kit, monkeypatch):
        async with browser(kit) as c:
            await start_sign_up(c, EMAIL)
    assert server.box.to(EMAIL) == []
    other = make_kit(email_url=server.url)
    await a_request_later(other, clock, 1)
    assert len(server.box.to(EMAIL)) == 1
    assert await outbox(kit) == []


async def test_two_workers_retrying_at_once_send_it_once(
    kit: AuthKit,
    make_kit: KitFactory,
    server: MailServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server.start()
    with crash_after_commit(kit, monkeypatch):
        async with browser(kit) as c:
            await start_sign_up(c, EMAIL)
    workers = [make_kit(email_url=server.url) for _ in range(3)]
    for worker in workers:
        await worker.ensure_started()
    sent = await asyncio.gather(*(w.services.outbox.sweep() for w in workers))
    assert sorted(sent) == [0, 0, 1]
    assert len(server.box.to(EMAIL)) == 1


async def test_retries_wait_longer_each_time(kit: AuthKit, clock: FakeClock) -> None:
    async with browser(kit) as c:
        await start_sign_up(c, EMAIL)
    await kit.services.mailer.drain()
    pauses = []
    for _ in range(3):
        (row,) = await outbox(kit)
        pauses.append(row.next_attempt_at - clock())
        clock.advance(pauses[-1].total_seconds())
        await kit.services.outbox.sweep()
    assert pauses == [FIRST_RETRY_PAUSE, 2 * FIRST_RETRY_PAUSE, 4 * FIRST_RETRY_PAUSE]


async def test_a_code_mail_that_expired_in_the_outbox_is_dropped_not_sent(
    kit: AuthKit, server: MailServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with browser(kit) as c:
        await start_sign_up(c, EMAIL)
    await kit.services.mailer.drain()
    server.start()
    await a_request_later(kit, clock, kit.settings.code_lifetime + 1)
    assert server.box.messages == []
    assert await outbox(kit) == []
    assert "1 emails expired undelivered" in caplog.text


async def test_a_new_code_replaces_the_one_still_waiting(
    kit: AuthKit, server: MailServer, clock: FakeClock
) -> None:
    """ "Send a new code" during an outage: once the server is back only the new code is
    delivered (the old one would not work any more), and it works."""
    async with browser(kit) as c:
        page = await start_sign_up(c, EMAIL)
        await kit.services.mailer.drain()
        clock.advance(timedelta(minutes=1).total_seconds())
        r = await c.post("/auth/sign-up/resend", data={"csrf_token": csrf_of(page.text)})
        assert r.status_code in (200, 303), r.text
        await kit.services.mailer.drain()
        assert len(await outbox(kit)) == 1
        server.start()
        await a_request_later(kit, clock, 4 * FIRST_RETRY_PAUSE.total_seconds())
        assert len(server.box.to(EMAIL)) == 1
        r = await enter_code(c, page, server.box.last_code(EMAIL))
        assert r.status_code == 303, r.text
    assert await outbox(kit) == []


async def test_an_address_whose_mail_was_lost_can_sign_up_again(
    kit: AuthKit, server: MailServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is left un-registrable: a new sign-up of the address starts afresh."""
    with crash_after_commit(kit, monkeypatch):
        async with browser(kit) as c:
            await start_sign_up(c, EMAIL)
    clock.advance(kit.settings.code_lifetime + 1)
    server.start()
    async with browser(kit) as c:
        page = await start_sign_up(c, EMAIL)
        await kit.services.mailer.drain()
        r = await enter_code(c, page, server.box.last_code(EMAIL))
        assert r.status_code == 303, r.text
