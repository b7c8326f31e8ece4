"""
Mailed link tokens never reach a URL a server logs (issue 11; SECURITY.md #34, ASVS 14.2.1
and 16.2.5). uvicorn's access log, a reverse proxy's and most APM agents write the request
line of every request, path and query string: a reset or sign-in link with its token in
the query left a working credential there for as long as the link lived.

Every request the app receives is recorded here as an access log would write it (the
ASGI scope's path, raw path and query string) through a whole reset by the mailed link
and a whole sign-in by magic link, opened the way a browser opens them (a browser never
sends the fragment): with JavaScript on, the landing page's script posts the token; with
it off, the visitor pastes the link into the landing page. No recorded line may hold the
token or any 16-character piece of it. tests/browser/test_mailed_links_in_browser.py
checks the same with Chromium in front of a live server.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.types import ASGIApp

from authkit import AuthKit
from authkit.flows.admin import create_user

from ..conftest import Mailbox
from ..hostapp import make_host_app
from ..request_lines import RequestLines
from ..web.flow_helpers import PASSWORD, form_token, form_with, open_link, sign_in
from ..web.pipeline_helpers import EMAIL, choose_method, follow, mailed

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "a brand new passphrase"
#: The mailed link, however it carries its token (query string or fragment).
MAILED_LINK = re.compile(r"https?://\S+/(?:reset-password|sign-in/link)\S*token=[\w-]+")
HOW = pytest.mark.parametrize("paste", [False, True], ids=["script-posts-it", "pasted-js-off"])


@asynccontextmanager
async def browser(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def mailed_link(body: str) -> tuple[str, str]:
    """The link in a mail and its token."""
    match = MAILED_LINK.search(body)
    assert match, body
    parts = urlsplit(match.group(0))
    [token] = parse_qs(parts.query).get("token") or parse_qs(parts.fragment)["token"]
    return match.group(0), token


@HOW
async def test_a_reset_by_the_mailed_link_never_puts_its_token_in_a_request_line(
    kit: AuthKit, mailbox: Mailbox, paste: bool
) -> None:
    """Forgot password → the mailed link (pasted in another browser, where JavaScript
    off has no code to offer) → a new password → signed in with it: the token is in no
    path or query string the app received."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    recorded = RequestLines(make_host_app(kit))
    async with browser(recorded) as asking, browser(recorded) as other:
        csrf = await form_token(asking, "/auth/forgot-password")
        r = await asking.post("/auth/forgot-password", data={"csrf_token": csrf, "email": EMAIL})
        assert r.status_code == 303, r.text
        link, token = mailed_link(await mailed(kit, mailbox, EMAIL))
        c = other if paste else asking
        page = await follow(c, await open_link(c, link, paste=paste))
        assert page.status_code == 200, page.text
        action, fields = form_with(page.text, 'name="password_confirm"')
        r = await c.post(
            action, data={**fields, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
        )
        assert r.status_code == 303 and "reset=1" in r.headers["location"], r.text
        assert (await sign_in(c, EMAIL, NEW_PASSWORD)).status_code == 303
    assert recorded.holding(token) == [], recorded.lines


@HOW
async def test_a_magic_link_sign_in_never_puts_its_token_in_a_request_line(
    kit: AuthKit, mailbox: Mailbox, paste: bool
) -> None:
    """Email me a sign-in link → the mailed link → Continue → signed in: the token is
    in no path or query string the app received."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    recorded = RequestLines(make_host_app(kit))
    async with browser(recorded) as c:
        assert (await choose_method(c, EMAIL, "email_link")).status_code == 303
        link, token = mailed_link(await mailed(kit, mailbox, EMAIL))
        confirm = await follow(c, await open_link(c, link, paste=paste))
        assert confirm.status_code == 200 and "Continue as" in confirm.text, confirm.text
        action, fields = form_with(confirm.text, "ak-button")
        r = await c.post(action, data=fields)
        assert r.status_code == 303, r.text
        assert (await c.get("/")).json()["is_signed_in"] is True
    assert recorded.holding(token) == [], recorded.lines
