"""
Session fixation (SECURITY.md #24, ASVS 7.2.4) and logout that really ends the session
(#39, ASVS 7.4.1): whatever `__session`/`__refresh` a browser carries when it signs in
(garbage, or another user's stale session) is replaced by a new session, never reused
or elevated, and after sign-out the old refresh cookie cannot bring the session back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.cookies import REFRESH_COOKIE, SESSION_COOKIE
from authkit.flows.admin import create_user
from authkit.store.models import SessionRow

from ..conftest import FakeClock, KitFactory, Mailbox
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, csrf_of, form_token, sign_in, sign_out, sign_up

pytestmark = pytest.mark.anyio

VICTIM = "victim@example.com"
ATTACKER = "attacker@example.com"


@asynccontextmanager
async def browser(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser (its own cookie jar) on the same app."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def make_user(kit: AuthKit, email: str) -> str:
    await kit.ensure_started()
    return await create_user(kit.services, email=email, password=PASSWORD)


def plant(client: httpx.AsyncClient, name: str, value: str) -> None:
    """Put a cookie in the jar exactly where the server's own cookie of that name lives."""
    # http.cookiejar files cookies of a dotless host under "<host>.local".
    client.cookies.set(name, value, domain="testserver.local", path="/")


def set_cookie_values(response: httpx.Response, name: str) -> list[str]:
    """The values this response sets for cookie `name`, in header order."""
    prefix = f"{name}="
    return [
        header.split(";", 1)[0][len(prefix) :]
        for header in response.headers.get_list("set-cookie")
        if header.startswith(prefix)
    ]


async def whoami(client: httpx.AsyncClient) -> dict[str, object]:
    r = await client.get("/")
    assert r.status_code == 200, r.text
    state: dict[str, object] = r.json()
    return state


async def sign_in_carrying(
    client: httpx.AsyncClient, cookies: dict[str, str], email: str = VICTIM
) -> httpx.Response:
    """
    Post the sign-in form with `cookies` planted in the jar for the POST itself (as a
    cookie set by a sibling subdomain or an old tab would be), not only before the GET.
    """
    # Any page gives this browser's CSRF token; this one renders signed in or not.
    token = await form_token(client, "/auth/forgot-password")
    for name, value in cookies.items():
        plant(client, name, value)
    return await client.post(
        "/auth/sign-in", data={"csrf_token": token, "email": email, "password": PASSWORD}
    )


def assert_replaced(r: httpx.Response, planted: dict[str, str]) -> tuple[str, str]:
    """
    The sign-in answer sets a new session and refresh cookie, and the last word on each
    name (what a browser keeps) is the new value, never the planted one or a deletion.
    """
    # Browsers apply Set-Cookie headers in order (RFC 6265 §5.3), so a deletion after the
    # new value wins. httpx's jar (http.cookiejar) applies deletions first whatever the
    # order, which would hide that: the headers themselves are checked.
    assert r.status_code == 303, r.text
    session = set_cookie_values(r, SESSION_COOKIE)
    refresh = set_cookie_values(r, REFRESH_COOKIE)
    assert session and refresh, r.headers.get_list("set-cookie")
    assert session[-1] not in ("", planted.get(SESSION_COOKIE)), r.headers.get_list("set-cookie")
    assert refresh[-1] not in ("", planted.get(REFRESH_COOKIE)), r.headers.get_list("set-cookie")
    return session[-1], refresh[-1]


GARBAGE = {
    "session-only": {SESSION_COOKIE: "garbage.session.token"},
    "refresh-only": {REFRESH_COOKIE: "sess_0000000000000000.attackerchosen"},
    "both": {SESSION_COOKIE: "x.y.z", REFRESH_COOKIE: "garbage"},
}


@pytest.mark.parametrize("planted", GARBAGE.values(), ids=GARBAGE.keys())
async def test_planted_garbage_session_cookies_are_replaced_at_sign_in(
    client: httpx.AsyncClient, kit: AuthKit, planted: dict[str, str]
) -> None:
    """Session fixation (#24): garbage __session/__refresh present at sign-in are replaced."""
    user_id = await make_user(kit, VICTIM)
    r = await sign_in_carrying(client, planted)
    session, refresh = assert_replaced(r, planted)
    assert client.cookies.get(SESSION_COOKIE) == session
    assert client.cookies.get(REFRESH_COOKIE) == refresh
    me = await whoami(client)
    assert me["is_signed_in"] is True, me
    assert me["user_id"] == user_id


