"""
The PostgreSQL connection is cut in the middle of a request (SECURITY.md load test L5;
ASVS 2.3.3 all-or-nothing, 16.5.3 fail closed): no half-written rows.

A TCP proxy between the kit and PostgreSQL watches what the kit sends and cuts the
connection at a chosen statement of a chosen transaction: the last step of a sign-up
(code entered → account, address, password, audit row, code used up) or of a password
reset (link used → new password, the account's sessions revoked, audit row). Cut before
the COMMIT reaches the server, the whole step must be undone; cut after the server
committed but before its answer came back, the whole step must be there. Either way the
browser gets the generic 503 page and no session, and its next request works: a step
that was undone can be done again with the same code or link, and one that was committed
is not done twice.

The proxy finds statements by their SQL text, which asyncpg sends the first time a
connection prepares a statement; every statement the tests cut at is the first of its
kind in the test, and each test checks that its cut really happened.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import text

from authkit import AuthKit
from authkit.cookies import REFRESH_COOKIE, SESSION_COOKIE
from authkit.flows.admin import create_user

from ..conftest import POSTGRES_URL, KitFactory, Mailbox
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, csrf_of, open_link, sign_in, start_sign_up
from .throttle_helpers import NEW_PASSWORD, forgot, reset_mail

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.postgres,
    # A connection cut is a network event: PostgreSQL only (SQLite has no connection; a
    # crash in the middle of its transactions is test_crash_during_reset.py's business).
    pytest.mark.parametrize("store", ["postgres"], indirect=True),
]

EMAIL = "ada@example.com"
OLD_PASSWORD = "the old passphrase of this account"
CHANGED_SUBJECT = "Your authkit password was changed"
PG = httpx.URL(POSTGRES_URL.replace("postgresql+asyncpg", "http"))
#: What a cut must leave of the step: none of its rows, or all of them.
NONE, ALL = "none", "all"


# -- a proxy that cuts one connection at one statement --------------------------------------


@dataclass(frozen=True)
class Cut:
    """Where to cut: at the first `at` sent after `after` (if given) on one connection."""

    at: bytes
    after: bytes | None = None
    #: False: `at` never reaches the server. True: the server gets it and answers, and
    #: the answer is lost (the kit cannot know whether its COMMIT happened).
    lose_reply: bool = False


@dataclass
class _Link:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    #: Everything the kit sent on this connection.
    sent: bytearray = field(default_factory=bytearray)
    #: Where the armed cut's `after` ended in `sent`, once it was seen.
    after_end: int | None = None
    drop_reply: bool = False


@dataclass
class CuttingProxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL; cuts one connection where `arm` says."""

    target: tuple[str, int]
    port: int = 0
    cuts: int = 0
    _cut: Cut | None = None
    _server: asyncio.Server | None = None
    _links: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def arm(self, cut: Cut) -> None:
        self._cut = cut

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        link = _Link(writer, up_writer)
        self._links |= {writer, up_writer}
        for task in (
            asyncio.ensure_future(self._to_server(reader, link)),
            asyncio.ensure_future(self._to_client(up_reader, link)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _sever(self, link: _Link) -> None:
        # abort(): a reset, as a dead network path or a crashed router would give; the
        # server ends the backend and rolls back whatever it had not committed.
        self.cuts += 1
        for writer in (link.client, link.server):
            writer.transport.abort()
            self._links.discard(writer)

    @staticmethod
    def _should_cut(link: _Link, cut: Cut, data: bytes) -> bool:
        """Does `data`, just sent, complete the cut's `at` (after its `after`)?"""
        before = len(link.sent)
        link.sent += data
        # Only matches that end in the new bytes count (a statement may span two reads).
        if cut.after is not None and link.after_end is None:
            found = link.sent.find(cut.after, max(0, before - len(cut.after) + 1))
            if found < 0:
                return False
            link.after_end = found + len(cut.after)
        start = max(link.after_end or 0, before - len(cut.at) + 1)
        return link.sent.find(cut.at, start) >= 0

    async def _to_server(self, reader: asyncio.StreamReader, link: _Link) -> None:
        try:
            while data := await reader.read(65536):
                cut = self._cut
                if cut is None:
                    link.after_end = None
                    link.sent.clear()
                elif self._should_cut(link, cut, data):
                    self._cut = None  # one cut per arming
                    if not cut.lose_reply:
                        self._sever(link)
                        return
                    # Marked before the statement leaves: its answer is the next thing
                    # the server sends on this connection.
                    link.drop_reply = True
                link.server.write(data)
                await link.server.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            link.server.transport.abort()

    async def _to_client(self, reader: asyncio.StreamReader, link: _Link) -> None:
        try:
            while data := await reader.read(65536):
                if link.drop_reply:
                    # The server has executed and answered the statement: lose the answer.
                    self._sever(link)
                    return
                link.client.write(data)
                await link.client.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            link.client.transport.abort()


@pytest.fixture
async def proxy() -> AsyncIterator[CuttingProxy]:
    proxy = CuttingProxy((PG.host, PG.port or 5432))
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def cut_kit(make_kit: KitFactory, proxy: CuttingProxy) -> AsyncIterator[AuthKit]:
    """A kit whose every database connection goes through the proxy."""
    url = POSTGRES_URL.replace(f"{PG.host}:{PG.port}", f"127.0.0.1:{proxy.port}")
    assert url != POSTGRES_URL
    kit = make_kit(database_url=url)
    yield kit
    with contextlib.suppress(Exception):
        await kit.aclose()


def browser(kit: AuthKit) -> httpx.AsyncClient:
    # An exception escaping the app becomes the 500 a browser would see, not a test error.
    transport = httpx.ASGITransport(app=make_host_app(kit), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def assert_unavailable(r: httpx.Response) -> None:
    """The generic 503 page with Retry-After, and no session handed out."""
    assert r.status_code == 503, (r.status_code, r.text[:500])
    assert int(r.headers["retry-after"]) > 0, r.headers
    set_cookies = [c.split("=", 1)[0] for c in r.headers.get_list("set-cookie")]
    assert SESSION_COOKIE not in set_cookies, set_cookies
    assert REFRESH_COOKIE not in set_cookies, set_cookies


@pytest.fixture
async def db(make_kit: KitFactory) -> AsyncIterator[Direct]:
    """Reads straight from PostgreSQL, past the proxy, on the test's schema."""
    kit = make_kit()  # the store's own URL: no proxy in between
    yield Direct(kit)
    await kit.aclose()


@dataclass
class Direct:
    kit: AuthKit

    async def value(self, sql: str, **params: object) -> object:
        async with self.kit.services.db.session() as s:
            return (await s.exec(text(sql).bindparams(**params))).scalar_one()  # type: ignore[call-overload]


# -- the last step of a sign-up ------------------------------------------------------------


async def sign_up_step(db: Direct) -> dict[str, object]:
    """What the code step writes, in one transaction: all of it, or none of it."""
    return {
        "code used": await db.value(
            "SELECT count(*) FROM verification_codes"
            " WHERE purpose = 'sign_up' AND consumed_at IS NOT NULL",
        ),
        "users": await db.value("SELECT count(*) FROM users"),
        "addresses": await db.value("SELECT count(*) FROM email_addresses"),
        "passwords": await db.value("SELECT count(*) FROM password_credentials"),
        "audit": await db.value(
            "SELECT count(*) FROM audit_events WHERE event = 'sign_up.completed'"
        ),
    }


SIGN_UP_NOTHING = dict.fromkeys(("code used", "users", "addresses", "passwords", "audit"), 0)
SIGN_UP_EVERYTHING = dict.fromkeys(SIGN_UP_NOTHING, 1)
#: Where the code step's transaction is cut, and what must be left of it.
SIGN_UP_CUTS = {
    # The code is marked used; the account not yet written.
    "before-the-user-row": (Cut(at=b"INSERT INTO users"), NONE),
    # The account row is written (flushed); its address not yet.
    "before-the-address-row": (Cut(at=b"INSERT INTO email_addresses"), NONE),
    # Every row is written; the COMMIT never reaches the server.
    "before-the-commit": (Cut(at=b"COMMIT", after=b"INSERT INTO email_addresses"), NONE),
    # The server commits; its answer is lost on the way back.
    "commit-answer-lost": (
        Cut(at=b"COMMIT", after=b"INSERT INTO email_addresses", lose_reply=True),
        ALL,
    ),
}


@pytest.mark.parametrize("where", SIGN_UP_CUTS)
async def test_a_sign_up_cut_mid_transaction_leaves_all_or_nothing_and_recovers(
    cut_kit: AuthKit, proxy: CuttingProxy, db: Direct, mailbox: Mailbox, where: str
) -> None:
    """L5: the code step, cut mid-transaction → 503, all or none of its rows, next works."""
    kit = cut_kit
    cut, left = SIGN_UP_CUTS[where]
    async with browser(kit) as c:
        page = await start_sign_up(c, EMAIL)
        await kit.services.mailer.drain()
        entry = {"csrf_token": csrf_of(page.text), "code": mailbox.last_code(EMAIL)}
        assert await sign_up_step(db) == SIGN_UP_NOTHING

        proxy.arm(cut)
        r = await c.post("/auth/sign-up/verify", data=entry)
        assert proxy.cuts == 1, "the connection was not cut where the test meant to"
        assert_unavailable(r)
        after_cut = await sign_up_step(db)
        assert after_cut == (SIGN_UP_NOTHING if left == NONE else SIGN_UP_EVERYTHING), after_cut
        # The first session is created in the account's own transaction: it is part of
        # the all or nothing.
        assert await db.value("SELECT count(*) FROM sessions") == (0 if left == NONE else 1)

        # The next request works: an undone step is done again with the same code; a
        # committed one is not done twice, and the password it set signs in.
        r = await c.post("/auth/sign-up/verify", data=entry)
        if left == NONE:
            assert r.status_code == 303, (r.status_code, r.text[:500])
        else:
            assert r.status_code == 410, (r.status_code, r.text[:500])
            assert (await sign_in(c, EMAIL, PASSWORD)).status_code == 303
        assert (await c.get("/")).json()["is_signed_in"] is True
    assert await sign_up_step(db) == SIGN_UP_EVERYTHING
    # The session of the sign-up (whether its answer arrived or not), and of the
    # sign-in that recovered from a lost answer.
    assert await db.value("SELECT count(*) FROM sessions") == (1 if left == NONE else 2)
    assert proxy.cuts == 1


# -- the last step of a password reset -----------------------------------------------------


async def reset_step(db: Direct, old_hash: object) -> dict[str, object]:
    """What the reset step writes, in one transaction: all of it, or none of it."""
    return {
        "link used": await db.value(
            "SELECT count(*) FROM verification_codes"
            " WHERE purpose = 'password_reset' AND consumed_at IS NOT NULL",
        ),
        "password changed": await db.value(
            "SELECT count(*) FROM password_credentials WHERE password_hash <> :old", old=old_hash
        ),
        "sessions revoked": await db.value(
            "SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL"
        ),
        "audit": await db.value("SELECT count(*) FROM audit_events WHERE event = 'password.reset'"),
    }


RESET_NOTHING = dict.fromkeys(("link used", "password changed", "sessions revoked", "audit"), 0)
RESET_EVERYTHING = dict.fromkeys(RESET_NOTHING, 1)
RESET_CUTS = {
    # The link is marked used; the password not yet changed.
    "before-the-new-password": (Cut(at=b"UPDATE password_credentials"), NONE),
    # The password is changed; the sessions not yet revoked.
    "before-revoking-sessions": (Cut(at=b"UPDATE sessions"), NONE),
    # Everything is written; the COMMIT never reaches the server.
    "before-the-commit": (Cut(at=b"COMMIT", after=b"UPDATE sessions"), NONE),
    # The server commits; its answer is lost on the way back.
    "commit-answer-lost": (Cut(at=b"COMMIT", after=b"UPDATE sessions", lose_reply=True), ALL),
}


@pytest.mark.parametrize("where", RESET_CUTS)
async def test_a_reset_cut_mid_transaction_leaves_all_or_nothing_and_recovers(
    cut_kit: AuthKit, proxy: CuttingProxy, db: Direct, mailbox: Mailbox, where: str
) -> None:
    """L5: the reset step, cut mid-transaction → 503, all or none of its rows, next works."""
    kit = cut_kit
    cut, left = RESET_CUTS[where]
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=OLD_PASSWORD)
    old_hash = await db.value("SELECT password_hash FROM password_credentials")
    async with browser(kit) as other, browser(kit) as c:
        # A session elsewhere, which the reset must end together with the old password.
        assert (await sign_in(other, EMAIL, OLD_PASSWORD)).status_code == 303
        assert (await forgot(c, EMAIL)).status_code == 303
        _, token = await reset_mail(kit, mailbox, EMAIL)
        r = await open_link(c, f"/auth/reset-password?link=1#token={token}")
        assert r.status_code == 303, r.text
        page = await c.get(r.headers["location"])
        assert page.status_code == 200, page.text
        form = {
            "csrf_token": csrf_of(page.text),
            "token": token,
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        }
        assert await reset_step(db, old_hash) == RESET_NOTHING

        proxy.arm(cut)
        r = await c.post("/auth/reset-password", data=form)
        assert proxy.cuts == 1, "the connection was not cut where the test meant to"
        assert_unavailable(r)
        after_cut = await reset_step(db, old_hash)
        assert after_cut == (RESET_NOTHING if left == NONE else RESET_EVERYTHING), after_cut

        # The next request works: an undone reset is done again with the same link; a
        # committed one cannot be done twice.
        r = await c.post("/auth/reset-password", data=form)
        if left == NONE:
            assert r.status_code == 303, (r.status_code, r.text[:500])
        else:
            assert r.status_code == 410, (r.status_code, r.text[:500])
    assert await reset_step(db, old_hash) == RESET_EVERYTHING
    await kit.services.mailer.drain()
    notices = [m for m in mailbox.to(EMAIL) if str(m["Subject"]) == CHANGED_SUBJECT]
    if left == NONE:
        # The owner hears of the change once, when the retry made it.
        assert len(notices) == 1, notices
    # (When only the answer to the COMMIT was lost, the change is made but the request
    # fails before the notice is queued, and the retry finds the link used: no notice.)
    async with browser(kit) as fresh:
        assert (await sign_in(fresh, EMAIL, OLD_PASSWORD)).status_code == 422
        assert (await sign_in(fresh, EMAIL, NEW_PASSWORD)).status_code == 303
    assert proxy.cuts == 1
