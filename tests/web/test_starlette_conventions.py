"""
authkit on any ASGI app, and Starlette's conventions: `request.user.is_authenticated`,
`request.auth.scopes` and `starlette.authentication.requires("authenticated")` work as
with Starlette's own AuthenticationMiddleware; the middleware can be listed in
`Middleware(...)`; `install()` wraps an ASGI app that is not Starlette's and returns it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from authkit import AuthKit, AuthKitMiddleware

from ..conftest import KitFactory
from .flow_helpers import PASSWORD
from .pipeline_helpers import EMAIL, sign_in_password

pytestmark = pytest.mark.anyio


@pytest.fixture
async def kit(make_kit: KitFactory) -> AsyncIterator[AuthKit]:
    made = make_kit()
    await made.ensure_started()
    await made.users.create(email=EMAIL, password=PASSWORD)
    yield made
    await made.aclose()


async def whoami(request: Request) -> Response:
    return JSONResponse(
        {
            "authenticated": request.user.is_authenticated,
            "identity": request.user.identity if request.user.is_authenticated else None,
            "scopes": list(request.auth.scopes),
        }
    )


@requires("authenticated", status_code=401)
async def members(request: Request) -> Response:
    return JSONResponse({"members": True})


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_request_user_and_starlette_requires(kit: AuthKit) -> None:
    app = Starlette(
        routes=[Route("/who", whoami), Route("/members", members), Mount("/auth", app=kit)]
    )
    kit.install(app)
    async with client(app) as c:
        assert (await c.get("/who")).json() == {
            "authenticated": False,
            "identity": None,
            "scopes": [],
        }
        assert (await c.get("/members")).status_code == 401
        assert (await sign_in_password(c)).status_code == 303
        me = (await c.get("/who")).json()
        assert me["authenticated"] is True and me["scopes"] == ["authenticated"]
        assert me["identity"].startswith("user_")
        assert (await c.get("/members")).json() == {"members": True}


async def test_the_middleware_in_a_middleware_list(kit: AuthKit) -> None:
    app = Starlette(
        routes=[Route("/who", whoami), Mount("/auth", app=kit)],
        middleware=[Middleware(AuthKitMiddleware, kit=kit)],
    )
    async with client(app) as c:
        assert (await sign_in_password(c)).status_code == 303
        assert (await c.get("/who")).json()["authenticated"] is True


async def test_install_wraps_an_asgi_app_that_is_not_starlettes(kit: AuthKit) -> None:
    inner = Starlette(routes=[Route("/who", whoami), Mount("/auth", app=kit)])
    seen: list[bool] = []

    async def outer(scope: Scope, receive: Receive, send: Send) -> None:
        """A plain ASGI app (a framework of its own, or a wrapper) around the site."""
        if scope["type"] == "http":
            seen.append(scope["user"].is_authenticated)
        await inner(scope, receive, send)

    served = kit.install(outer, mount_path="/auth")
    assert served is not outer
    async with client(served) as c:
        assert (await c.get("/who")).json()["authenticated"] is False
        assert (await sign_in_password(c)).status_code == 303
        assert (await c.get("/who")).json()["authenticated"] is True
    assert seen[0] is False and seen[-1] is True
    assert kit.mount_path == "/auth"
