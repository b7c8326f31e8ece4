"""
`authkit.testing`: a pytest plugin for your own app's tests, loaded by pytest whenever
authkit is installed (the `pytest11` entry point; nothing to list in `conftest.py`).

Tell it which app to test with an `authkit_app` fixture returning the ASGI app you
called `authkit.install()` on (an `app` fixture works too). A fresh database per test
keeps tests apart: a SQLite file under `tmp_path`. Then ask for:

- `authkit_client`: Starlette's `TestClient` on your app at your `base_url`, inside its
  `with` block (lifespan run, one event loop for the whole test).
- `authkit_user`: a `TestUser` with a verified address and a known password, made
  directly: no sign-up pages, no mail.
- `signed_in_client`: `authkit_client` signed in as `authkit_user` with a real session
  (its refresh works; signing out ends it).
- `authkit_outbox`: every email the kit sends during the test, kept instead of sent
  (`CapturedMail`: `.to(address)`, `.code_for(address)`, `.link_for(address)`).

Async tests driving the app with `httpx.AsyncClient(transport=ASGITransport(app))` on
their own event loop use the coroutines instead, awaited on that loop:
`await create_test_user(kit)`, `await make_session_cookie(kit, user_id)` (the cookies,
which `set_session_cookies(client, kit, cookies)` puts on the client) and
`capture_mail(kit)` (then `await mail.drain()` before reading).

The kit's database connections belong to one event loop (asyncpg's do): that is why the
fixtures make users through the test client's own loop, never a loop of their own.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import pytest

from .app import AuthKit
from .cookies import set_cookie
from .flows.sign_in import complete_sign_in
from .middleware import AuthKitMiddleware
from .sessions import RequestMeta, prepare_session
from .users import sign_in_generation

if TYPE_CHECKING:
    from starlette.testclient import TestClient
    from starlette.types import ASGIApp

__all__ = [
    "CapturedMail",
    "TestUser",
    "capture_mail",
    "create_test_user",
    "find_kit",
    "make_session_cookie",
    "set_session_cookies",
]

#: The session a test helper starts says so in the user's list of devices.
TEST_USER_AGENT = "authkit.testing"
_CODE = re.compile(r"\b(\d{6})\b")
_LINK = re.compile(r"https?://\S+")


@dataclass(frozen=True, slots=True)
class TestUser:
    """A user made for a test, with the password that signs them in."""

    __test__ = False  # not a test class, whatever pytest makes of its name

    id: str
    email: str
    password: str
    first_name: str
    last_name: str


async def create_test_user(
    kit: AuthKit,
    *,
    email: str | None = None,
    password: str | None = None,
    first_name: str = "Test",
    last_name: str = "User",
) -> TestUser:
    """A user with a verified address (a new `user-…@example.com` unless given) and a
    password (a new passphrase unless given), made through `kit.users.create`."""
    await kit.ensure_started()
    email = email or f"user-{secrets.token_hex(4)}@example.com"
    password = password or f"test passphrase {secrets.token_hex(8)}"
    user = await kit.users.create(
        email=email, password=password, first_name=first_name, last_name=last_name
    )
    return TestUser(user.id, user.email, password, user.first_name, user.last_name)


async def make_session_cookie(kit: AuthKit, user_id: str) -> dict[str, str]:
    """
    Start a session for `user_id` as a password sign-in would, without the pages: the
    cookies a browser would then hold (session token and refresh token), by name, to set
    on a test client. The session is real: it refreshes, shows in the user's devices and
    ends on sign-out.

    Raises:
        LookupError: there is no such user, or they are banned.
    """
    await kit.ensure_started()
    svc = kit.services
    await prepare_session(svc)
    async with svc.db.session() as s:
        generation = await sign_in_generation(s, user_id)
        if generation is None:
            raise LookupError(f"no user {user_id!r} who may sign in (unknown or banned)")
        start = await complete_sign_in(
            svc,
            s,
            user_id=user_id,
            factors=[("pwd", svc.clock())],
            meta=RequestMeta(ip_address="127.0.0.1", user_agent=TEST_USER_AGENT),
            credential_generation=generation,
            event=None,
        )
    names = kit.cookie_names
    return {names.session: start.session_token, names.refresh: start.refresh_token}


def set_session_cookies(client: Any, kit: AuthKit, cookies: Mapping[str, str]) -> None:
    """
    Put `cookies` (from `make_session_cookie`) in an httpx client's jar (a TestClient is
    one) exactly as the kit's Set-Cookie headers would, so that a later answer that
    replaces or clears them (a refresh, a sign-out) reaches them. (`client.cookies.set`
    would file them under another domain, where a sign-out could not clear them.)
    """
    import httpx

    secure = kit.cookie_names.secure
    headers = [
        ("set-cookie", set_cookie(name, value, max_age=None, secure=secure).decode("latin-1"))
        for name, value in cookies.items()
    ]
    request = httpx.Request("GET", str(client.base_url).rstrip("/") + kit.mount_path + "/")
    client.cookies.extract_cookies(httpx.Response(200, headers=headers, request=request))


class CapturedMail:
    """
    The emails a kit sent while captured, oldest first. Sending happens in the
    background after each answer: in async tests `await drain()` before reading; the
    `authkit_outbox` fixture drains by itself.
    """

    def __init__(self, kit: AuthKit, settle: Callable[[], None] | None = None) -> None:
        self._kit = kit
        self._settle = settle
        self._messages: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        """The kit's transport while captured: keep the message."""
        self._messages.append(message)

    async def drain(self) -> None:
        """Wait for every email the kit has queued so far."""
        await self._kit.services.mailer.drain()

    @property
    def messages(self) -> list[EmailMessage]:
        if self._settle is not None:
            self._settle()
        return list(self._messages)

    def to(self, address: str) -> list[EmailMessage]:
        """The messages sent to `address` (case does not matter)."""
        wanted = address.casefold()
        return [m for m in self.messages if str(m["To"]).casefold() == wanted]

    def last(self, address: str) -> EmailMessage:
        found = self.to(address)
        if not found:
            sent = [str(m["To"]) for m in self._messages] or "nothing"
            raise AssertionError(f"no email to {address} (sent to: {sent})")
        return found[-1]

    @staticmethod
    def text_of(message: EmailMessage) -> str:
        """The plain-text part."""
        part = message.get_body(preferencelist=("plain",))
        if part is None:
            raise AssertionError(f"the email {message['Subject']!r} has no text part")
        return str(part.get_content())

    def code_for(self, address: str) -> str:
        """The six-digit code in the last email to `address`."""
        text = self.text_of(self.last(address))
        match = _CODE.search(text)
        if match is None:
            raise AssertionError(f"no six-digit code in the last email to {address}:\n{text}")
        return match.group(1)

    def link_for(self, address: str) -> str:
        """The first link in the last email to `address`."""
        text = self.text_of(self.last(address))
        match = _LINK.search(text)
        if match is None:
            raise AssertionError(f"no link in the last email to {address}:\n{text}")
        return match.group(0)

    def clear(self) -> None:
        if self._settle is not None:
            self._settle()
        self._messages.clear()


