"""
`@requires_user` on FastAPI endpoints: one that takes a path parameter and no request
works (the guard asks FastAPI for the request through its signature, as Starlette's
`requires` finds it), its parameters still validated; written above `@app.get(...)` the
guard would leave the route unprotected, so the app refuses to start, naming it. A
Starlette endpoint whose request parameter has another name still works.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from authkit import AuthKit, auth, requires_reverification, requires_user
from authkit.errors import ConfigError

from ..conftest import KitFactory
from .flow_helpers import PASSWORD
from .pipeline_helpers import EMAIL, sign_in_password

pytestmark = pytest.mark.anyio

JSON = {"Accept": "application/json"}


@pytest.fixture
async def kit(make_kit: KitFactory) -> AsyncIterator[AuthKit]:
    made = make_kit()
    await made.ensure_started()
    await made.users.create(email=EMAIL, password=PASSWORD)
    yield made
    await made.aclose()


def fastapi_site(kit: AuthKit) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    @requires_user
    async def item(item_id: int, q: str | None = None) -> dict[str, Any]:
        return {"item_id": item_id, "q": q}

    @app.get("/mine/{item_id}")
    @requires_user
    async def mine(request: Request, item_id: int) -> dict[str, Any]:
        return {"user_id": auth(request).user_id, "item_id": item_id}

    @app.post("/danger/{item_id}")
    @requires_reverification
    async def danger(item_id: int) -> dict[str, Any]:
        return {"deleted": item_id}

    app.mount("/auth", kit)
    kit.install(app)
    return app


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_a_guarded_endpoint_with_path_parameters_and_no_request(kit: AuthKit) -> None:
    app = fastapi_site(kit)
    async with client(app) as c:
        assert (await c.get("/items/5", headers=JSON)).status_code == 401
        signed_out = await c.get("/items/5?q=x")
        assert signed_out.status_code == 303
        assert signed_out.headers["location"].startswith("/auth/sign-in?redirect_url=")
        assert (await sign_in_password(c)).status_code == 303
        r = await c.get("/items/5?q=x")
        assert r.status_code == 200, r.text
        assert r.json() == {"item_id": 5, "q": "x"}
        assert (await c.get("/items/five")).status_code == 422  # FastAPI still validates
        mine = await c.get("/mine/7")
        assert mine.json()["item_id"] == 7 and mine.json()["user_id"] is not None
        assert (await c.post("/danger/3")).json() == {"deleted": 3}  # signed in just now


async def test_openapi_shows_the_endpoints_own_parameters(kit: AuthKit) -> None:
    schema = fastapi_site(kit).openapi()
    parameters = {p["name"] for p in schema["paths"]["/items/{item_id}"]["get"]["parameters"]}
    assert parameters == {"item_id", "q"}  # the injected request is not a parameter


async def test_a_guard_above_the_route_decorator_stops_the_app(kit: AuthKit) -> None:
    app = FastAPI()

    @requires_user  # wrong order: the route has already registered `open_door`
    @app.get("/door")
    async def open_door() -> dict[str, str]:
        return {"door": "open"}

    app.mount("/auth", kit)
    kit.install(app)

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, Any]) -> None:
        pass

    with pytest.raises(ConfigError) as refused:
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert "open_door is served unprotected" in str(refused.value)
    assert "Put the guard below the route decorator" in str(refused.value)
    # Without a lifespan (some servers, test clients), the first request stops it.
    other = FastAPI()

    @requires_user
    @other.get("/door")
    async def open_again() -> dict[str, str]:
        return {"door": "open"}

    other.mount("/auth", kit)
    kit.install(other)
    async with client(other) as c:
        with pytest.raises(ConfigError, match="open_again is served unprotected"):
            await c.get("/door")


async def test_a_starlette_endpoint_whose_request_has_another_name(kit: AuthKit) -> None:
    @requires_user
    async def page(req: Any) -> Response:
        return PlainTextResponse("inside")

    app = Starlette(routes=[Route("/page", page), Mount("/auth", app=kit)])
    kit.install(app)
    async with client(app) as c:
        assert (await c.get("/page")).status_code == 303
        assert (await sign_in_password(c)).status_code == 303
        assert (await c.get("/page")).text == "inside"
