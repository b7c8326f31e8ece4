"""
The demo site: a small host application that mounts authkit at /auth.

It has a public home page and a protected dashboard, and uses only the public face:
`AuthKit`, `install()`, `auth()`, `current_user()` and `requires_user`.
Run it with `authkit demo` (SQLite, emails printed to the console).
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from authkit import AuthKit, auth, current_user, requires_user

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


async def home(request: Request) -> Response:
    user = await current_user(request) if auth(request).is_signed_in else None
    return templates.TemplateResponse(request, "home.html", {"user": user})


@requires_user
async def dashboard(request: Request) -> Response:
    user = await current_user(request)
    return templates.TemplateResponse(
        request, "dashboard.html", {"user": user, "session": auth(request)}
    )


def create_app(kit: AuthKit) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", home),
            Route("/dashboard", dashboard),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
            Mount("/auth", app=kit),
        ]
    )
    kit.install(app)
    return app
