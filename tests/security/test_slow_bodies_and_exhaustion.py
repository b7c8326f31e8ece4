"""
Slow request bodies, database connection exhaustion and a full disk (SECURITY.md load
test L12; ASVS 16.5.3 fail closed).

Slow bodies, over real sockets to uvicorn: a body declared over the 64 KB form cap is
refused before a byte of it is sent; an endless chunked body is cut off at the cap; and
clients that send their headers and then stall mid-body hold no database connection,
while everyone else is served (a sign-in: a hash and a session row); a body still arriving
after FORM_BODY_TIMEOUT_SECONDS gets a 408 and its slot back. Headers that never finish are
the server's business (uvicorn 0.54 has no header timeout): a reverse proxy's timeouts end
those, and that is not asserted here.

Connection exhaustion: with every pooled connection taken, token checks and pages that
need no database still answer, and database work waits for a connection, then completes.
Past the pool timeout (`POOL_TIMEOUT_SECONDS`, 5 s) the request gets the 503 page like any
other outage. A PostgreSQL server that refuses new connections (its limit reached) gets
the 503 page at once.

A full disk (SQLite on a 4 MiB tmpfs filled to the last block): writes fail closed with the
503 page, reads go on, nothing is half-written, and the next request after space is freed
succeeds.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.abc import SocketStream
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import QueuePool
from sqlmodel import col, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authkit import AuthKit
from authkit.cookies import REFRESH_COOKIE, SESSION_COOKIE
from authkit.flows.admin import create_user
from authkit.security.csrf import CSRF_COOKIE, new_csrf_value
from authkit.store.models import AuditEventRow, SessionRow
from authkit.web.helpers import MAX_FORM_BYTES

from ..conftest import POSTGRES_URL, TEST_SECRET, FakeClock, KitFactory, needs_postgres
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, sign_in
from .live_server import live_server
from .test_fail_closed import LEAKS, assert_unavailable, browser, set_cookie_names

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"
JSON = {"accept": "application/json"}
#: A wait this long means something is broken, never a slow machine.
DEADLINE_SECONDS = 60.0
STALLED_CLIENTS = 30


def direct_kit(folder: Path, **overrides: Any) -> AuthKit:
    """A kit made without the two-store fixtures (for tests about one store only): on a
    SQLite file in `folder` unless told otherwise."""
    values: dict[str, Any] = {
        "secret_key": TEST_SECRET,
        "database_url": f"sqlite+aiosqlite:///{folder}/authkit.db",
        "email_url": f"file://{folder}/mail",
        "base_url": "http://testserver",
        "password_hash_profile": "CHEAPEST",
        "auto_migrate": True,
        **overrides,
    }
    return AuthKit(**values)


# -- slow bodies -------------------------------------------------------------------------------


class BodyWatch:
    """Wraps an ASGI app: how many requests are inside it, and how many of those are
    waiting for more of their body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.inside = 0
        self.waiting_for_body = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counted() -> Message:
            self.waiting_for_body += 1
            try:
                return await receive()
            finally:
                self.waiting_for_body -= 1

        self.inside += 1
        try:
            await self.app(scope, counted, send)
        finally:
            self.inside -= 1

    async def until(self, *, inside: int, waiting: int | None = None) -> None:
        with anyio.fail_after(DEADLINE_SECONDS):
            while self.inside != inside or (
                waiting is not None and self.waiting_for_body < waiting
            ):
                await anyio.sleep(0.005)


def raw_post(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def status_line(stream: SocketStream) -> str:
    """The first line of the response; the connection stays as it is."""
    data = b""
    with anyio.fail_after(DEADLINE_SECONDS):
        while b"\r\n" not in data:
            data += await stream.receive()
    return data.split(b"\r\n", 1)[0].decode()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[AuthKit, BodyWatch, str]]:
    """A kit behind uvicorn on 127.0.0.1, with an account made by another kit. (SQLite:
    what a stalled body holds does not depend on the store.)"""
    setup = direct_kit(tmp_path)
    await setup.ensure_started()
    await create_user(setup.services, email=EMAIL, password=PASSWORD)
    await setup.aclose()
    kit = direct_kit(tmp_path)
    watch = BodyWatch(make_host_app(kit))
    async with live_server(kit, watch) as url:
        yield kit, watch, url


