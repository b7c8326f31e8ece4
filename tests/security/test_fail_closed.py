"""
Fail closed when the database is away (SECURITY.md #89, load test L5; ASVS 16.5.3):
auth pages answer a generic 503 with Retry-After and no traceback, nobody is signed in
or out by the outage (a signed-in browser keeps its cookies), and the kit recovers on the
next request once the database is back.

PostgreSQL goes away through a small TCP proxy in front of it (127.0.0.1 only) that the
test stops and starts; SQLite by renaming the folder that holds its file.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from authkit import AuthKit
from authkit.cookies import REFRESH_COOKIE, SESSION_COOKIE
from authkit.flows.admin import create_user

from ..conftest import POSTGRES_URL, FakeClock, KitFactory, Store, needs_postgres
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, csrf_of, form_token, sign_in

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"
UNREACHABLE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
#: What a 503 page must never show: internals an attacker could learn from.
LEAKS = ("Traceback", "OperationalError", "asyncpg", "sqlite3", "StoreError", "Errno", "File ")


# -- a database that can go away -----------------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; stop() refuses and cuts every connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        assert self._server is None
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        self._server = None
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        pipes = [
            asyncio.ensure_future(self._pipe(reader, up_writer)),
            asyncio.ensure_future(self._pipe(up_reader, writer)),
        ]
        self._tasks.update(pipes)
        for pipe in pipes:
            pipe.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._writers.discard(writer)


@dataclass
class Outage:
    """A database URL for the kit, and a switch to take that database away and back."""

    url: str
    down: Callable[[], Awaitable[None]]
    up: Callable[[], Awaitable[None]]
    #: SQLite only: an open file survives the rename, so pooled connections are closed
    #: (as a crashed server would drop them). The proxy cuts PostgreSQL's by itself.
    drop_pool: bool = False
    kits: list[AuthKit] = field(default_factory=list)

    async def take_down(self) -> None:
        await self.down()
        if self.drop_pool:
            for kit in self.kits:
                await kit.services.db.engine.dispose()


@pytest.fixture
async def outage(store: Store, tmp_path: Path) -> AsyncIterator[Outage]:
    if store.name == "sqlite":
        folder, away = tmp_path / "data", tmp_path / "data-away"
        folder.mkdir()

        async def down_sqlite() -> None:
            folder.rename(away)

        async def up_sqlite() -> None:
            away.rename(folder)

        url = f"sqlite+aiosqlite:///{folder}/authkit.db"
        yield Outage(url, down_sqlite, up_sqlite, drop_pool=True)
        return
    needs_postgres()
    target = httpx.URL(POSTGRES_URL.replace("postgresql+asyncpg", "http"))
    proxy = TcpProxy((target.host, target.port or 5432))
    await proxy.start()
    url = POSTGRES_URL.replace(f"{target.host}:{target.port}", f"127.0.0.1:{proxy.port}")
    try:
        yield Outage(url, proxy.stop, proxy.start)
    finally:
        await proxy.stop()


@pytest.fixture
async def kit_with_outage(make_kit: KitFactory, outage: Outage) -> AsyncIterator[AuthKit]:
    kit = make_kit(database_url=outage.url)
    outage.kits.append(kit)
    yield kit
    with contextlib.suppress(Exception):
        await kit.aclose()


def browser(kit: AuthKit) -> httpx.AsyncClient:
    # An exception escaping the app becomes the 500 a browser would see, not a test error.
    transport = httpx.ASGITransport(app=make_host_app(kit), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def set_cookie_names(r: httpx.Response) -> list[str]:
    return [c.split("=", 1)[0] for c in r.headers.get_list("set-cookie")]


def assert_unavailable(r: httpx.Response) -> None:
    """A generic 503 page: Retry-After, no internals, no session cookie."""
    assert r.status_code == 503, (r.status_code, r.text[:500])
    assert int(r.headers["retry-after"]) > 0, r.headers
    assert "unavailable" in r.text, r.text
    for leak in LEAKS:
        assert leak not in r.text, (leak, r.text)
    assert SESSION_COOKIE not in set_cookie_names(r), r.headers
    assert REFRESH_COOKIE not in set_cookie_names(r), r.headers
    assert "no-store" in r.headers.get("cache-control", ""), r.headers


def unreachable_url(store: Store, tmp_path: Path) -> str:
    if store.name == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/no/such/folder/authkit.db"
    return UNREACHABLE_POSTGRES


# -- the database is down from the start -------------------------------------------------


@pytest.mark.parametrize("auto_migrate", [True, False], ids=["auto-migrate", "no-migrate"])
async def test_auth_pages_answer_503_when_the_database_is_down_from_the_start(
    make_kit: KitFactory, store: Store, tmp_path: Path, auto_migrate: bool
) -> None:
    """Fail closed (#89): no database at start-up → 503 + Retry-After on GET and POST."""
    kit = make_kit(database_url=unreachable_url(store, tmp_path), auto_migrate=auto_migrate)
    async with browser(kit) as c:
        for path in ("/auth/sign-in", "/auth/sign-up", "/auth/forgot-password"):
            assert_unavailable(await c.get(path))
        data = {"csrf_token": "x", "email": EMAIL, "password": PASSWORD}
        for path in ("/auth/sign-in", "/auth/sign-up", "/auth/forgot-password"):
            assert_unavailable(await c.post(path, data=data))
        # The host app itself stays up and treats the visitor as signed out.
        home = await c.get("/")
        assert home.status_code == 200, home.text
        assert home.json()["is_signed_in"] is False
        r = await c.get("/dashboard")
        assert r.status_code == 303, r.text
    await kit.aclose()


# -- the database goes away after start-up -------------------------------------------------


async def test_sign_in_fails_closed_while_the_database_is_down(
    kit_with_outage: AuthKit, outage: Outage
) -> None:
    """Fail closed (#89): a sign-in posted during an outage gets 503 and no session."""
    kit = kit_with_outage
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    async with browser(kit) as c:
        token = await form_token(c, "/auth/sign-in")
        await outage.take_down()
        data = {"csrf_token": token, "email": EMAIL, "password": PASSWORD}
        assert_unavailable(await c.post("/auth/sign-in", data=data))
        assert_unavailable(
            await c.post("/auth/sign-up", data={**data, "email": "new.person@example.com"})
        )
        assert_unavailable(await c.post("/auth/forgot-password", data=data))
        assert (await c.get("/")).json()["is_signed_in"] is False


async def test_expired_token_during_an_outage_means_signed_out_but_cookies_are_kept(
    kit_with_outage: AuthKit, outage: Outage, clock: FakeClock
) -> None:
    """Fail closed (#89): no refresh without the database → anonymous, never a 500 or logout."""
    kit = kit_with_outage
    await kit.ensure_started()
    user_id = await create_user(kit.services, email=EMAIL, password=PASSWORD)
    async with browser(kit) as c:
        assert (await sign_in(c, EMAIL)).status_code == 303
        before = (await c.get("/")).json()
        assert before["user_id"] == user_id
        refresh = c.cookies[REFRESH_COOKIE]
        await outage.take_down()
        clock.advance(kit.settings.session_token_lifetime + 1)
        home = await c.get("/")
        assert home.status_code == 200, home.text
        assert home.json()["is_signed_in"] is False
        # Not a sign-out: the browser keeps both cookies for when the database is back.
        assert set_cookie_names(home) == [], home.headers.get_list("set-cookie")
        api = await c.get("/api/me", headers={"accept": "application/json"})
        assert api.status_code == 401, api.text
        assert REFRESH_COOKIE not in set_cookie_names(api)
        page = await c.get("/dashboard")
        assert page.status_code == 303, page.text
        assert REFRESH_COOKIE not in set_cookie_names(page)
        profile = await c.get("/auth/user")
        assert profile.status_code in (303, 503), profile.text
        assert REFRESH_COOKIE not in set_cookie_names(profile)
        assert c.cookies[REFRESH_COOKIE] == refresh
        # Back again: the very next request refreshes the same session.
        await outage.up()
        after = await c.get("/")
        assert after.json() == before, after.text
        assert SESSION_COOKIE in set_cookie_names(after)


async def test_jwks_is_still_served_while_the_database_is_down(
    kit_with_outage: AuthKit, outage: Outage
) -> None:
    """JWKS availability (#55): the keys in memory are published during an outage."""
    kit = kit_with_outage
    await kit.ensure_started()
    async with browser(kit) as c:
        before = (await c.get("/auth/.well-known/jwks.json")).json()
        await outage.take_down()
        r = await c.get("/auth/.well-known/jwks.json")
    assert r.status_code == 200, r.text
    assert r.json() == before


async def test_the_next_request_after_an_outage_works_again(
    kit_with_outage: AuthKit, outage: Outage
) -> None:
    """Recovery (L5): sign-in fails closed while the database is away, works once it is back."""
    kit = kit_with_outage
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    async with browser(kit) as c:
        for _ in range(2):
            data = {"csrf_token": await form_token(c, "/auth/sign-in"), "email": EMAIL}
            data["password"] = PASSWORD
            await outage.take_down()
            assert_unavailable(await c.post("/auth/sign-in", data=data))
            assert_unavailable(await c.post("/auth/sign-in", data=data))
            await outage.up()
            r = await c.post("/auth/sign-in", data=data)
            assert r.status_code == 303, r.text
            assert SESSION_COOKIE in set_cookie_names(r)
            assert (await c.get("/")).json()["is_signed_in"] is True
            c.cookies.clear()


async def test_a_kit_that_could_not_start_starts_once_the_database_is_back(
    kit_with_outage: AuthKit, outage: Outage
) -> None:
    """Recovery (L5): down at the first request → 503 (auto_migrate on); back → next works."""
    kit = kit_with_outage
    assert kit.settings.auto_migrate
    await outage.take_down()
    async with browser(kit) as c:
        assert_unavailable(await c.get("/auth/sign-in"))
        assert_unavailable(await c.get("/auth/sign-in"))
        await outage.up()
        page = await c.get("/auth/sign-in")
        assert page.status_code == 200, page.text
        await create_user(kit.services, email=EMAIL, password=PASSWORD)
        data = {"csrf_token": csrf_of(page.text), "email": EMAIL, "password": PASSWORD}
        r = await c.post("/auth/sign-in", data=data)
        assert r.status_code == 303, r.text
