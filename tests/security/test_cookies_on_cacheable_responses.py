"""
Cookies on responses a CDN may keep (found while building avatars, issue #12): with an
expired session token, fetching a `public, immutable` resource (the theme's CSS, an
avatar, the JWKS) refreshed the session on that response, so its Set-Cookie carried a
new session and refresh token. A shared cache that stores the response would hand those
cookies to every later visitor: a session handed out to strangers. Now a response that
shared caches may store carries no cookie, and rotates nothing.
"""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from authkit import AuthKit

from ..conftest import FakeClock
from .test_undelivered_refresh_rotation import (
    generation,
    signed_in,
    still_signed_in_after_the_grace,
)

pytestmark = pytest.mark.anyio

PUBLIC_RESOURCES = [
    "/auth/theme.css?v=1",
    "/auth/.well-known/jwks.json",
    "/auth/.well-known/openid-configuration",
]


@pytest.mark.parametrize("path", PUBLIC_RESOURCES)
async def test_a_publicly_cacheable_response_carries_no_cookie(
    client: httpx.AsyncClient, app: Starlette, kit: AuthKit, clock: FakeClock, path: str
) -> None:
    await signed_in(client, kit)
    clock.advance(kit.settings.session_token_lifetime + 1)  # the next request refreshes
    before = await generation(kit)
    r = await client.get(path)
    assert r.status_code == 200
    assert "public" in r.headers["cache-control"]
    assert r.headers.get_list("set-cookie") == []
    assert await generation(kit) == before  # nothing rotated: the browser's token holds
    await still_signed_in_after_the_grace(client, kit, clock)


async def test_a_host_page_marked_s_maxage_carries_no_cookie(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """The rule is the response's, not the kit's routes: a host's CDN-cached page too."""
    await signed_in(client, kit)
    clock.advance(kit.settings.session_token_lifetime + 1)
    r = await client.get("/cdn-cached")
    assert r.headers["cache-control"] == "s-maxage=60"
    assert r.headers.get_list("set-cookie") == []


async def test_a_private_page_still_refreshes_the_session(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """Control: an ordinary response carries the refreshed cookies as before."""
    await signed_in(client, kit)
    clock.advance(kit.settings.session_token_lifetime + 1)
    before = await generation(kit)
    r = await client.get("/")
    names = {c.split("=", 1)[0] for c in r.headers.get_list("set-cookie")}
    assert {"__session", "__refresh"} <= names
    assert await generation(kit) == before + 1