async def test_a_body_declared_over_the_cap_is_refused_before_it_is_sent(
    served: tuple[AuthKit, BodyWatch, str],
) -> None:
    """L12: Content-Length over 64 KB → 413 at once, without waiting for a byte of body."""
    _kit, watch, url = served
    async with await anyio.connect_tcp("127.0.0.1", port_of(url)) as stream:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(100 * 1024 * 1024),
        }
        await stream.send(raw_post("/auth/sign-in", headers))
        assert await status_line(stream) == "HTTP/1.1 413 Request Entity Too Large"
    await watch.until(inside=0)


async def test_an_endless_chunked_body_is_cut_off_at_the_cap(
    served: tuple[AuthKit, BodyWatch, str],
) -> None:
    """L12: a chunked body that never ends → 413 once past 64 KB, while it still "sends"."""
    _kit, watch, url = served
    piece = b"a" * 4096
    async with await anyio.connect_tcp("127.0.0.1", port_of(url)) as stream:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Transfer-Encoding": "chunked",
        }
        await stream.send(raw_post("/auth/sign-in", headers))
        for _ in range(MAX_FORM_BYTES // len(piece) + 1):
            await stream.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        # No terminating chunk: as far as the client is concerned, the body goes on.
        assert await status_line(stream) == "HTTP/1.1 413 Request Entity Too Large"
    await watch.until(inside=0)


async def test_a_body_that_never_finishes_gets_a_408(
    served: tuple[AuthKit, BodyWatch, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """L12: headers, half a body, then nothing: the form read gives up with a 408 (0.5 s
    here, FORM_BODY_TIMEOUT_SECONDS in production) instead of waiting for ever."""
    monkeypatch.setattr("authkit.web.helpers.FORM_BODY_TIMEOUT_SECONDS", 0.5)
    _kit, watch, url = served
    async with await anyio.connect_tcp("127.0.0.1", port_of(url)) as stream:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "60"}
        await stream.send(raw_post("/auth/sign-in", headers) + b"email=ada%40exa")
        assert await status_line(stream) == "HTTP/1.1 408 Request Timeout"
    await watch.until(inside=0)


async def test_a_client_leaving_mid_body_logs_no_error(
    served: tuple[AuthKit, BodyWatch, str], caplog: pytest.LogCaptureFixture
) -> None:
    """L12: hanging up halfway through a form is not a server error: nothing at ERROR in
    the log (else anyone could flood it with tracebacks for free)."""
    _kit, watch, url = served
    async with await anyio.connect_tcp("127.0.0.1", port_of(url)) as stream:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "60"}
        await stream.send(raw_post("/auth/sign-in", headers) + b"email=ada%40exa")
        await watch.until(inside=1)
    await watch.until(inside=0)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


async def test_stalled_bodies_hold_no_database_connection_and_others_are_served(
    served: tuple[AuthKit, BodyWatch, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """L12: 30 clients stall mid-body → no pooled connection is taken, and a sign-in from
    someone else goes through; stalled bodies that finish are answered, and the server
    lets go of those whose client leaves.

    Deterministic under load: the stalled bodies may wait as long as the test takes (a
    busy machine once took past the 10 s body timeout, and they got 408s), and the
    background mail sweep of the first request is waited for, not raced."""
    monkeypatch.setattr("authkit.web.helpers.FORM_BODY_TIMEOUT_SECONDS", DEADLINE_SECONDS)
    kit, watch, url = served
    pool = kit.services.db.engine.sync_engine.pool
    assert isinstance(pool, QueuePool)
    form = b"email=ada%40example.com&password=a+perfectly+fine+passphrase"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(form)),
    }
    async with httpx.AsyncClient(base_url=url) as other:
        assert (await other.get("/auth/sign-in")).status_code == 200  # the kit is started
        # The first request scheduled the outbox's sweep (in the server's thread) before
        # answering: wait until it is done, so a connection checked out below is a
        # stalled request's. (Looking at the pool alone raced the sweep's start.)
        with anyio.fail_after(DEADLINE_SECONDS):
            while kit.services.mailer.pending_count or pool.checkedout():
                await anyio.sleep(0.01)
        stalled: list[SocketStream] = []
        try:
            for _ in range(STALLED_CLIENTS):
                stream = await anyio.connect_tcp("127.0.0.1", port_of(url))
                stalled.append(stream)
                await stream.send(raw_post("/auth/sign-in", headers) + form[:10])
            await watch.until(inside=STALLED_CLIENTS, waiting=STALLED_CLIENTS)
            # Every stalled request is parked in the form reader: nothing of the database's.
            assert pool.checkedout() == 0, pool.status()
            r = await sign_in(other, EMAIL)
            assert r.status_code == 303, r.text
            assert SESSION_COOKIE in other.cookies
            assert (await other.get("/api/me", headers=JSON)).status_code == 200
            assert watch.inside == STALLED_CLIENTS
            # Half of them finish their body: answered like any form post (no CSRF token).
            for stream in stalled[: STALLED_CLIENTS // 2]:
                await stream.send(form[10:])
                assert await status_line(stream) == "HTTP/1.1 403 Forbidden"
        finally:
            # The other half give up: the server lets go of every one of them.
            for stream in stalled:
                await stream.aclose()
        await watch.until(inside=0)
        assert (await other.get("/api/me", headers=JSON)).status_code == 200


# -- connection exhaustion ---------------------------------------------------------------------


async def hold_every_connection(kit: AuthKit) -> list[AsyncConnection]:
    """Check out every connection the kit's pool may open (its size plus its overflow)."""
    pool = kit.services.db.engine.sync_engine.pool
    assert isinstance(pool, QueuePool)
    capacity = pool.size() + pool._max_overflow  # SQLAlchemy keeps no public accessor
    held = [await kit.services.db.engine.connect() for _ in range(capacity)]
    assert pool.checkedout() == capacity, pool.status()
    return held


def csrf_pair(kit: AuthKit) -> tuple[str, str]:
    value = new_csrf_value()
    return value, kit.csrf.token({}, {CSRF_COOKIE: value})


async def test_with_every_connection_taken_token_checks_answer_and_db_work_waits(
    make_kit: KitFactory,
) -> None:
    """L12: pool exhausted → signed-in pages (a token check, no database) still answer;
    a sign-in waits for a connection and succeeds once one is free."""
    kit = make_kit()
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    async with browser(kit) as c, browser(kit) as newcomer:
        assert (await sign_in(c, EMAIL)).status_code == 303
        value, token = csrf_pair(kit)
        newcomer.cookies.set(CSRF_COOKIE, value)
        held = await hold_every_connection(kit)
        result: list[httpx.Response] = []
        try:
            async with anyio.create_task_group() as tg:

                async def post_sign_in() -> None:
                    data = {"csrf_token": token, "email": EMAIL, "password": PASSWORD}
                    result.append(await newcomer.post("/auth/sign-in", data=data))

                tg.start_soon(post_sign_in)
                cheap = {
                    "host page": await c.get("/"),
                    "protected API": await c.get("/api/me", headers=JSON),
                    "JWKS": await c.get("/auth/.well-known/jwks.json"),
                }
                assert {k: r.status_code for k, r in cheap.items()} == dict.fromkeys(cheap, 200)
                assert cheap["host page"].json()["is_signed_in"] is True
                # The sign-in needs a connection: it cannot have finished.
                assert result == []
                for connection in held:
                    await connection.close()
                held = []
        finally:
            for connection in held:
                await connection.close()
        (r,) = result
        assert r.status_code == 303, r.text
        assert SESSION_COOKIE in set_cookie_names(r)
    await kit.aclose()


@pytest.fixture
def short_pool_timeout(monkeypatch: pytest.MonkeyPatch) -> float:
    """Kits made after this wait 0.5 s for a pooled connection instead of 5 s."""
    timeout = 0.5
    monkeypatch.setattr("authkit.store.db.POOL_TIMEOUT_SECONDS", timeout)
    return timeout


async def signed_in_then_exhausted(
    make_kit: KitFactory, clock: FakeClock
) -> tuple[AuthKit, httpx.AsyncClient, list[AsyncConnection]]:
    kit = make_kit()
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    c = browser(kit)
    assert (await sign_in(c, EMAIL)).status_code == 303
    clock.advance(kit.settings.session_token_lifetime + 1)  # the next request must refresh
    return kit, c, await hold_every_connection(kit)


async def test_pool_timeout_fails_closed_without_internals_or_a_sign_out(
    make_kit: KitFactory, clock: FakeClock, short_pool_timeout: float
) -> None:
    """L12: no connection within the pool timeout → the sign-in is refused with an error
    page showing no internals and handing out no session; a signed-in browser that needed
    a refresh is not signed in for that request, keeps its cookies, and is signed in
    again once a connection is free."""
    kit, c, held = await signed_in_then_exhausted(make_kit, clock)
    value, token = csrf_pair(kit)
    try:
        async with browser(kit) as newcomer:
            newcomer.cookies.set(CSRF_COOKIE, value)
            data = {"csrf_token": token, "email": EMAIL, "password": PASSWORD}
            refused = await newcomer.post("/auth/sign-in", data=data)
        page = await c.get("/dashboard")
    finally:
        for connection in held:
            await connection.close()
    assert refused.status_code == 503, refused.text
    # The refresh could not run: signed out for this request, sent to sign in.
    assert page.status_code == 303, page.text
    for r in (refused, page):
        for leak in (*LEAKS, "QueuePool", "TimeoutError"):
            assert leak not in r.text, (leak, r.text)
        assert SESSION_COOKIE not in set_cookie_names(r), r.headers
        assert REFRESH_COOKIE not in set_cookie_names(r), r.headers
    r = await c.get("/api/me", headers=JSON)
    assert r.status_code == 200, r.text
    await c.aclose()
    await kit.aclose()


async def test_pool_timeout_answers_the_503_page(
    make_kit: KitFactory, clock: FakeClock, short_pool_timeout: float
) -> None:
    """L12: an exhausted pool is an outage like any other: 503 + Retry-After
    on auth pages, and a host page treats the visitor as signed out meanwhile."""
    kit, c, held = await signed_in_then_exhausted(make_kit, clock)
    value, token = csrf_pair(kit)
    try:
        async with browser(kit) as newcomer:
            newcomer.cookies.set(CSRF_COOKIE, value)
            data = {"csrf_token": token, "email": EMAIL, "password": PASSWORD}
            assert_unavailable(await newcomer.post("/auth/sign-in", data=data))
        home = await c.get("/")
        assert home.status_code == 200, home.text
        assert home.json()["is_signed_in"] is False
    finally:
        for connection in held:
            await connection.close()
        await c.aclose()
        await kit.aclose()


@pytest.fixture
async def limited_role(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """A PostgreSQL schema with authkit's tables and an account, and a role allowed one
    connection at a time with rights on it: (role, schema). Both dropped afterwards."""
    needs_postgres()
    role = f"authkit_limited_{secrets.token_hex(4)}"
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")

    async def run(*statements: str) -> None:
        async with admin.connect() as conn:
            for statement in statements:
                await conn.exec_driver_sql(statement)

    try:
        await run(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 1')
        setup = direct_kit(tmp_path, database_url=POSTGRES_URL, database_schema=schema)
        await setup.ensure_started()
        await create_user(setup.services, email=EMAIL, password=PASSWORD)
        await setup.aclose()
        await run(
            f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"',
            f'GRANT ALL ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"',
        )
        yield role, schema
    finally:
        await run(
            f'DROP SCHEMA IF EXISTS "{schema}" CASCADE',
            f'DROP OWNED BY "{role}"',
            f'DROP ROLE IF EXISTS "{role}"',
        )
        await admin.dispose()


@pytest.mark.postgres
async def test_database_refusing_connections_answers_the_503_page(
    tmp_path: Path, limited_role: tuple[str, str]
) -> None:
    """L12: PostgreSQL at its connection limit → the 503 page at once, no session; the next
    request after a connection frees works."""
    role, schema = limited_role
    url = POSTGRES_URL.replace("postgres@", f"{role}@")
    kit = direct_kit(tmp_path, database_url=url, database_schema=schema, auto_migrate=False)
    await kit.ensure_started()
    await kit.services.db.dispose()  # no pooled connection left: the next one is new
    # Someone else holds the role's only connection.
    other = create_async_engine(url)
    hog = await other.connect()
    value, token = csrf_pair(kit)
    try:
        async with browser(kit) as c:
            c.cookies.set(CSRF_COOKIE, value)
            data = {"csrf_token": token, "email": EMAIL, "password": PASSWORD}
            assert_unavailable(await c.post("/auth/sign-in", data=data))
            # The request also started the outbox's retry sweep in the background; let it
            # finish (it needs a connection too) before the slot is counted on.
            await kit.services.mailer.drain()
            await hog.close()
            await other.dispose()
            r = await c.post("/auth/sign-in", data=data)
            assert r.status_code == 303, r.text
    finally:
        await hog.close()
        await other.dispose()
        await kit.aclose()


# -- a full disk -------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (memory, not the real disk), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount_point)],
        check=True,
    )
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no block left; returns it (delete it to free space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    assert os.statvfs(disk).f_bavail == 0
    return filler


async def test_a_full_disk_fails_writes_closed_and_recovers_when_space_is_freed(
    clock: FakeClock, tiny_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """L12: SQLite's disk full → sign-in, sign-up, reset and refresh fail with the 503 page
    (or signed out with cookies kept), never a 500; reads go on; once space is freed the
    next sign-in works, and no failed attempt left a row behind."""
    kit = direct_kit(tiny_disk, clock=clock, email_url="console://")
    await kit.ensure_started()
    user_id = await create_user(kit.services, email=EMAIL, password=PASSWORD)
    async with browser(kit) as c, browser(kit) as newcomer:
        assert (await sign_in(c, EMAIL)).status_code == 303
        value, token = csrf_pair(kit)
        newcomer.cookies.set(CSRF_COOKIE, value)
        # Empty the write-ahead log, so the next write needs new blocks (it would reuse the
        # log's old ones otherwise, and succeed on a full disk).
        async with kit.services.db.engine.connect() as conn:
            checkpoint = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()
        assert checkpoint[0] == 0, checkpoint  # not busy: the log is empty now
        filler = fill(tiny_disk)
        caplog.clear()

        clock.advance(kit.settings.session_token_lifetime + 1)
        data = {"csrf_token": token, "email": EMAIL, "password": PASSWORD}
        assert_unavailable(await newcomer.post("/auth/sign-in", data=data))
        sign_up = {**data, "email": "new.person@example.com", "password": "another fine phrase"}
        assert_unavailable(await newcomer.post("/auth/sign-up", data=sign_up))
        assert_unavailable(await newcomer.post("/auth/forgot-password", data=data))
        # A refresh reads the session row (reads go on) and records its rotation only as the
        # response starts: that write fails, so the request is served from the row it read,
        # with a new session token, and the browser keeps the refresh token it has.
        home = await c.get("/")
        assert home.status_code == 200 and home.json()["user_id"] == user_id, home.text
        assert set_cookie_names(home) == ["__session"], home.headers
        assert "session refresh not recorded: database unavailable" in caplog.text
        # Reads go on.
        assert (await newcomer.get("/auth/sign-in")).status_code == 200
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"

        filler.unlink()
        home = await c.get("/")
        assert home.json()["user_id"] == user_id, home.text
        r = await newcomer.post("/auth/sign-in", data=data)
        assert r.status_code == 303, r.text

    async with kit.services.db.session() as s:
        sessions = (await s.exec(select(SessionRow).where(SessionRow.user_id == user_id))).all()
        sign_ins = (
            await s.exec(select(AuditEventRow).where(col(AuditEventRow.event) == "sign_in"))
        ).all()
    assert len(sessions) == 2 and len(sign_ins) == 2, (sessions, sign_ins)
    async with kit.services.db.engine.connect() as conn:
        (check,) = (await conn.exec_driver_sql("PRAGMA integrity_check")).one()
    assert check == "ok"
    await kit.aclose()
