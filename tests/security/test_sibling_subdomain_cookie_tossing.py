"""
Cookie tossing from a sibling subdomain (SECURITY.md #43 and #24, ASVS 3.3.1): a page on
`evil.example.test` (or a man in the middle on any plain-http page of the domain) can set
`__session=...; Domain=example.test` and the browser sends it to `app.example.test` as if
it were ours. So on https every authkit cookie is a `__Host-` cookie (`__Host-session`,
`__Host-refresh`, `__Host-ak_csrf`, `__Host-ak_sign_in`, ...): a browser keeps one only
when it is Secure, on `Path=/` and without a Domain, set by an https page of this very
host, so no sibling can plant, replace or shadow it; and the plain names a sibling can
plant are not read at all. On plain http (development) a browser refuses Secure cookies,
so the names stay `__session`, `__refresh`, `__ak_csrf` ...
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

import authkit.web
from authkit import AuthKit
from authkit.context import CONTEXT_KEY
from authkit.flows.admin import create_user
from authkit.web.attempt_cookie import AttemptCookie, SealedCookie
from authkit.web.attempt_pages import AttemptPages

from ..conftest import KitFactory, Mailbox
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, csrf_of, form_token, sign_in, sign_out, start_sign_up
from ..web.pipeline_helpers import choose_method

pytestmark = pytest.mark.anyio

SITE = "https://app.example.test"
#: Where a sibling subdomain scopes the cookies it tosses: every host of the domain.
PARENT = ".example.test"
VICTIM = "victim@example.com"
ATTACKER = "attacker@example.com"


@asynccontextmanager
async def browser(kit: AuthKit, base_url: str = SITE) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_host_app(kit))
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as c:
        yield c


def cookie_parts(header: str) -> tuple[str, dict[str, str]]:
    """The name and the attributes (lower-case keys) of a Set-Cookie header."""
    first, *rest = header.split(";")
    attributes = {}
    for part in rest:
        key, _, value = part.strip().partition("=")
        attributes[key.lower()] = value
    return first.split("=", 1)[0], attributes


def assert_host_cookie(header: str) -> None:
    name, attributes = cookie_parts(header)
    assert name.startswith("__Host-"), header
    assert "secure" in attributes, header
    assert attributes.get("path") == "/", header
    assert "domain" not in attributes, header


def jar(client: httpx.AsyncClient) -> dict[str, str]:
    return {cookie.name: cookie.value for cookie in client.cookies.jar}


async def signed_in_as(client: httpx.AsyncClient) -> str | None:
    r = await client.get("/")
    assert r.status_code == 200, r.text
    user_id: str | None = r.json()["user_id"]
    return user_id


async def test_every_cookie_on_https_is_a_host_cookie(
    make_kit: KitFactory, mailbox: Mailbox
) -> None:
    """Sign-up, sign-in (by password and by emailed code), forgot-password and sign-out
    on an https site: every cookie set or deleted is `__Host-`, Secure, `Path=/`, with no
    Domain; and the session cookies are called `__Host-session` and `__Host-refresh`."""
    kit = make_kit(base_url=SITE)
    seen: list[str] = []

    async def collect(response: httpx.Response) -> None:
        seen.extend(response.headers.get_list("set-cookie"))

    try:
        await kit.ensure_started()
        await create_user(kit.services, email=VICTIM, password=PASSWORD)
        async with browser(kit) as c:
            c.event_hooks["response"] = [collect]
            await start_sign_up(c, "new@example.com")
            assert (await sign_in(c, VICTIM)).status_code == 303
            assert await signed_in_as(c) is not None, "the __Host- cookies came back"
            assert (await sign_out(c)).status_code == 303
            assert (await choose_method(c, VICTIM, "email_code")).status_code == 303
            token = await form_token(c, "/auth/forgot-password")
            r = await c.post("/auth/forgot-password", data={"csrf_token": token, "email": VICTIM})
            assert r.status_code == 303, r.text
    finally:
        await kit.aclose()
    names = {cookie_parts(header)[0] for header in seen}
    expected = {"__Host-session", "__Host-refresh", "__Host-ak_csrf", "__Host-ak_sign_up"}
    assert expected | {"__Host-ak_sign_in", "__Host-ak_reset"} <= names, seen
    for header in seen:
        assert_host_cookie(header)
    assert kit.cookie_names.session == "__Host-session"
    assert kit.cookie_names.refresh == "__Host-refresh"


def _flow_cookies() -> list[AttemptCookie | SealedCookie]:
    """Every attempt and sealed cookie the sub-app's modules define."""
    found: list[AttemptCookie | SealedCookie] = []
    for module in pkgutil.iter_modules(authkit.web.__path__, "authkit.web."):
        for value in vars(importlib.import_module(module.name)).values():
            if isinstance(value, AttemptPages):
                value = value.cookie
            if isinstance(value, AttemptCookie | SealedCookie) and value not in found:
                found.append(value)
    return found