@contextlib.contextmanager
def capture_mail(
    kit: AuthKit, *, settle: Callable[[], None] | None = None
) -> Iterator[CapturedMail]:
    """Keep the kit's emails instead of sending them, within the block."""
    mailer = kit.services.mailer
    captured = CapturedMail(kit, settle)
    before = mailer.transport
    mailer.transport = captured
    try:
        yield captured
    finally:
        mailer.transport = before


def find_kit(app: Any) -> AuthKit:
    """
    The AuthKit installed on `app` (a Starlette or FastAPI app, the app `install()`
    returned, or the kit itself).

    Raises:
        LookupError: no kit is installed on it.
    """
    if isinstance(app, AuthKit):
        return app
    if isinstance(app, AuthKitMiddleware) and isinstance(app.kit, AuthKit):
        return app.kit
    for middleware in getattr(app, "user_middleware", ()):
        kit = middleware.kwargs.get("kit")
        if middleware.cls is AuthKitMiddleware and isinstance(kit, AuthKit):
            return kit
    raise LookupError(
        "no AuthKit is installed on this app: call authkit.install(app), or define an "
        "`authkit_kit` fixture returning your AuthKit"
    )


# -- the fixtures ----------------------------------------------------------------------


@pytest.fixture
def authkit_app(request: pytest.FixtureRequest) -> ASGIApp:
    """Your app: define this fixture (or one named `app`) in your conftest.py."""
    try:
        app: ASGIApp = request.getfixturevalue("app")
    except pytest.FixtureLookupError:
        pytest.fail(
            "authkit.testing needs your app: define an `authkit_app` fixture in "
            "conftest.py returning the ASGI app you called authkit.install() on",
            pytrace=False,
        )
    return app


@pytest.fixture
def authkit_kit(authkit_app: ASGIApp) -> AuthKit:
    """The AuthKit installed on `authkit_app`."""
    try:
        return find_kit(authkit_app)
    except LookupError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def authkit_client(authkit_app: ASGIApp, authkit_kit: AuthKit) -> Iterator[TestClient]:
    """A TestClient on your app at the kit's base_url, nobody signed in."""
    from starlette.testclient import TestClient

    base_url = authkit_kit.settings.base_url
    with TestClient(authkit_app, base_url=base_url, follow_redirects=False) as client:
        portal = client.portal
        assert portal is not None  # set inside the with block
        portal.call(authkit_kit.ensure_started)
        try:
            yield client
        finally:
            # The pool's connections belong to this client's loop: close them on it.
            portal.call(authkit_kit.aclose)


@pytest.fixture
def authkit_user(authkit_client: TestClient, authkit_kit: AuthKit) -> TestUser:
    """A user with a verified address and a known password."""
    portal = authkit_client.portal
    assert portal is not None
    return portal.call(create_test_user, authkit_kit)


@pytest.fixture
def signed_in_client(
    authkit_client: TestClient, authkit_kit: AuthKit, authkit_user: TestUser
) -> TestClient:
    """`authkit_client`, signed in as `authkit_user`."""
    portal = authkit_client.portal
    assert portal is not None
    cookies = portal.call(make_session_cookie, authkit_kit, authkit_user.id)
    set_session_cookies(authkit_client, authkit_kit, cookies)
    return authkit_client


@pytest.fixture
def authkit_outbox(authkit_client: TestClient, authkit_kit: AuthKit) -> Iterator[CapturedMail]:
    """Every email the kit sends during the test (none reach a mail server)."""
    portal = authkit_client.portal
    assert portal is not None

    def settle() -> None:
        portal.call(authkit_kit.services.mailer.drain)

    with capture_mail(authkit_kit, settle=settle) as captured:
        yield captured
