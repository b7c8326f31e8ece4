"""CSRF on every state-changing endpoint, the bounds on what a form post may be, the
security headers of auth pages and the flags of authkit's cookies."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import col, select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.flows.admin import create_user
from authkit.store.models import SessionRow, UserRow, VerificationCodeRow

from ..conftest import FakeClock, KitFactory, Mailbox
from ..hostapp import make_host_app
from .flow_helpers import PASSWORD, csrf_of, form_token, sign_in

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"
NEW_EMAIL = "new.person@example.com"
EVIL_ORIGIN = "https://evil.example"
CSRF_FAILED = "Your form expired. Please try again."


def field_error(page: str, name: str) -> str | None:
    """The message shown beside the input `name`, if any."""
    match = re.search(
        rf'<p class="ak-field__error" id="ak-[a-z0-9-]+-{name}-error">(.*?)</p>', page, re.S
    )
    return html.unescape(match.group(1)) if match else None


@asynccontextmanager
async def browser(
    app: Starlette, base_url: str = "http://testserver", **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser (its own cookie jar) on the same app."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=base_url, **options) as c:
        yield c


async def make_user(kit: AuthKit, email: str = EMAIL) -> str:
    await kit.ensure_started()
    return await create_user(kit.services, email=email, password=PASSWORD, first_name="Ada")


async def count(kit: AuthKit, table: Any, *where: Any) -> int:
    async with kit.services.db.session() as s:
        query = select(func.count()).select_from(table)
        if where:
            query = query.where(*where)
        return int((await s.exec(query)).one())


async def start_sign_up(client: httpx.AsyncClient, email: str) -> None:
    token = await form_token(client, "/auth/sign-up")
    r = await client.post(
        "/auth/sign-up", data={"csrf_token": token, "email": email, "password": PASSWORD}
    )
    assert r.status_code == 303, r.text


# -- one scenario per state-changing endpoint ----------------------------------------------


@dataclass
class Scenario:
    path: str
    #: The form without its csrf_token.
    data: dict[str, str]
    #: A page of the same browser that carries a token.
    token_page: str
    #: The status of an accepted post.
    accepted: int
    #: Whether the post took effect.
    changed: Callable[[], Awaitable[bool]]


@dataclass
class Env:
    client: httpx.AsyncClient
    kit: AuthKit
    mailbox: Mailbox
    clock: FakeClock


async def _sign_in(env: Env) -> Scenario:
    await make_user(env.kit)

    async def changed() -> bool:
        return await count(env.kit, SessionRow) > 0

    data = {"email": EMAIL, "password": PASSWORD}
    return Scenario("/auth/sign-in", data, "/auth/sign-in", 303, changed)


async def _sign_up(env: Env) -> Scenario:
    async def changed() -> bool:
        await env.kit.services.mailer.drain()
        return await count(env.kit, VerificationCodeRow) > 0 or bool(env.mailbox.messages)

    data = {"email": NEW_EMAIL, "password": PASSWORD}
    return Scenario("/auth/sign-up", data, "/auth/sign-up", 303, changed)


async def _verify(env: Env) -> Scenario:
    await start_sign_up(env.client, NEW_EMAIL)
    await env.kit.services.mailer.drain()
    code = env.mailbox.last_code(NEW_EMAIL)

    async def changed() -> bool:
        return await count(env.kit, UserRow) > 0

    return Scenario("/auth/sign-up/verify", {"code": code}, "/auth/sign-up/verify", 303, changed)


async def _resend(env: Env) -> Scenario:
    await start_sign_up(env.client, NEW_EMAIL)
    env.clock.advance(31)

    async def changed() -> bool:
        await env.kit.services.mailer.drain()
        return len(env.mailbox.to(NEW_EMAIL)) > 1

    # A browser posts a field-less form as an empty urlencoded body; httpx needs a field.
    data = {"redirect_url": "/"}
    return Scenario("/auth/sign-up/resend", data, "/auth/sign-up/verify", 200, changed)


async def _sign_out(env: Env) -> Scenario:
    await make_user(env.kit)
    assert (await sign_in(env.client, EMAIL)).status_code == 303

    async def changed() -> bool:
        return await count(env.kit, SessionRow, col(SessionRow.revoked_at).is_not(None)) > 0

    return Scenario("/auth/sign-out", {"redirect_url": "/"}, "/auth/user", 303, changed)


async def _user(env: Env) -> Scenario:
    await make_user(env.kit)
    assert (await sign_in(env.client, EMAIL)).status_code == 303

    async def changed() -> bool:
        return await count(env.kit, UserRow, col(UserRow.first_name) == "Changed") > 0

    data = {"first_name": "Changed", "last_name": "Lovelace"}
    return Scenario("/auth/user", data, "/auth/user", 200, changed)


SCENARIOS: dict[str, Callable[[Env], Awaitable[Scenario]]] = {
    "sign-in": _sign_in,
    "sign-up": _sign_up,
    "sign-up/verify": _verify,
    "sign-up/resend": _resend,
    "sign-out": _sign_out,
    "user": _user,
}


@pytest.mark.parametrize("mode", ["missing", "other_browser", "cross_site", "evil_origin"])
@pytest.mark.parametrize("endpoint", SCENARIOS)
async def test_post_without_a_valid_csrf_proof_is_refused(
    client: httpx.AsyncClient,
    app: Starlette,
    kit: AuthKit,
    mailbox: Mailbox,
    clock: FakeClock,
    endpoint: str,
    mode: str,
) -> None:
    """No token, another browser's token, or a cross-site request: 403, nothing changes."""
    sc = await SCENARIOS[endpoint](Env(client, kit, mailbox, clock))
    token = await form_token(client, sc.token_page)
    headers: dict[str, str] = {}
    data = {**sc.data, "csrf_token": token}
    if mode == "missing":
        del data["csrf_token"]
    elif mode == "other_browser":
        async with browser(app) as other:
            data["csrf_token"] = await form_token(other, "/auth/sign-in")
        assert data["csrf_token"] != token
    elif mode == "cross_site":
        headers["sec-fetch-site"] = "cross-site"
    else:
        headers["origin"] = EVIL_ORIGIN
    r = await client.post(sc.path, data=data, headers=headers)
    assert r.status_code == 403, r.text
    assert CSRF_FAILED in r.text
    assert not any(c.startswith("__session=") for c in r.headers.get_list("set-cookie")), r.headers
    assert not await sc.changed(), f"{endpoint} changed state on a refused post"