@pytest.mark.parametrize("cookie", _flow_cookies(), ids=lambda cookie: cookie.name)
async def test_every_flow_cookie_is_a_host_cookie_on_https(
    make_kit: KitFactory, cookie: AttemptCookie | SealedCookie
) -> None:
    """The attempt cookies (sign-up, sign-in, reverification, reset, mailed links) and the
    sealed authenticator-app setup: `__Host-` on https, so they leave the sub-app's
    path for `Path=/`; read back under that name only, never under the plain one."""
    kit = make_kit(base_url=SITE)
    scope = {"type": "http", "headers": [], CONTEXT_KEY: kit.context}
    response = Response()
    cookie.set(response, Request(scope), "attempt_1")
    cookie.clear(response, Request(scope))
    headers = [value.decode() for key, value in response.raw_headers if key == b"set-cookie"]
    assert len(headers) == 2, headers
    for header in headers:
        assert_host_cookie(header)
    name, _ = cookie_parts(headers[0])
    value = headers[0].split(";", 1)[0].split("=", 1)[1]
    assert name == kit.cookie_names.of(cookie.name)
    read = cookie.read(Request({**scope, "headers": [(b"cookie", f"{name}={value}".encode())]}))
    planted = Request({**scope, "headers": [(b"cookie", f"{cookie.name}={value}".encode())]})
    assert read == ("attempt_1" if isinstance(cookie, AttemptCookie) else value)
    assert cookie.read(planted) in (None, "")


async def test_a_session_tossed_in_from_a_sibling_subdomain_is_ignored(
    make_kit: KitFactory,
) -> None:
    """The attacker signs in, and plants their own session and refresh cookies under the
    plain names, scoped to the whole domain, in the victim's browser. Signed out, the
    victim stays anonymous (no login CSRF into the attacker's account); signed in, the
    victim stays themselves (no signing out by a planted duplicate either)."""
    kit = make_kit(base_url=SITE)
    try:
        await kit.ensure_started()
        victim_id = await create_user(kit.services, email=VICTIM, password=PASSWORD)
        await create_user(kit.services, email=ATTACKER, password=PASSWORD)
        async with browser(kit) as attacker, browser(kit) as victim:
            assert (await sign_in(attacker, ATTACKER)).status_code == 303
            mine = jar(attacker)
            session = mine.get("__Host-session") or mine["__session"]
            refresh = mine.get("__Host-refresh") or mine["__refresh"]
            for name, value in (("__session", session), ("__refresh", refresh)):
                victim.cookies.set(name, value, domain=PARENT, path="/")
            assert await signed_in_as(victim) is None, "signed in as the attacker"

            assert (await sign_in(victim, VICTIM)).status_code == 303
            assert await signed_in_as(victim) == victim_id
            assert {"__session", "__refresh"} <= set(jar(victim)), "still planted"
            # And the same names planted host-only (from a plain-http page of this host).
            victim.cookies.set("__session", session, domain="app.example.test", path="/auth")
            assert await signed_in_as(victim) == victim_id
            r = await victim.get("/auth/user")
            assert r.status_code == 200, r.text
    finally:
        await kit.aclose()


async def test_a_csrf_cookie_tossed_in_from_a_sibling_subdomain_is_ignored(
    make_kit: KitFactory,
) -> None:
    """A double-submit CSRF cookie the attacker knows (planted with the token they got
    for it on their own visit) is not this browser's secret: the page makes a new one."""
    kit = make_kit(base_url=SITE)
    try:
        async with browser(kit) as attacker, browser(kit) as victim:
            page = await attacker.get("/auth/sign-in")
            known = jar(attacker).get("__Host-ak_csrf") or jar(attacker)["__ak_csrf"]
            victim.cookies.set("__ak_csrf", known, domain=PARENT, path="/")
            r = await victim.get("/auth/sign-in")
            assert r.status_code == 200, r.text
            assert csrf_of(r.text) != csrf_of(page.text)
            set_here = {cookie_parts(h)[0]: h for h in r.headers.get_list("set-cookie")}
            assert "__Host-ak_csrf" in set_here, r.headers
            assert f"={known};" not in set_here["__Host-ak_csrf"]
    finally:
        await kit.aclose()


async def test_plain_http_keeps_the_plain_names(make_kit: KitFactory) -> None:
    """Development over http: a browser drops Secure (so `__Host-`) cookies there, and
    the names stay `__session`, `__refresh`, `__ak_csrf`, path-scoped flow cookies."""
    kit = make_kit(base_url="http://testserver")
    try:
        await kit.ensure_started()
        await create_user(kit.services, email=VICTIM, password=PASSWORD)
        async with browser(kit, "http://testserver") as c:
            r = await sign_in(c, VICTIM)
            assert r.status_code == 303, r.text
            names = {cookie_parts(h)[0] for h in r.headers.get_list("set-cookie")}
            assert names == {"__session", "__refresh", "__ak_csrf", "__ak_sign_in"}, names
            attempt = next(h for h in r.headers.get_list("set-cookie") if "__ak_sign_in" in h)
            assert cookie_parts(attempt)[1]["path"] == "/auth"
            assert all("Secure" not in h for h in r.headers.get_list("set-cookie"))
            assert await signed_in_as(c) is not None
    finally:
        await kit.aclose()
    assert kit.cookie_names.session == "__session"
