"""Sign-in: where it sends the browser afterwards, banned users, rehashing old password
hashes, field messages, over-long passwords and the audit trail."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlmodel import select

from authkit import AuthKit
from authkit.flows.admin import ban_user, create_user
from authkit.store.models import AuditEventRow, PasswordCredentialRow

from ..conftest import FakeClock, KitFactory
from ..hostapp import make_host_app
from .flow_helpers import PASSWORD, csrf_of, form_token, sign_in, without_per_response_values

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"
INCORRECT = "The email or password is incorrect."
WRONG_PASSWORD = "not the password at all"


def field_error(page: str, name: str) -> str | None:
    """The message shown beside the input `name`, if any."""
    match = re.search(
        rf'<p class="ak-field__error" id="ak-[a-z0-9-]+-{name}-error">(.*?)</p>', page, re.S
    )
    return html.unescape(match.group(1)) if match else None


def without_csrf(page: str) -> str:
    return without_per_response_values(page)


def set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


@asynccontextmanager
async def client_for(kit: AuthKit) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on a host app around `kit` (for kits made with other settings)."""
    transport = httpx.ASGITransport(app=make_host_app(kit))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        await kit.aclose()


async def make_user(kit: AuthKit, email: str = EMAIL, password: str = PASSWORD) -> str:
    await kit.ensure_started()
    return await create_user(kit.services, email=email, password=password)


