"""
Shared fixtures: a store on SQLite and on PostgreSQL, an injected clock, a real SMTP
server (aiosmtpd) as the mailbox, an AuthKit mounted in a small host app, and an httpx
client driving it.

PostgreSQL and Redis tests skip with a visible reason when the server is absent, unless
AUTHKIT_REQUIRE_SERVICES=1 (set by .ci/run), which turns the absence into a failure.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from authkit import AuthKit

from .hostapp import make_host_app

POSTGRES_URL = os.environ.get(
    "AUTHKIT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REQUIRE_SERVICES = os.environ.get("AUTHKIT_REQUIRE_SERVICES") == "1"
TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return None
    except OSError as exc:
        return f"PostgreSQL is not reachable at 127.0.0.1:5432 ({exc})"


_PG_PROBLEM = _postgres_reachable()


def _redis_reachable() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return None
    except OSError as exc:
        return f"Redis is not reachable at 127.0.0.1:6379 ({exc})"


_REDIS_PROBLEM = _redis_reachable()
REDIS_URL = "redis://127.0.0.1:6379/0"


def needs_redis() -> None:
    if _REDIS_PROBLEM is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{_REDIS_PROBLEM}; AUTHKIT_REQUIRE_SERVICES=1 makes it mandatory")
    pytest.skip(_REDIS_PROBLEM)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Sync Playwright keeps an event loop running once started: browser tests go last.
    browser = {"page", "context", "new_context", "browser"}
    items.sort(key=lambda item: bool(browser & set(getattr(item, "fixturenames", ()))))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def needs_postgres() -> None:
    if _PG_PROBLEM is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{_PG_PROBLEM}; AUTHKIT_REQUIRE_SERVICES=1 makes it mandatory")
    pytest.skip(_PG_PROBLEM)


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class Store:
    name: str
    url: str
    schema: str | None = None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Store]:
    """An empty database of each kind: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield Store("sqlite", f"sqlite+aiosqlite:///{tmp_path}/authkit.db")
        return
    needs_postgres()
    schema = f"t_{secrets.token_hex(6)}"
    dsn = POSTGRES_URL.replace("+asyncpg", "")
    yield Store("postgres", POSTGRES_URL, schema)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


# -- mail ----------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """Every message the SMTP server received."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if str(m["To"]).casefold() == address.casefold()]

    def last_code(self, address: str) -> str:
        body = self.text_of(self.to(address)[-1])
        match = re.search(r"\b(\d{6})\b", body)
        assert match, body
        return match.group(1)

    @staticmethod
    def text_of(message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


# -- the kit and a host app ----------------------------------------------------------------

KitFactory = Callable[..., AuthKit]


@pytest.fixture
def make_kit(store: Store, mailbox: Mailbox, clock: FakeClock) -> Iterator[KitFactory]:
    """Build AuthKits on the test store, mailing to the test SMTP server."""
    made: list[AuthKit] = []

    def factory(**overrides: Any) -> AuthKit:
        values: dict[str, Any] = {
            "secret_key": TEST_SECRET,
            "database_url": store.url,
            "database_schema": store.schema,
            "email_url": f"smtp://127.0.0.1:{mailbox.port}",
            "email_from": "authkit <no-reply@authkit.test>",
            "base_url": "http://testserver",
            "password_hash_profile": "CHEAPEST",
            "auto_migrate": True,
            "clock": clock,
            # Most tests post forms as a script would, with no proof of work: the bot
            # check has its own tests (tests/web/test_bot_protection.py and the browser's).
            "bot_protection": False,
        }
        values.update(overrides)
        kit = AuthKit(**values)
        made.append(kit)
        return kit

    yield factory


@pytest.fixture
def kit(make_kit: KitFactory) -> AuthKit:
    return make_kit()


@pytest.fixture
def app(kit: AuthKit) -> Starlette:
    return make_host_app(kit)


@pytest.fixture
async def client(app: Starlette, kit: AuthKit) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
    await kit.aclose()


# -- a live server for browser tests -------------------------------------------------------

#: Test-only npm packages (jose, axe-core, oidc-provider), installed by scripts/test.
JS_DIR = Path(__file__).resolve().parent / "js"
#: POST here on a server made with `closable` closes its kit's pool on the server's loop.
CLOSE_PATH = "/__test__/close"


def closable(app: ASGIApp, kit: AuthKit) -> ASGIApp:
    """The app, plus a route that closes the kit's database pool on the server's own loop."""

    async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == CLOSE_PATH:
            await kit.aclose()
            await Response(status_code=204)(scope, receive, send)
            return
        await app(scope, receive, send)

    return wrapper


def need_node(purpose: str) -> str:
    """The node binary with npm jose installed, or skip (fail under
    AUTHKIT_REQUIRE_SERVICES=1) saying why; `purpose` names the test that needs it."""
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = f"node is not installed ({purpose})"
    elif not (JS_DIR / "node_modules" / "jose").is_dir():
        problem = f"{JS_DIR / 'node_modules'} is absent: run `cd tests/js && npm ci`"
    if problem is not None:
        if REQUIRE_SERVICES:
            pytest.fail(f"{problem}; AUTHKIT_REQUIRE_SERVICES=1 makes it mandatory")
        pytest.skip(problem)
    assert node is not None
    return node


def serve(app: Any, port: int = 0, *, lifespan: str = "off") -> tuple[str, Callable[[], None]]:
    """Run an ASGI app with uvicorn in a thread; returns its URL and a stop function."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(5)
        sock.close()

    return f"http://127.0.0.1:{sock.getsockname()[1]}", stop


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    chromium = {"executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}
    return {**browser_type_launch_args, **chromium}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Under AUTHKIT_REQUIRE_SERVICES=1 (CI) a skipped test is a failed test."""
    report = yield
    if REQUIRE_SERVICES and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under AUTHKIT_REQUIRE_SERVICES=1: {report.longrepr}"
    return report


# -- a real OpenID provider for social login ---------------------------------------------


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Any]:
    """npm oidc-provider on a free port, for the whole session (it takes a second)."""
    from .oidc_provider import TEST_SITE, start_provider

    yield from start_provider([f"{TEST_SITE}/auth/oauth/acme/callback"])
