"""
`authkit.testing`, the pytest plugin for hosts' own tests: its fixtures on SQLite and on
PostgreSQL (asyncpg connections belong to one event loop: users are made on the test
client's loop), the sessions they start are real ones, mail is captured instead of sent,
the async helpers on a test's own loop, and pytest loading the plugin by itself.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import textwrap
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from authkit import AuthKit
from authkit.testing import (
    CapturedMail,
    TestUser,
    capture_mail,
    create_test_user,
    find_kit,
    make_session_cookie,
    set_session_cookies,
)

from ..conftest import POSTGRES_URL, TEST_SECRET, FakeClock, free_port, needs_postgres
from ..hostapp import make_host_app

JSON = {"accept": "application/json"}
#: Nothing listens here: an email that reached the transport would fail, not arrive.
NO_MAIL_SERVER = "smtp://127.0.0.1:{port}"


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def plugin_kit(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[AuthKit]:
    """A kit on a new SQLite file or PostgreSQL schema, mailing to a closed port (sync:
    the plugin's fixtures are for sync tests)."""
    values: dict[str, object] = {
        "secret_key": TEST_SECRET,
        "base_url": "http://testserver",
        "email_url": NO_MAIL_SERVER.format(port=free_port()),
        "password_hash_profile": "CHEAPEST",
        "auto_migrate": True,
        "clock": clock,
    }
    if request.param == "sqlite":
        yield AuthKit(database_url=f"sqlite+aiosqlite:///{tmp_path}/authkit.db", **values)
        return
    needs_postgres()
    schema = f"t_{secrets.token_hex(6)}"
    yield AuthKit(database_url=POSTGRES_URL, database_schema=schema, **values)

    async def drop() -> None:
        conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture
def authkit_app(plugin_kit: AuthKit) -> Starlette:
    return make_host_app(plugin_kit)


async def bare_asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("never called")


def test_the_kit_is_found_on_the_app(authkit_app: Starlette, plugin_kit: AuthKit) -> None:
    assert find_kit(authkit_app) is plugin_kit
    assert find_kit(plugin_kit.install(bare_asgi_app)) is plugin_kit
    assert find_kit(plugin_kit) is plugin_kit
    with pytest.raises(LookupError, match=r"call authkit.install\(app\)"):
        find_kit(Starlette())


def test_signed_in_client_is_signed_in_as_the_user(
    signed_in_client: TestClient, authkit_user: TestUser, authkit_client: TestClient
) -> None:
    assert signed_in_client is authkit_client
    r = signed_in_client.get("/api/me", headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == authkit_user.id
    assert r.json()["claims"]["sub"] == authkit_user.id
    assert "@example.com" in authkit_user.email and len(authkit_user.password) > 20


def test_the_session_is_real_it_refreshes_and_signing_out_ends_it(
    signed_in_client: TestClient, plugin_kit: AuthKit, clock: FakeClock
) -> None:
    names = plugin_kit.cookie_names
    first_token = signed_in_client.cookies[names.session]
    clock.advance(plugin_kit.settings.session_token_lifetime + 1)
    r = signed_in_client.get("/api/me", headers=JSON)
    assert r.status_code == 200, r.text  # refreshed from the session row
    assert signed_in_client.cookies[names.session] != first_token
    refresh = signed_in_client.cookies[names.refresh]

    page = signed_in_client.get("/auth/user")
    r = signed_in_client.post("/auth/sign-out", data={"csrf_token": csrf_token(page.text)})
    assert r.status_code == 303, r.text
    assert names.session not in signed_in_client.cookies  # cleared by the answer
    assert signed_in_client.get("/api/me", headers=JSON).status_code == 401
    # The refresh token it held no longer works: the session row is ended.
    set_session_cookies(signed_in_client, plugin_kit, {names.refresh: refresh})
    clock.advance(plugin_kit.settings.session_token_lifetime + 1)
    assert signed_in_client.get("/api/me", headers=JSON).status_code == 401


def test_the_users_password_signs_in_through_the_pages(
    authkit_client: TestClient, authkit_user: TestUser
) -> None:
    page = authkit_client.get("/auth/sign-in")
    data = {
        "csrf_token": csrf_token(page.text),
        "email": authkit_user.email,
        "password": authkit_user.password,
    }
    assert authkit_client.post("/auth/sign-in", data=data).status_code == 303
    assert authkit_client.get("/api/me", headers=JSON).json()["user_id"] == authkit_user.id


def test_the_outbox_captures_mail_instead_of_sending_it(
    authkit_client: TestClient, authkit_user: TestUser, authkit_outbox: CapturedMail
) -> None:
    page = authkit_client.get("/auth/forgot-password")
    data = {"csrf_token": csrf_token(page.text), "email": authkit_user.email.upper()}
    assert authkit_client.post("/auth/forgot-password", data=data).status_code == 303
    # Sent in the background after the answer: reading the outbox waits for it.
    assert [str(m["To"]) for m in authkit_outbox.messages] == [authkit_user.email]
    assert re.fullmatch(r"\d{6}", authkit_outbox.code_for(authkit_user.email))
    assert authkit_outbox.link_for(authkit_user.email).startswith("http://testserver/auth/")
    with pytest.raises(AssertionError, match=re.escape("no email to nobody@example.com")):
        authkit_outbox.last("nobody@example.com")
    authkit_outbox.clear()
    assert authkit_outbox.messages == []


def test_a_banned_user_gets_no_session(authkit_client: TestClient, authkit_user: TestUser) -> None:
    kit = find_kit(authkit_client.app)
    portal = authkit_client.portal
    assert portal is not None
    portal.call(kit.users.ban, authkit_user.id)
    with pytest.raises(LookupError, match="unknown or banned"):
        portal.call(make_session_cookie, kit, authkit_user.id)


@pytest.mark.anyio
async def test_the_async_helpers_on_the_tests_own_loop(plugin_kit: AuthKit) -> None:
    """An async test with httpx on its own loop: the coroutines, awaited on that loop."""
    app = make_host_app(plugin_kit)
    try:
        user = await create_test_user(plugin_kit, email="ada@example.com", first_name="Ada")
        assert (user.email, user.first_name, user.last_name) == ("ada@example.com", "Ada", "User")
        cookies = await make_session_cookie(plugin_kit, user.id)
        assert set(cookies) == {plugin_kit.cookie_names.session, plugin_kit.cookie_names.refresh}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            set_session_cookies(c, plugin_kit, cookies)
            r = await c.get("/api/me", headers=JSON)
            assert r.json()["user_id"] == user.id
            with capture_mail(plugin_kit) as mail:
                page = await c.get("/auth/forgot-password")
                data = {"csrf_token": csrf_token(page.text), "email": user.email}
                assert (await c.post("/auth/forgot-password", data=data)).status_code == 303
                await mail.drain()
                assert len(mail.code_for(user.email)) == 6
    finally:
        await plugin_kit.aclose()


HOST_CONFTEST = """
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from authkit import AuthKit, auth, requires_user


@requires_user
async def me(request):
    return JSONResponse({"user_id": auth(request).user_id})


@pytest.fixture
def authkit_app(tmp_path):
    kit = AuthKit(
        secret_key="a test secret key of at least 32 characters",
        database_url=f"sqlite+aiosqlite:///{tmp_path}/test.db",
        base_url="http://testserver",
        password_hash_profile="CHEAPEST",
    )
    app = Starlette(routes=[Route("/me", me), Mount("/auth", app=kit)])
    kit.install(app)
    return app
"""

HOST_TEST = """
def test_me(signed_in_client, authkit_user):
    assert signed_in_client.get("/me").json() == {"user_id": authkit_user.id}


def test_anonymous(authkit_client):
    assert authkit_client.get("/me", headers={"accept": "application/json"}).status_code == 401
"""


def test_pytest_loads_the_plugin_by_itself(pytester: pytest.Pytester) -> None:
    """A host's project lists nothing: the entry point loads the plugin."""
    pytester.makeconftest(textwrap.dedent(HOST_CONFTEST))
    pytester.makepyfile(test_host=textwrap.dedent(HOST_TEST))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "default")
    result.assert_outcomes(passed=2)


def test_without_an_app_the_plugin_says_what_to_define(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_host=textwrap.dedent(HOST_TEST))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        ["*authkit.testing needs your app: define an `authkit_app` fixture in conftest.py*"]
    )