@pytest.mark.parametrize("endpoint", SCENARIOS)
async def test_post_with_own_token_and_own_origin_is_accepted(
    client: httpx.AsyncClient,
    kit: AuthKit,
    mailbox: Mailbox,
    clock: FakeClock,
    endpoint: str,
) -> None:
    """This browser's token with `Origin: http://testserver` goes through."""
    sc = await SCENARIOS[endpoint](Env(client, kit, mailbox, clock))
    token = await form_token(client, sc.token_page)
    r = await client.post(
        sc.path,
        data={**sc.data, "csrf_token": token},
        headers={"origin": "http://testserver", "sec-fetch-site": "same-origin"},
    )
    assert r.status_code == sc.accepted, r.text
    assert await sc.changed(), f"{endpoint} did not take effect"


@pytest.mark.parametrize("path", ["/auth/sign-up/verify", "/auth/sign-up/resend"])
async def test_code_endpoints_answer_403_to_a_missing_token_without_an_attempt(
    client: httpx.AsyncClient, path: str
) -> None:
    """A forged post to the code step is a CSRF failure (403) even with no attempt open."""
    await client.get("/auth/sign-in")  # this browser has a CSRF cookie, not a token
    r = await client.post(path, data={"code": "123456"})
    assert r.status_code == 403, r.text


# -- GET never changes state ----------------------------------------------------------------


async def test_get_sign_out_is_not_allowed(client: httpx.AsyncClient, kit: AuthKit) -> None:
    """Sign-out is POST only: a GET (a link, an <img>) gets 405 and the session stays."""
    await make_user(kit)
    assert (await sign_in(client, EMAIL)).status_code == 303
    r = await client.get("/auth/sign-out")
    assert r.status_code == 405, r.text
    assert (await client.get("/")).json()["is_signed_in"] is True
    assert await count(kit, SessionRow, col(SessionRow.revoked_at).is_not(None)) == 0


