"""
`authkit.fastapi`: `SignedIn` (the session, no I/O), `CurrentUser` (the user, one
query) and `requires_reverification()` as FastAPI dependencies: 401 for JSON and the
sign-in redirect for HTML without a session, 403 or the "Confirm it's you" redirect when
the factors are old; the session cookie shows in OpenAPI as a security scheme.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from authkit import AuthKit
from authkit.fastapi import CurrentUser, SignedIn, requires_reverification

from ..conftest import FakeClock, KitFactory
from .flow_helpers import PASSWORD
from .pipeline_helpers import EMAIL, sign_in_password

pytestmark = pytest.mark.anyio

JSON = {"Accept": "application/json"}


@pytest.fixture
async def kit(make_kit: KitFactory) -> AsyncIterator[AuthKit]:
    made = make_kit()
    await made.ensure_started()
    await made.users.create(email=EMAIL, password=PASSWORD, first_name="Ada")
    yield made
    await made.aclose()


@pytest.fixture
def app(kit: AuthKit) -> FastAPI:
    site = FastAPI()

    @site.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"email": user.email, "first_name": user.first_name}

    @site.get("/items/{item_id}")
    async def item(item_id: int, session: SignedIn) -> dict[str, Any]:
        return {"item_id": item_id, "user_id": session.user_id}

    @site.delete("/projects/{project_id}", dependencies=[requires_reverification(max_age=300)])
    async def delete_project(project_id: int) -> dict[str, Any]:
        return {"deleted": project_id}

    site.mount("/auth", kit)
    kit.install(site)
    return site


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_signed_out_json_gets_401_and_html_the_sign_in_page(app: FastAPI) -> None:
    async with client(app) as c:
        api = await c.get("/me", headers=JSON)
        assert api.status_code == 401 and api.json() == {"detail": {"error": "unauthorized"}}
        page = await c.get("/items/3?x=1")
        assert page.status_code == 303
        assert page.headers["location"] == "/auth/sign-in?redirect_url=%2Fitems%2F3%3Fx%3D1"


async def test_signed_in_the_dependencies_give_the_session_and_the_user(app: FastAPI) -> None:
    async with client(app) as c:
        assert (await sign_in_password(c)).status_code == 303
        assert (await c.get("/me")).json() == {"email": EMAIL, "first_name": "Ada"}
        item = (await c.get("/items/3")).json()
        assert item["item_id"] == 3 and item["user_id"].startswith("user_")
        assert (await c.delete("/projects/9", headers=JSON)).json() == {"deleted": 9}


async def test_old_factors_must_be_confirmed_again(app: FastAPI, clock: FakeClock) -> None:
    async with client(app) as c:
        assert (await sign_in_password(c)).status_code == 303
        clock.advance(3600)
        api = await c.delete("/projects/9", headers=JSON)
        assert api.status_code == 403
        detail = api.json()["detail"]
        assert detail["error"] == "reverification_required"
        assert detail["reverify_url"].startswith("/auth/reverify?redirect_url=")
        page = await c.delete("/projects/9")
        assert page.status_code == 303 and page.headers["location"].startswith("/auth/reverify")


async def test_a_banned_users_token_loads_no_user(app: FastAPI, kit: AuthKit) -> None:
    async with client(app) as c:
        assert (await sign_in_password(c)).status_code == 303
        user = await kit.users.get_by_email(EMAIL)
        assert user is not None
        await kit.users.ban(user.id)
        assert (await c.get("/me", headers=JSON)).status_code == 401


async def test_openapi_shows_the_session_cookie_as_a_security_scheme(app: FastAPI) -> None:
    schema = app.openapi()
    scheme = schema["components"]["securitySchemes"]["authkit session"]
    assert scheme == {
        "type": "apiKey",
        "in": "cookie",
        "name": "__session",
        "description": scheme["description"],
    }
    assert schema["paths"]["/me"]["get"]["security"] == [{"authkit session": []}]
    parameters = schema["paths"]["/items/{item_id}"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == ["item_id"]
