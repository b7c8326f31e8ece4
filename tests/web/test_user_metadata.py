"""
The three metadata objects: the Python API replaces (`update`) and merges
(`update_metadata`, deep, null removes), within 8 KB, all or nothing; parallel merges
keep each other's keys; a signed-in user writes their own `unsafe_metadata` through
`POST /auth/user/metadata` (CSRF-checked) and never the public or private ones. On
SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.errors import FieldError
from authkit.store.models import AuditEventRow

from .flow_helpers import PASSWORD
from .pipeline_helpers import EMAIL, sign_in_password

pytestmark = pytest.mark.anyio

ENDPOINT = "/auth/user/metadata"


@pytest.fixture
async def user_id(kit: AuthKit) -> AsyncIterator[str]:
    await kit.ensure_started()
    user = await kit.users.create(email=EMAIL, password=PASSWORD)
    yield user.id
    await kit.aclose()


def browser(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def csrf(client: httpx.AsyncClient) -> str:
    page = (await client.get("/auth/user")).text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


async def test_update_replaces_and_update_metadata_merges(kit: AuthKit, user_id: str) -> None:
    user = await kit.users.update(user_id, public_metadata={"plan": "pro", "team": {"a": 1}})
    assert user is not None and user.public_metadata == {"plan": "pro", "team": {"a": 1}}
    user = await kit.users.update_metadata(
        user_id, public_metadata={"team": {"b": 2}, "plan": None}, private_metadata={"s": [1]}
    )
    assert user is not None
    assert user.public_metadata == {"team": {"a": 1, "b": 2}}
    assert user.private_metadata == {"s": [1]} and user.unsafe_metadata == {}
    user = await kit.users.update(user_id, public_metadata={"only": True})
    assert user is not None and user.public_metadata == {"only": True}
    assert user.private_metadata == {"s": [1]}  # untouched
    async with kit.services.db.session() as s:
        rows = await s.exec(
            select(AuditEventRow).where(col(AuditEventRow.event) == "metadata.updated")
        )
        kinds = [row.detail["kinds"] for row in rows.all()]
    assert sorted(kinds) == [
        "private_metadata,public_metadata",
        "public_metadata",
        "public_metadata",
    ]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ([1, 2], "metadata_not_object"),
        ("text", "metadata_not_object"),
        ({"x": float("nan")}, "metadata_not_json"),
        ({"x": {1, 2}}, "metadata_not_json"),
        ({"big": "x" * 8200}, "metadata_too_large"),
    ],
    ids=["list", "text", "nan", "a-set", "over-8-kb"],
)
async def test_bad_metadata_is_refused_and_nothing_is_written(
    kit: AuthKit, user_id: str, value: object, code: str
) -> None:
    with pytest.raises(FieldError) as refused:
        await kit.users.update(user_id, first_name="Ada", public_metadata=value)  # type: ignore[arg-type]
    assert refused.value.code == code and refused.value.field == "public_metadata"
    user = await kit.users.get(user_id)
    assert user is not None and user.first_name == "" and user.public_metadata == {}


async def test_a_merge_that_grows_past_the_cap_is_refused(kit: AuthKit, user_id: str) -> None:
    await kit.users.update(user_id, private_metadata={"a": "x" * 5000})
    with pytest.raises(FieldError) as refused:
        await kit.users.update_metadata(user_id, private_metadata={"b": "y" * 5000})
    assert refused.value.code == "metadata_too_large"
    user = await kit.users.get(user_id)
    assert user is not None and list(user.private_metadata) == ["a"]


async def test_parallel_merges_keep_each_others_keys(kit: AuthKit, user_id: str) -> None:
    async with anyio.create_task_group() as tg:
        for n in range(8):
            tg.start_soon(
                lambda n=n: kit.users.update_metadata(user_id, public_metadata={f"k{n}": n})
            )
    user = await kit.users.get(user_id)
    assert user is not None and user.public_metadata == {f"k{n}": n for n in range(8)}


async def test_a_user_writes_their_own_unsafe_metadata(
    app: Starlette, kit: AuthKit, user_id: str
) -> None:
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        token = await csrf(b)
        headers = {"X-CSRF-Token": token}
        r = await b.post(
            ENDPOINT, json={"unsafe_metadata": {"theme": "dark", "n": {"a": 1}}}, headers=headers
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"unsafe_metadata": {"theme": "dark", "n": {"a": 1}}}
        assert r.headers["cache-control"] == "no-store"
        merged = await b.post(
            ENDPOINT,
            json={"unsafe_metadata": {"n": {"b": 2}, "theme": None}, "merge": True},
            headers=headers,
        )
        assert merged.json() == {"unsafe_metadata": {"n": {"a": 1, "b": 2}}}
        replaced = await b.post(ENDPOINT, json={"unsafe_metadata": {}}, headers=headers)
        assert replaced.json() == {"unsafe_metadata": {}}
        too_big = await b.post(
            ENDPOINT, json={"unsafe_metadata": {"x": "y" * 9000}}, headers=headers
        )
        assert too_big.status_code == 400
        assert too_big.json() == {
            "error": "Metadata must be at most 8 KB.",
            "field": "unsafe_metadata",
        }
        not_object = await b.post(ENDPOINT, json={"unsafe_metadata": [1]}, headers=headers)
        assert not_object.status_code == 400
        assert not_object.json()["error"] == "Metadata must be a JSON object."


@pytest.mark.parametrize(
    "body",
    [
        {"public_metadata": {"role": "admin"}},
        {"private_metadata": {"credits": 1000}},
        {"unsafe_metadata": {}, "public_metadata": {"role": "admin"}},
    ],
    ids=["public", "private", "unsafe-and-public"],
)
async def test_a_user_cannot_write_public_or_private_metadata(
    app: Starlette, kit: AuthKit, user_id: str, body: dict[str, object]
) -> None:
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        r = await b.post(ENDPOINT, json=body, headers={"X-CSRF-Token": await csrf(b)})
        assert r.status_code == 403
        assert r.json() == {"error": "Only unsafe_metadata can be changed here."}
    user = await kit.users.get(user_id)
    assert user is not None
    assert (user.public_metadata, user.private_metadata, user.unsafe_metadata) == ({}, {}, {})


async def test_the_endpoint_needs_a_session_and_csrf(
    app: Starlette, kit: AuthKit, user_id: str
) -> None:
    body = {"unsafe_metadata": {"x": 1}}
    async with browser(app) as b:
        page = (await b.get("/auth/sign-in")).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        signed_out = await b.post(ENDPOINT, json=body, headers={"X-CSRF-Token": token.group(1)})
        assert signed_out.status_code == 401
        assert (await sign_in_password(b)).status_code == 303
        for headers in ({}, {"X-CSRF-Token": "forged"}):
            refused = await b.post(ENDPOINT, json=body, headers=headers)
            assert refused.status_code == 403
        cross_site = await b.post(
            ENDPOINT,
            json=body,
            headers={"X-CSRF-Token": await csrf(b), "Sec-Fetch-Site": "cross-site"},
        )
        assert cross_site.status_code == 403
        form = await b.post(
            ENDPOINT, data={"unsafe_metadata": "{}"}, headers={"X-CSRF-Token": await csrf(b)}
        )
        assert form.status_code == 415
        nested = await b.post(
            ENDPOINT,
            content=b"[" * 50_000,
            headers={"X-CSRF-Token": await csrf(b), "Content-Type": "application/json"},
        )
        assert nested.status_code == 400
    user = await kit.users.get(user_id)
    assert user is not None and user.unsafe_metadata == {}
    assert json.dumps(user.unsafe_metadata) == "{}"


@pytest.mark.parametrize(
    "body",
    [
        b'{"unsafe_metadata": {"a": "\\ud800"}}',
        b'{"unsafe_metadata": ' + b'{"a":' * 400 + b"1" + b"}" * 401,
    ],
    ids=["lone-surrogate", "nested-400-deep"],
)
async def test_hostile_json_in_metadata_is_a_400_not_a_500(
    app: Starlette, kit: AuthKit, user_id: str, body: bytes
) -> None:
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        r = await b.post(
            ENDPOINT,
            content=body,
            headers={"X-CSRF-Token": await csrf(b), "Content-Type": "application/json"},
        )
        assert r.status_code == 400, r.text
        assert r.json()["field"] == "unsafe_metadata"
    with pytest.raises(FieldError):
        await kit.users.update(user_id, public_metadata={"a": "\ud800"})


async def test_a_banned_user_cannot_write_metadata(
    app: Starlette, kit: AuthKit, user_id: str
) -> None:
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        token = await csrf(b)
        await kit.users.ban(user_id)
        r = await b.post(
            ENDPOINT, json={"unsafe_metadata": {"x": 1}}, headers={"X-CSRF-Token": token}
        )
        assert r.status_code == 401
    user = await kit.users.get(user_id)
    assert user is not None and user.unsafe_metadata == {}
