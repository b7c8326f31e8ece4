"""
A small host application written only against DESIGN.md's public face: it mounts the
sub-app, installs the middleware and uses auth(), current_user() and requires_user.
"""

from __future__ import annotations

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from authkit import AuthKit, auth, current_user, requires_reverification, requires_user


async def home(request: Request) -> Response:
    a = auth(request)
    return JSONResponse(
        {"is_signed_in": a.is_signed_in, "user_id": a.user_id, "session_id": a.session_id}
    )


@requires_user
async def dashboard(request: Request) -> Response:
    user = await current_user(request)
    assert user is not None
    return PlainTextResponse(f"Hello {user.email} ({user.id})")


@requires_user
async def api_me(request: Request) -> Response:
    a = auth(request)
    return JSONResponse({"user_id": a.user_id, "claims": dict(a.claims)})


async def who_is_on_the_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"user_id": auth(websocket).user_id})
    await websocket.close()


async def boom(request: Request) -> Response:
    raise RuntimeError("a host endpoint that crashes")


@requires_reverification
async def sensitive(request: Request) -> Response:
    age = auth(request).factor_age
    return JSONResponse({"first": age.first, "second": age.second})


@requires_reverification(max_age=120)
async def very_sensitive(request: Request) -> Response:
    return PlainTextResponse("done")


EMBEDDED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Host page</title>{{ authkit.head() }}</head>
<body><main><h1>Host page</h1>
{% if user %}<p id="hello">Hello {{ user.email }}</p>{{ authkit.user_button(user) }}
{% else %}{{ authkit.sign_in() }}{% endif %}
</main></body></html>"""


def make_host_app(kit: AuthKit, mount_path: str = "/auth") -> Starlette:
    env = jinja2.Environment(
        loader=jinja2.DictLoader({"embedded.html": EMBEDDED_PAGE}), autoescape=True
    )
    kit.jinja(env)

    async def embedded(request: Request) -> Response:
        user = await current_user(request)
        html = env.get_template("embedded.html").render(request=request, user=user)
        return HTMLResponse(html)

    app = Starlette(
        routes=[
            Route("/embedded", embedded),
            Route("/", home),
            Route("/dashboard", dashboard),
            Route("/api/me", api_me),
            Route("/sensitive", sensitive),
            Route("/boom", boom),
            WebSocketRoute("/ws", who_is_on_the_socket),
            Route("/very-sensitive", very_sensitive),
            Mount(mount_path, app=kit),
        ]
    )
    kit.install(app)
    return app