async def test_planted_refresh_cookie_is_replaced_when_sign_up_completes(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Session fixation (#24): the code step of sign-up replaces a planted refresh cookie."""
    token = await form_token(client, "/auth/sign-up")
    r = await client.post(
        "/auth/sign-up", data={"csrf_token": token, "email": VICTIM, "password": PASSWORD}
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    await kit.services.mailer.drain()
    planted = {REFRESH_COOKIE: "garbage"}
    plant(client, REFRESH_COOKIE, planted[REFRESH_COOKIE])
    r = await client.post(
        "/auth/sign-up/verify",
        data={"csrf_token": csrf_of(page.text), "code": mailbox.last_code(VICTIM)},
    )
    assert_replaced(r, planted)


async def test_another_users_stale_session_is_replaced_not_reused(
    client: httpx.AsyncClient, app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    """Session fixation (#24): a stale session of another user is never reused or elevated."""
    attacker_id = await make_user(kit, ATTACKER)
    victim_id = await make_user(kit, VICTIM)
    async with browser(app) as attacker:
        assert (await sign_in(attacker, ATTACKER)).status_code == 303
        stale = {
            SESSION_COOKIE: attacker.cookies[SESSION_COOKIE],
            REFRESH_COOKIE: attacker.cookies[REFRESH_COOKIE],
        }
        attacker_session = (await whoami(attacker))["session_id"]
        assert (await sign_out(attacker)).status_code == 303
    # The attacker's token has expired by the time the victim signs in.
    clock.advance(kit.settings.session_token_lifetime + 1)
    r = await sign_in_carrying(client, stale)
    assert_replaced(r, stale)
    me = await whoami(client)
    assert me["is_signed_in"] is True, me
    assert me["user_id"] == victim_id != attacker_id
    assert me["session_id"] != attacker_session
    async with kit.services.db.session() as s:
        rows = {row.id: row for row in (await s.exec(select(SessionRow))).all()}
    assert rows[str(attacker_session)].revoked_at is not None, "never revived"
    assert rows[str(me["session_id"])].user_id == victim_id


async def test_a_live_session_of_another_user_is_replaced_at_sign_in(
    client: httpx.AsyncClient, app: Starlette, kit: AuthKit
) -> None:
    """Session fixation (#24): signing in over someone else's live session starts a new one."""
    await make_user(kit, ATTACKER)
    victim_id = await make_user(kit, VICTIM)
    async with browser(app) as attacker:
        assert (await sign_in(attacker, ATTACKER)).status_code == 303
        planted = dict(attacker.cookies)
        attacker_session = (await whoami(attacker))["session_id"]
    for name, value in planted.items():
        plant(client, name, value)
    page = await client.get("/auth/sign-in")
    # Signed in as the attacker, the sign-in page moves on; the form can still be posted
    # (from an embedded component or an old tab).
    assert page.status_code == 303, page.text
    r = await sign_in_carrying(client, {})
    assert_replaced(r, planted)
    me = await whoami(client)
    assert me["user_id"] == victim_id, me
    assert me["session_id"] != attacker_session


async def test_every_sign_in_gets_a_new_session_id(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """ASVS 7.2.4: each (re)authentication makes a new session id and refresh token."""
    assert (await sign_up(client, kit, mailbox, VICTIM)).status_code == 303
    seen_sessions = [(await whoami(client))["session_id"]]
    seen_refresh = [client.cookies[REFRESH_COOKIE]]
    seen_tokens = [client.cookies[SESSION_COOKIE]]
    for n in range(3):
        if n % 2 == 0:
            assert (await sign_out(client)).status_code == 303
        # Without signing out first, too: a second sign-in over a live session.
        r = await sign_in_carrying(client, {}) if n % 2 else await sign_in(client, VICTIM)
        assert r.status_code == 303, r.text
        seen_sessions.append((await whoami(client))["session_id"])
        seen_refresh.append(client.cookies[REFRESH_COOKIE])
        seen_tokens.append(client.cookies[SESSION_COOKIE])
    assert len(set(seen_sessions)) == len(seen_sessions), seen_sessions
    assert len(set(seen_refresh)) == len(seen_refresh)
    assert len(set(seen_tokens)) == len(seen_tokens)
    for refresh, session in zip(seen_refresh, seen_sessions, strict=True):
        assert refresh.startswith(f"{session}."), "the refresh token names its own session"


async def test_old_refresh_cookie_cannot_refresh_after_sign_out(
    client: httpx.AsyncClient, app: Starlette, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Logout ends the session (#39): the signed-out refresh cookie gets nobody back in."""
    assert (await sign_up(client, kit, mailbox, VICTIM)).status_code == 303
    session_id = (await whoami(client))["session_id"]
    old_refresh = client.cookies[REFRESH_COOKIE]
    r = await sign_out(client)
    assert r.status_code == 303, r.text
    assert set_cookie_values(r, SESSION_COOKIE) == [""]
    assert set_cookie_values(r, REFRESH_COOKIE) == [""]
    async with kit.services.db.session() as s:
        row = await s.get(SessionRow, session_id)
    assert row is not None and row.revoked_at is not None
    async with browser(app) as thief:
        # Only the refresh cookie: the middleware must ask the database, which says no.
        plant(thief, REFRESH_COOKIE, old_refresh)
        r = await thief.get("/")
        assert r.json()["is_signed_in"] is False, r.text
        assert set_cookie_values(r, REFRESH_COOKIE) == [""], "the dead cookie is deleted"
        plant(thief, REFRESH_COOKIE, old_refresh)
        r = await thief.get("/api/me", headers={"accept": "application/json"})
        assert r.status_code == 401, r.text
        plant(thief, REFRESH_COOKIE, old_refresh)
        r = await thief.get("/dashboard")
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith("/auth/sign-in")


@pytest.mark.parametrize("htmx", [False, True])
async def test_sign_out_tells_the_browser_to_drop_its_cached_pages(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, htmx: bool
) -> None:
    """#39: Clear-Site-Data "cache" on the sign-out response (plain post and htmx), so
    Back cannot replay the signed-in user's pages; other responses never send it."""
    r = await sign_up(client, kit, mailbox, VICTIM)
    assert "clear-site-data" not in r.headers
    assert "clear-site-data" not in (await client.get("/auth/user")).headers
    token = await form_token(client, "/auth/user")
    headers = {"hx-request": "true"} if htmx else {}
    r = await client.post("/auth/sign-out", data={"csrf_token": token}, headers=headers)
    assert r.status_code == (200 if htmx else 303), r.text
    assert r.headers["clear-site-data"] == '"cache"'


async def test_clear_site_data_on_sign_out_is_configurable(
    make_kit: KitFactory, mailbox: Mailbox
) -> None:
    """A host may widen it (its cookies and storage are its own call) or turn it off."""
    from authkit.config import Settings
    from authkit.errors import ConfigError

    for configured, expected in (('"cache", "storage"', '"cache", "storage"'), ("", None)):
        kit = make_kit(sign_out_clear_site_data=configured)
        transport = httpx.ASGITransport(app=make_host_app(kit))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            await sign_up(c, kit, mailbox, f"clear{len(configured)}@example.com")
            r = await sign_out(c)
        assert r.headers.get("clear-site-data") == expected
    with pytest.raises(ConfigError, match="AUTHKIT_SIGN_OUT_CLEAR_SITE_DATA"):
        Settings(secret_key="x" * 40, sign_out_clear_site_data="cache")


# -- cookie tossing: the same name twice --------------------------------------------------


@pytest.mark.parametrize("nameless", ["", "; tossed"], ids=["", "with-a-nameless-cookie"])
@pytest.mark.parametrize("order", ["planted-last", "planted-first"])
async def test_two_session_cookies_of_the_same_name_mean_signed_out(
    client: httpx.AsyncClient, app: Starlette, kit: AuthKit, order: str, nameless: str
) -> None:
    """
    Cookie tossing (#42, #24): `__session` sent twice is ambiguous → signed out, never
    picked. Also when the attacker adds a nameless cookie (`Set-Cookie: tossed`): it used
    to make the count of names match the count of "=" and hide the duplicate.
    """
    await make_user(kit, ATTACKER)
    victim_id = await make_user(kit, VICTIM)
    async with browser(app) as attacker:
        assert (await sign_in(attacker, ATTACKER)).status_code == 303
        planted = attacker.cookies[SESSION_COOKIE]
    assert (await sign_in(client, VICTIM)).status_code == 303
    own = client.cookies[SESSION_COOKIE]
    # A sibling subdomain can add a second `__session` for the parent domain; the browser
    # then sends both, in an order the attacker can influence.
    pair = [own, planted] if order == "planted-last" else [planted, own]
    header = "; ".join(f"{SESSION_COOKIE}={value}" for value in pair) + nameless
    for path, accept in (("/", "*/*"), ("/api/me", "application/json")):
        r = await client.get(path, headers={"cookie": header, "accept": accept})
        assert r.status_code in (200, 401), r.text
        if path == "/":
            assert r.json()["is_signed_in"] is False, (order, r.json(), victim_id)
        else:
            assert r.status_code == 401, (order, r.text)


async def test_csrf_cookie_is_rotated_at_sign_in(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """#24: a CSRF secret planted before sign-in is replaced, and old forms stop working."""
    await make_user(kit, VICTIM)
    planted_form_token = await form_token(client, "/auth/sign-in")
    planted = client.cookies["__ak_csrf"]
    r = await client.post(
        "/auth/sign-in",
        data={"csrf_token": planted_form_token, "email": VICTIM, "password": PASSWORD},
    )
    assert r.status_code == 303, r.text
    rotated = set_cookie_values(r, "__ak_csrf")
    assert rotated and rotated[-1] != planted
    # A form token minted for the planted secret no longer passes.
    r = await client.post("/auth/sign-out", data={"csrf_token": planted_form_token})
    assert r.status_code == 403, r.text
    assert (await whoami(client))["is_signed_in"] is True
