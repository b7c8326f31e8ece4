"""
Session tokens only count in the `__session` cookie (SECURITY.md #44, OWASP Session
Management "cookies only, reject IDs in the URL") and identity never comes from a header a
client can set (ASVS 4.1.3, Better Auth CVE-2025-61928 "identity from the body"): a real,
valid session token placed in the query string, a form field or another header, or a
forged X-User style header, signs nobody in.
"""

from __future__ import annotations

import httpx
import pytest

from authkit import AuthKit
from authkit.cookies import REFRESH_COOKIE, SESSION_COOKIE
from authkit.flows.admin import create_user

from ..web.flow_helpers import PASSWORD, sign_in

pytestmark = pytest.mark.anyio

EMAIL = "owner@example.com"


@pytest.fixture
async def stolen(client: httpx.AsyncClient, kit: AuthKit) -> dict[str, str]:
    """A valid session of the owner: its token, refresh token and ids, then a clean jar."""
    await kit.ensure_started()
    user_id = await create_user(kit.services, email=EMAIL, password=PASSWORD)
    assert (await sign_in(client, EMAIL)).status_code == 303
    state = (await client.get("/")).json()
    assert state["user_id"] == user_id
    found = {
        "token": client.cookies[SESSION_COOKIE],
        "refresh": client.cookies[REFRESH_COOKIE],
        "user_id": user_id,
        "session_id": state["session_id"],
    }
    client.cookies.clear()
    return found


async def assert_anonymous(
    client: httpx.AsyncClient, *, params: dict[str, str] | None = None, headers: dict[str, str]
) -> None:
    r = await client.get("/", params=params, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["is_signed_in"] is False, (params, headers, r.json())
    r = await client.get(
        "/api/me", params=params, headers={**headers, "accept": "application/json"}
    )
    assert r.status_code == 401, (params, headers, r.text)
    r = await client.get("/auth/user", params=params, headers=headers)
    assert r.status_code == 303, (params, headers, r.text)
    assert EMAIL not in r.text


@pytest.mark.parametrize(
    "name", [SESSION_COOKIE, "session", "token", "access_token", "jwt", "sid", REFRESH_COOKIE]
)
async def test_session_token_in_the_query_string_is_ignored(
    client: httpx.AsyncClient, stolen: dict[str, str], name: str
) -> None:
    """Session IDs in URLs (#44): ?__session=<valid token> signs nobody in."""
    value = stolen["refresh" if name == REFRESH_COOKIE else "token"]
    await assert_anonymous(client, params={name: value}, headers={})


HEADERS = [
    ("authorization", "Bearer {token}"),
    ("authorization", "{token}"),
    ("x-session", "{token}"),
    ("x-auth-token", "{token}"),
    ("x-access-token", "{token}"),
    ("x-refresh-token", "{refresh}"),
    ("x-user-id", "{user_id}"),
    ("x-user", "{user_id}"),
    ("x-forwarded-user", "{user_id}"),
    ("x-remote-user", "{user_id}"),
    ("remote-user", "{user_id}"),
    ("x-session-id", "{session_id}"),
    ("cookie", "session={token}; refresh={refresh}"),
    ("cookie", "__Host-session={token}; __Secure-refresh={refresh}"),
    ("cookie", "__SESSION={token}; __REFRESH={refresh}"),
    ("set-cookie", "__session={token}"),
]


@pytest.mark.parametrize(
    "header", HEADERS, ids=[f"{name}-{n}" for n, (name, _) in enumerate(HEADERS)]
)
async def test_session_token_or_identity_in_another_header_is_ignored(
    client: httpx.AsyncClient, stolen: dict[str, str], header: tuple[str, str]
) -> None:
    """Tokens in unexpected headers (#44, ASVS 4.1.3): only the `__session` cookie counts."""
    name, template = header
    await assert_anonymous(client, headers={name: template.format(**stolen)})


async def test_identity_in_a_form_body_is_ignored(
    client: httpx.AsyncClient, stolen: dict[str, str]
) -> None:
    """Identity from the body (Better Auth CVE-2025-61928, #5): user_id in a post is no session."""
    r = await client.post(
        "/auth/user",
        data={
            "user_id": stolen["user_id"],
            "session_id": stolen["session_id"],
            SESSION_COOKIE: stolen["token"],
            "first_name": "Mallory",
        },
        headers={"accept": "application/json"},
    )
    assert r.status_code == 401, r.text
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c:
        c.cookies.set(SESSION_COOKIE, stolen["token"])
        page = await c.get("/auth/user")
    assert "Mallory" not in page.text
