"""
A `redirect_url` outside Latin-1 (issue #11, defect 5): htmx answers carry it in
`HX-Redirect`, and HTTP headers are Latin-1, so `/ā` made a 500 *after* the state had
changed (a session created, a code used up, a sign-out half done). Every header built
from user input is now percent-encoded; a property test holds every redirect target
and every header authkit's redirects set to Latin-1 on any input.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from authkit import AuthKit
from authkit.flows.admin import create_user
from authkit.security.redirects import safe_redirect_url
from authkit.web.helpers import redirect

from ..conftest import Mailbox
from ..web.flow_helpers import PASSWORD, csrf_of, form_token, start_sign_up

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"
TARGET = "/ā/日本?q=ü"
ENCODED = "/%C4%81/%E6%97%A5%E6%9C%AC?q=%C3%BC"
HTMX = {"hx-request": "true"}


def session_set(r: httpx.Response) -> bool:
    return any(
        c.startswith("__session=") and not c.startswith("__session=;")
        for c in r.headers.get_list("set-cookie")
    )


async def test_htmx_sign_in_with_a_non_latin1_redirect_url_signs_in(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """The answer is an HX-Redirect to the percent-encoded target, with the cookies."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    token = await form_token(client, "/auth/sign-in")
    r = await client.post(
        "/auth/sign-in",
        data={"csrf_token": token, "email": EMAIL, "password": PASSWORD, "redirect_url": TARGET},
        headers=HTMX,
    )
    assert r.status_code == 200, r.text
    assert r.headers["hx-redirect"] == ENCODED
    assert session_set(r)


async def test_htmx_sign_up_verify_with_a_non_latin1_redirect_url_completes(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """The account is made, the code used, and the browser gets its session."""
    page = await start_sign_up(client, EMAIL)
    await kit.services.mailer.drain()
    r = await client.post(
        "/auth/sign-up/verify",
        data={
            "csrf_token": csrf_of(page.text),
            "code": mailbox.last_code(EMAIL),
            "redirect_url": TARGET,
        },
        headers=HTMX,
    )
    assert r.status_code == 200, r.text
    assert r.headers["hx-redirect"] == ENCODED and session_set(r)


async def test_htmx_sign_out_with_a_non_latin1_redirect_url_clears_the_cookies(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """Revoked and cleared together, never revoked and then a 500."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    token = await form_token(client, "/auth/sign-in")
    await client.post(
        "/auth/sign-in", data={"csrf_token": token, "email": EMAIL, "password": PASSWORD}
    )
    token = await form_token(client, "/auth/user")
    r = await client.post(
        "/auth/sign-out", data={"csrf_token": token, "redirect_url": TARGET}, headers=HTMX
    )
    assert r.status_code == 200, r.text
    assert r.headers["hx-redirect"] == ENCODED
    assert any(c.startswith("__session=;") for c in r.headers.get_list("set-cookie"))


async def test_signed_in_visit_with_a_non_latin1_redirect_url_goes_on(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """GET /sign-in?redirect_url=/ā while signed in: a 303 to the encoded path."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    token = await form_token(client, "/auth/sign-in")
    await client.post(
        "/auth/sign-in", data={"csrf_token": token, "email": EMAIL, "password": PASSWORD}
    )
    for headers in ({}, HTMX):
        r = await client.get(f"/auth/sign-in?redirect_url={quote(TARGET)}", headers=headers)
        assert r.status_code in (200, 303), r.text
        assert (r.headers.get("location") or r.headers.get("hx-redirect")) == ENCODED


@settings(max_examples=200, deadline=None)
@given(value=st.text(max_size=60), htmx=st.booleans(), navigate=st.booleans())
def test_every_redirect_header_is_latin1_on_any_input(
    value: str, htmx: bool, navigate: bool
) -> None:
    """Whatever the target, the redirect's headers encode as HTTP requires."""
    target = safe_redirect_url("/" + value, default="/", base_url="https://example.com")
    assert target.isascii(), target
    headers = [(b"hx-request", b"true")] if htmx else []
    request = Request({"type": "http", "method": "POST", "path": "/", "headers": headers})
    response = redirect(request, target, navigate=navigate)
    for name, raw in response.raw_headers:
        raw.decode("latin-1")
        assert b"\r" not in raw and b"\n" not in raw, (name, raw)
