"""
Response headers and cookie sizes not already covered by tests/web/test_csrf_and_forms.py
(which checks CSP, nosniff, no-store, Referrer-Policy and cookie flags): HSTS only over
https (SECURITY.md #79, ASVS 3.4.1), no framing (#83, ASVS 3.4.6), no CORS reflection
(#82, ASVS 3.4.2) and every cookie under 4096 bytes (#43, ASVS 3.3.5).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from authkit import AuthKit

from ..conftest import KitFactory, Mailbox
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, csrf_of, form_token

pytestmark = pytest.mark.anyio

EVIL_ORIGIN = "https://evil.example"
HSTS_MIN_SECONDS = 365 * 24 * 3600
JWKS = "/auth/.well-known/jwks.json"
PAGES = ["/auth/sign-in", "/auth/sign-up", "/auth/forgot-password"]


@asynccontextmanager
async def site(kit: AuthKit, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_host_app(kit))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as c:
            yield c
    finally:
        await kit.aclose()


def hsts_max_age(r: httpx.Response) -> int | None:
    value = r.headers.get("strict-transport-security")
    if value is None:
        return None
    for part in value.split(";"):
        name, _, number = part.strip().partition("=")
        if name.lower() == "max-age":
            return int(number)
    raise AssertionError(f"HSTS without max-age: {value!r}")


# -- HSTS -------------------------------------------------------------------------------------


async def test_hsts_is_sent_on_auth_pages_over_https(make_kit: KitFactory) -> None:
    """HSTS (#79, ASVS 3.4.1): with an https base URL, auth pages carry HSTS for ≥ 1 year."""
    async with site(make_kit(base_url="https://testserver"), "https://testserver") as c:
        for path in PAGES:
            for headers in ({}, {"hx-request": "true"}):
                r = await c.get(path, headers=headers)
                assert r.status_code == 200, (path, r.text)
                max_age = hsts_max_age(r)
                assert max_age is not None and max_age >= HSTS_MIN_SECONDS, (path, r.headers)


async def test_hsts_is_never_sent_over_plain_http(make_kit: KitFactory) -> None:
    """HSTS (#79): an http base URL (development) never pins the host to https."""
    async with site(make_kit(base_url="http://testserver"), "http://testserver") as c:
        responses = [await c.get(path) for path in PAGES]
        responses.append(await c.get("/auth/no-such-page"))
        responses.append(await c.get(JWKS))
        responses.append(await c.post("/auth/sign-in", data={"email": "a@example.com"}))
    for r in responses:
        assert "strict-transport-security" not in r.headers, (r.url, r.headers)


async def test_hsts_is_sent_on_every_auth_response_over_https(make_kit: KitFactory) -> None:
    """HSTS (ASVS 3.4.1 "all responses"): error pages, redirects and the JWKS carry it too."""
    async with site(make_kit(base_url="https://testserver"), "https://testserver") as c:
        token = await form_token(c, "/auth/sign-in")
        responses = {
            "404": await c.get("/auth/no-such-page"),
            "405": await c.get("/auth/sign-out"),
            "403": await c.post("/auth/sign-in", data={"email": "a@example.com"}),
            "415": await c.post("/auth/sign-in", json={}),
            "redirect": await c.get("/auth/sign-up/verify"),
            "422": await c.post(
                "/auth/sign-in",
                data={"csrf_token": token, "email": "a@example.com", "password": "wrong guess"},
            ),
            "jwks": await c.get(JWKS),
        }
    missing = {name: r.status_code for name, r in responses.items() if hsts_max_age(r) is None}
    assert missing == {}, f"no Strict-Transport-Security on: {missing}"


# -- framing ---------------------------------------------------------------------------------


async def test_auth_pages_cannot_be_framed(
    client: httpx.AsyncClient, kit: AuthKit, make_kit: KitFactory
) -> None:
    """Clickjacking (#83, ASVS 3.4.6): frame-ancestors 'none' and X-Frame-Options DENY."""
    responses = []
    for path in PAGES:
        responses.append(await client.get(path))
        responses.append(await client.get(path, headers={"hx-request": "true"}))
    responses.append(await client.get("/auth/no-such-page"))
    responses.append(await client.post("/auth/sign-in", data={"email": "x"}))
    responses.append(await client.get("/auth/reset-password?token=not-a-real-token"))
    # Where mailed links land (their tokens in the fragment): framing them would let a
    # page of another site watch or drive the hand-over.
    responses.append(await client.get("/auth/reset-password?link=1"))
    responses.append(await client.get("/auth/sign-in/link"))
    down = make_kit(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none", auto_migrate=False
    )
    async with site(down, "http://testserver") as c:
        unavailable = await c.get("/auth/sign-in")
    assert unavailable.status_code == 503, unavailable.text
    responses.append(unavailable)
    for r in responses:
        csp = r.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp, (r.url, r.status_code, csp)
        assert r.headers.get("x-frame-options") == "DENY", (r.url, r.status_code, r.headers)


# -- CORS ------------------------------------------------------------------------------------


def assert_no_cors_for(r: httpx.Response, origin: str) -> None:
    allowed = r.headers.get("access-control-allow-origin")
    assert allowed in (None, "*"), (r.url, allowed)
    assert allowed != origin
    # "*" with credentials would be refused by browsers anyway; never combine them.
    assert r.headers.get("access-control-allow-credentials") is None, (r.url, r.headers)


@pytest.mark.parametrize("origin", [EVIL_ORIGIN, "null", "http://testserver.evil.example"])
async def test_no_cors_origin_is_reflected(client: httpx.AsyncClient, origin: str) -> None:
    """CORS (#82, ASVS 3.4.2): a foreign Origin is never echoed in Access-Control-Allow-Origin."""
    headers = {"origin": origin}
    for path in [
        *PAGES,
        "/",
        "/api/me",
        "/auth/user",
        JWKS,
        "/auth/.well-known/openid-configuration",
    ]:
        assert_no_cors_for(await client.get(path, headers=headers), origin)
    # A preflight for a credentialed POST gets no permission either.
    for path in ("/auth/sign-in", "/auth/sign-out", JWKS):
        r = await client.options(
            path,
            headers={
                **headers,
                "access-control-request-method": "POST",
                "access-control-request-headers": "x-csrf-token, content-type",
            },
        )
        assert r.status_code != 500, r.text
        assert_no_cors_for(r, origin)
        assert "access-control-allow-methods" not in r.headers, r.headers
    # And a cross-site POST with that Origin changes nothing (CSRF, #25).
    token = await form_token(client, "/auth/sign-in")
    r = await client.post(
        "/auth/sign-in",
        data={"csrf_token": token, "email": "a@example.com", "password": PASSWORD},
        headers=headers,
    )
    assert r.status_code == 403, r.text
    assert_no_cors_for(r, origin)


# -- cookie sizes -----------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_every_cookie_stays_under_4096_bytes(
    make_kit: KitFactory, mailbox: Mailbox, scheme: str
) -> None:
    """Cookie size (#43, ASVS 3.3.5): the largest possible sign-up still gives cookies < 4096 B."""
    base = f"{scheme}://testserver"
    kit = make_kit(base_url=base)
    seen: list[str] = []

    async def collect(response: httpx.Response) -> None:
        seen.extend(response.headers.get_list("set-cookie"))

    # The longest inputs the forms allow: a 254-character address and 100-character names.
    email = "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".example"
    email = email[: 254 - len(".com")] + ".com"
    transport = httpx.ASGITransport(app=make_host_app(kit))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url=base, event_hooks={"response": [collect]}
        ) as c:
            token = await form_token(c, "/auth/sign-up")
            r = await c.post(
                "/auth/sign-up",
                data={
                    "csrf_token": token,
                    "email": email,
                    "password": PASSWORD,
                    "first_name": "N" * 100,
                    "last_name": "Ñ" * 100,
                    "redirect_url": "/" + "x" * 1500,
                },
            )
            assert r.status_code == 303, r.text
            page = await c.get(r.headers["location"])
            await kit.services.mailer.drain()
            code = mailbox.last_code(email)
            r = await c.post(
                "/auth/sign-up/verify", data={"csrf_token": csrf_of(page.text), "code": code}
            )
            assert r.status_code == 303, r.text
            assert (await c.get("/")).json()["is_signed_in"] is True
    finally:
        await kit.aclose()
    names = {cookie.split("=", 1)[0] for cookie in seen}
    # `__Host-session`... on https (cookies.CookieNames), `__session`... on plain http.
    site = kit.cookie_names
    expected = {site.session, site.refresh, site.csrf, site.of("__ak_sign_up")}
    assert expected <= names, names
    for cookie in seen:
        assert len(cookie.encode()) < 4096, (len(cookie.encode()), cookie[:100])


@pytest.mark.anyio
async def test_htmx_may_only_fetch_from_this_origin(client: httpx.AsyncClient) -> None:
    """#80: htmx is configured for same-origin requests only, and no eval is allowed by CSP."""
    r = await client.get("/auth/sign-in")
    config = '{"includeIndicatorCSS": false, "mode": "same-origin"}'
    assert f"<meta name=\"htmx-config\" content='{config}'>" in r.text
    csp = r.headers["content-security-policy"]
    assert "unsafe-eval" not in csp and "unsafe-inline" not in csp
