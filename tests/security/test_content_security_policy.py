"""
A strict, nonce-based Content-Security-Policy and Cross-Origin-Opener-Policy
(SECURITY.md #79, ASVS 3.4.3): every page's scripts carry a fresh 128-bit nonce and
nothing else may run, not even a script from our own origin; pages that need no
script allow none.
"""

from __future__ import annotations

import re

import httpx
import jinja2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from authkit import AuthKit

pytestmark = pytest.mark.anyio

NONCE = re.compile(r"script-src 'nonce-([\w-]{22})';")
PAGES = ("/auth/sign-in", "/auth/sign-up", "/auth/forgot-password")


def nonce_of(r: httpx.Response) -> str:
    found = NONCE.search(r.headers["content-security-policy"])
    assert found, r.headers["content-security-policy"]
    return found.group(1)


@pytest.mark.parametrize("path", PAGES)
async def test_every_script_on_a_page_carries_the_nonce_of_its_policy(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path)
    nonce = nonce_of(r)
    scripts = re.findall(r"<script\b[^>]*>", r.text)
    assert len(scripts) == 2, scripts
    assert all(f'nonce="{nonce}"' in tag for tag in scripts), scripts


async def test_each_response_gets_a_fresh_nonce(client: httpx.AsyncClient) -> None:
    nonces = {nonce_of(await client.get("/auth/sign-in")) for _ in range(5)}
    assert len(nonces) == 5


async def test_policy_leaves_no_way_around_the_nonce(client: httpx.AsyncClient) -> None:
    """No 'self', host list, 'unsafe-inline' or 'unsafe-eval' beside the nonce; plugins,
    <base> and framing are shut off."""
    csp = (await client.get("/auth/sign-in")).headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"].split() == [f"'nonce-{nonce_of_csp(csp)}'"]
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "unsafe" not in csp


def nonce_of_csp(csp: str) -> str:
    found = NONCE.search(csp)
    assert found
    return found.group(1)


async def test_pages_without_script_allow_none(client: httpx.AsyncClient) -> None:
    for r in (
        await client.get("/auth/no-such-page"),
        await client.get("/auth/sign-out"),
        await client.post("/auth/sign-in", json={}),
    ):
        assert r.status_code in (404, 405, 415), r.text
        assert "script-src 'none';" in r.headers["content-security-policy"]
        assert "<script" not in r.text


async def test_every_auth_response_isolates_its_window(client: httpx.AsyncClient) -> None:
    """COOP same-origin: a page that opened ours (or one ours opens) gets no handle on it."""
    for r in (
        await client.get("/auth/sign-in"),
        await client.get("/auth/sign-in", headers={"hx-request": "true"}),
        await client.get("/auth/no-such-page"),
    ):
        assert r.headers["cross-origin-opener-policy"] == "same-origin"


async def test_a_host_page_passes_its_own_nonce_to_head(kit: AuthKit) -> None:
    """A host with its own nonce CSP hands the nonce to `authkit.head(nonce=...)`."""
    env = jinja2.Environment(autoescape=True)
    kit.jinja(env)
    template = env.from_string("<head>{{ authkit.head(nonce='host-nonce-123') }}</head>")

    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(template.render(request=request))

    host = Starlette(routes=[Route("/", home), Mount("/auth", kit)])
    kit.install(host)
    transport = httpx.ASGITransport(app=host)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        html = (await c.get("/")).text
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert len(scripts) == 2
    assert all('nonce="host-nonce-123"' in tag for tag in scripts), scripts