async def post_sign_in(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    token = await form_token(client, "/auth/sign-in")
    data = {"email": EMAIL, "password": PASSWORD, **fields}
    return await client.post("/auth/sign-in", data={"csrf_token": token, **data})


async def password_hash(kit: AuthKit, user_id: str) -> str:
    async with kit.services.db.session() as s:
        row = await s.get(PasswordCredentialRow, user_id)
    assert row is not None, user_id
    return row.password_hash


# -- redirect_url -------------------------------------------------------------------------

REDIRECTS = [
    ("/dashboard?x=1", "/dashboard?x=1"),
    ("https://evil.example/", "/"),
    ("//evil.example", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
]


@pytest.mark.parametrize(("wanted", "expected"), REDIRECTS)
async def test_sign_in_goes_to_redirect_url_only_on_this_site(
    client: httpx.AsyncClient, kit: AuthKit, wanted: str, expected: str
) -> None:
    """A same-site redirect_url is followed after sign-in; any other becomes '/'."""
    await make_user(kit)
    page = await client.get(f"/auth/sign-in?redirect_url={quote(wanted, safe='')}")
    assert page.status_code == 200, page.text
    assert f'name="redirect_url" value="{html.escape(expected)}"' in page.text, page.text
    r = await client.post(
        "/auth/sign-in",
        data={
            "csrf_token": csrf_of(page.text),
            "email": EMAIL,
            "password": PASSWORD,
            "redirect_url": wanted,
        },
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == expected, r.headers


@pytest.mark.parametrize(("wanted", "expected"), REDIRECTS)
async def test_signed_in_visit_to_sign_in_redirects_to_the_target(
    client: httpx.AsyncClient, kit: AuthKit, wanted: str, expected: str
) -> None:
    """Someone already signed in who opens the sign-in page goes straight on."""
    await make_user(kit)
    assert (await sign_in(client, EMAIL)).status_code == 303
    r = await client.get(f"/auth/sign-in?redirect_url={quote(wanted, safe='')}")
    assert r.status_code == 303, r.text
    assert r.headers["location"] == expected, r.headers


# -- banned users -------------------------------------------------------------------------


async def test_banned_user_gets_the_wrong_password_answer(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """A ban is not disclosed: the right password gets the same page as a wrong one."""
    user_id = await make_user(kit)
    wrong = await post_sign_in(client, password=WRONG_PASSWORD)
    assert await ban_user(kit.services, user_id)
    banned = await post_sign_in(client)
    assert banned.status_code == wrong.status_code == 422, banned.text
    assert field_error(banned.text, "password") == INCORRECT, banned.text
    assert without_csrf(banned.text) == without_csrf(wrong.text)
    assert not any(c.startswith("__session=") for c in set_cookies(banned)), banned.headers


async def test_banned_users_session_ends_when_its_token_expires(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """After a ban the refresh is refused at the next token expiry and the cookies cleared."""
    user_id = await make_user(kit)
    assert (await sign_in(client, EMAIL)).status_code == 303
    assert await ban_user(kit.services, user_id)
    clock.advance(kit.settings.session_token_lifetime + 1)
    r = await client.get("/")
    assert r.json()["is_signed_in"] is False, r.text
    cleared = [c for c in set_cookies(r) if "Max-Age=0" in c]
    assert any(c.startswith("__refresh=;") for c in cleared), set_cookies(r)
    assert any(c.startswith("__session=;") for c in cleared), set_cookies(r)
    api = await client.get("/api/me", headers={"accept": "application/json"})
    assert api.status_code == 401, api.text


# -- rehashing ----------------------------------------------------------------------------


async def test_sign_in_rehashes_a_password_made_with_weaker_parameters(
    kit: AuthKit, make_kit: KitFactory
) -> None:
    """A hash made with CHEAPEST is replaced by an RFC 9106 one at the next sign-in."""
    user_id = await make_user(kit)
    before = await password_hash(kit, user_id)
    await kit.aclose()
    assert before.startswith("$argon2id$v=19$m=8,"), before
    stronger = make_kit(password_hash_profile="RFC_9106_LOW_MEMORY")
    async with client_for(stronger) as c:
        r = await sign_in(c, EMAIL)
        assert r.status_code == 303, r.text
        after = await password_hash(stronger, user_id)
        assert after.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), after
        # The new hash still verifies the same password.
        c.cookies.clear()
        assert (await sign_in(c, EMAIL)).status_code == 303
        assert (await c.get("/")).json()["is_signed_in"] is True


# -- field messages -----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["email", "password"])
async def test_empty_field_is_required(client: httpx.AsyncClient, field: str) -> None:
    """An empty email or password is answered beside that field."""
    r = await post_sign_in(client, **{field: ""})
    assert r.status_code == 422, r.text
    assert field_error(r.text, field) == "This field is required.", r.text


async def test_password_over_the_maximum_is_refused_without_hashing(
    client: httpx.AsyncClient, kit: AuthKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A password longer than the maximum gets the usual answer and costs no argon2 work."""
    await make_user(kit)
    calls: list[str] = []
    hasher = kit.services.hasher

    def spy(name: str) -> Any:
        original = getattr(hasher, name)

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return await original(*args, **kwargs)

        return wrapper

    for name in ("hash", "verify", "dummy_verify"):
        monkeypatch.setattr(hasher, name, spy(name))
    too_long = "x" * (kit.settings.password_max_length + 1)
    for email in (EMAIL, "nobody@example.com"):
        r = await post_sign_in(client, email=email, password=too_long)
        assert r.status_code == 422, r.text
        assert field_error(r.text, "password") == INCORRECT, r.text
    assert calls == [], calls


# -- audit --------------------------------------------------------------------------------


async def test_sign_in_and_failures_are_audited_without_the_password(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """`sign_in` and `sign_in.failed` rows exist, and none holds a password."""
    user_id = await make_user(kit)
    assert (await post_sign_in(client, password=WRONG_PASSWORD)).status_code == 422
    assert (await post_sign_in(client, email="nobody@example.com")).status_code == 422
    assert (await post_sign_in(client)).status_code == 303
    async with kit.services.db.session() as s:
        rows = list((await s.exec(select(AuditEventRow))).all())
    events = [(row.event, row.user_id, row.detail.get("reason")) for row in rows]
    assert ("sign_in", user_id, None) in events, events
    assert ("sign_in.failed", user_id, "wrong_password") in events, events
    assert ("sign_in.failed", None, "unknown_email") in events, events
    for row in rows:
        stored = json.dumps(row.detail) + row.user_agent
        for secret in (PASSWORD, WRONG_PASSWORD):
            assert secret not in stored, (row.event, stored)