async def test_get_resend_is_not_allowed(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """Asking for a new code is POST only: a GET sends no mail."""
    await start_sign_up(client, NEW_EMAIL)
    clock.advance(31)
    r = await client.get("/auth/sign-up/resend")
    assert r.status_code == 405, r.text
    await kit.services.mailer.drain()
    assert len(mailbox.to(NEW_EMAIL)) == 1


# -- what a form post may be -----------------------------------------------------------------

FORM_ENDPOINTS = [
    "/auth/sign-in",
    "/auth/sign-up",
    "/auth/sign-up/verify",
    "/auth/sign-up/resend",
    "/auth/sign-out",
]


@pytest.mark.parametrize("path", FORM_ENDPOINTS)
async def test_body_over_64_kb_is_refused_with_413(client: httpx.AsyncClient, path: str) -> None:
    """A body past 64 KB is refused before parsing, declared or streamed."""
    token = await form_token(client, "/auth/sign-in")
    body = f"csrf_token={token}&email={'a' * 70_000}".encode()
    form = {"content-type": "application/x-www-form-urlencoded"}
    r = await client.post(path, content=body, headers=form)
    assert r.status_code == 413, r.text

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    r = await client.post(path, content=chunks(), headers=form)
    assert r.status_code == 413, r.text


@pytest.mark.parametrize("path", FORM_ENDPOINTS)
async def test_json_body_to_a_form_endpoint_is_refused_with_415(
    client: httpx.AsyncClient, path: str
) -> None:
    """Form endpoints read forms only."""
    token = await form_token(client, "/auth/sign-in")
    r = await client.post(
        path, json={"csrf_token": token, "email": EMAIL, "password": PASSWORD, "code": "1"}
    )
    assert r.status_code == 415, r.text


@pytest.mark.parametrize("path", ["/auth/sign-in", "/auth/sign-up"])
@pytest.mark.parametrize(
    "raw",
    [
        b"email=\xff\xfe%40example.com&password=\xc3(",
        b"email=%FF%FE&password=%C3%28&first_name=%80",
    ],
)
async def test_non_utf8_form_is_answered_not_crashed(
    client: httpx.AsyncClient, path: str, raw: bytes
) -> None:
    """Bytes that are not UTF-8 get a 4xx page (a re-rendered form), never a 500."""
    token = await form_token(client, "/auth/sign-in")
    r = await client.post(
        path,
        content=raw + b"&csrf_token=" + token.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert 400 <= r.status_code < 500, r.text


async def test_very_long_first_name_is_refused_on_sign_up(client: httpx.AsyncClient) -> None:
    """A 5000-character first name gets 422 and the too-long message beside it."""
    token = await form_token(client, "/auth/sign-up")
    r = await client.post(
        "/auth/sign-up",
        data={"csrf_token": token, "email": EMAIL, "password": PASSWORD, "first_name": "A" * 5000},
    )
    assert r.status_code == 422, r.text
    assert field_error(r.text, "first_name") == "This is too long: at most 100 characters."


async def test_very_long_first_name_is_refused_on_the_profile(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """The profile form has the same bound, and nothing is saved."""
    await make_user(kit)
    assert (await sign_in(client, EMAIL)).status_code == 303
    token = await form_token(client, "/auth/user")
    r = await client.post("/auth/user", data={"csrf_token": token, "first_name": "A" * 5000})
    assert r.status_code == 422, r.text
    assert field_error(r.text, "first_name") == "This is too long: at most 100 characters."
    assert await count(kit, UserRow, col(UserRow.first_name) == "Ada") == 1


# -- security headers -------------------------------------------------------------------------


def assert_security_headers(name: str, r: httpx.Response) -> None:
    csp = r.headers.get("content-security-policy", "")
    # Only nonced scripts (or none at all): never 'self', 'unsafe-inline' or a host list.
    assert re.search(r"script-src ('nonce-[\w-]{22}'|'none');", csp), (name, csp)
    for directive in ("frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
        assert directive in csp, (name, r.status_code, csp)
    assert r.headers.get("cross-origin-opener-policy") == "same-origin", (name, dict(r.headers))
    assert r.headers.get("x-content-type-options") == "nosniff", (name, dict(r.headers))
    assert "no-store" in r.headers.get("cache-control", ""), (name, dict(r.headers))
    assert r.headers.get("referrer-policy"), (name, dict(r.headers))


async def test_every_auth_page_carries_the_security_headers(
    client: httpx.AsyncClient, app: Starlette, kit: AuthKit
) -> None:
    """Forms, error pages and the profile all send CSP, nosniff, no-store and Referrer-Policy."""
    pages: list[tuple[str, httpx.Response]] = []
    pages.append(("sign-in", await client.get("/auth/sign-in")))
    pages.append(("sign-up", await client.get("/auth/sign-up")))
    pages.append(
        ("htmx sign-in", await client.get("/auth/sign-in", headers={"hx-request": "true"}))
    )
    pages.append(("csrf 403", await client.post("/auth/sign-in", data={"email": EMAIL})))
    pages.append(("404", await client.get("/auth/no-such-page")))
    pages.append(("405", await client.get("/auth/sign-out")))
    pages.append(("415", await client.post("/auth/sign-in", json={})))
    pages.append(("410", await client.post("/auth/sign-up/verify", data={})))
    token = await form_token(client, "/auth/sign-in")
    wrong = {"csrf_token": token, "email": EMAIL, "password": "wrong password here"}
    pages.append(("422", await client.post("/auth/sign-in", data=wrong)))
    async with browser(app) as other:
        await start_sign_up(other, NEW_EMAIL)
        pages.append(("verify", await other.get("/auth/sign-up/verify")))
    await make_user(kit)
    assert (await sign_in(client, EMAIL)).status_code == 303
    pages.append(("user", await client.get("/auth/user")))
    for path in (
        "/auth/user/security",
        "/auth/user/security/totp",
        "/auth/user/security/recovery-codes",
        "/auth/user/security/passkeys/add",
        "/auth/reverify",
    ):
        pages.append((path, await client.get(path)))
    async with browser(app) as other:
        page = await other.get("/auth/sign-in/methods")
        pages.append(("methods", page))
        chosen = await other.post(
            "/auth/sign-in",
            data={"csrf_token": csrf_of(page.text), "email": EMAIL, "method": "email_link"},
        )
        pages.append(("magic link sent", await other.get(chosen.headers["location"])))
        pages.append(("magic link landing", await other.get("/auth/sign-in/link")))
        pages.append(("old magic link", await other.get("/auth/sign-in/link?token=x")))
        pages.append(("reset link landing", await other.get("/auth/reset-password?link=1")))
    for name, r in pages:
        assert r.status_code != 500, (name, r.text)
        assert_security_headers(name, r)


# -- cookie flags ---------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_cookies_are_httponly_lax_and_secure_on_https(
    make_kit: KitFactory, mailbox: Mailbox, scheme: str
) -> None:
    """Every authkit cookie is HttpOnly and SameSite=Lax; Secure exactly when on https."""
    base = f"{scheme}://testserver"
    kit = make_kit(base_url=base)
    seen: list[str] = []

    async def collect(response: httpx.Response) -> None:
        seen.extend(response.headers.get_list("set-cookie"))

    try:
        async with browser(make_host_app(kit), base, event_hooks={"response": [collect]}) as c:
            await start_sign_up(c, NEW_EMAIL)
            page = await c.get("/auth/sign-up/verify")
            await kit.services.mailer.drain()
            code = mailbox.last_code(NEW_EMAIL)
            r = await c.post(
                "/auth/sign-up/verify", data={"csrf_token": csrf_of(page.text), "code": code}
            )
            assert r.status_code == 303, r.text
            assert (await c.get("/")).json()["is_signed_in"] is True, "cookies sent back"
    finally:
        await kit.aclose()
    names = {cookie.split("=", 1)[0] for cookie in seen}
    # `__Host-session`... on https (cookies.CookieNames), `__session`... on plain http.
    site = kit.cookie_names
    expected = {site.session, site.refresh, site.csrf, site.of("__ak_sign_up")}
    assert expected <= names, seen
    for cookie in seen:
        flags = [part.strip() for part in cookie.split(";")[1:]]
        assert "HttpOnly" in flags, cookie
        assert "SameSite=Lax" in flags, cookie
        assert ("Secure" in flags) is (scheme == "https"), cookie
