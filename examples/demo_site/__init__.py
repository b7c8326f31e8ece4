"""
The demo site: a small notes app that mounts authkit at /auth and embeds its components
in its own pages, with its own layout and theme.

It uses only authkit's public face: `AuthKit`, `install()`, `jinja()`, `auth()`,
`current_user()`, `requires_user`, and `csrf_ok()` for its own form. Notes live in the
same database as the users, with the user id as a foreign key.
The greetings page hands a JWT template's token to a stand-in third-party service
(standin_api.py) that verifies it through authkit's JWKS.
Run it with `authkit demo` (SQLite, emails printed to the console).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from authkit import AuthKit, auth, current_user, load_profile, requires_user

from .notes import MAX_NOTE_LENGTH, NoteStore
from .standin_api import DEMO_JWT_TEMPLATES, StandInApi

__all__ = ["DEMO_JWT_TEMPLATES", "DEMO_THEME", "create_app"]

HERE = Path(__file__).parent
DEMO_THEME = {
    "color_primary": "#0f766e",
    "dark_color_primary": "#2dd4bf",
    "dark_color_primary_text": "#042f2e",
    "radius": "0.625rem",
}


def create_app(kit: AuthKit) -> Starlette:
    templates = Jinja2Templates(directory=HERE / "templates")
    kit.jinja(templates.env)
    # Teams (authkit's organizations) show in the menu when the site turns them on.
    templates.env.globals["teams"] = kit.settings.organizations
    notes = NoteStore(kit)

    async def home(request: Request) -> Response:
        user = await current_user(request) if auth(request).is_signed_in else None
        return templates.TemplateResponse(request, "home.html", {"user": user})

    @requires_user
    async def notes_page(request: Request) -> Response:
        user = await current_user(request)
        if user is None:
            return RedirectResponse("/auth/sign-in", status_code=303)
        error = None
        draft = ""
        if request.method == "POST":
            form = await request.form()
            draft = str(form.get("body") or "").strip()
            if not kit.csrf_ok(request, form):
                error = "Your form expired. Please try again."
            elif not draft:
                error = "Write something first."
            elif len(draft) > MAX_NOTE_LENGTH:
                error = f"Notes hold at most {MAX_NOTE_LENGTH} characters."
            else:
                await notes.add(user.id, draft)
                return RedirectResponse("/notes", status_code=303)
        context = {"user": user, "notes": await notes.list(user.id), "error": error, "draft": draft}
        status = 422 if error else 200
        return templates.TemplateResponse(request, "notes.html", context, status_code=status)

    @requires_user
    async def account(request: Request) -> Response:
        profile = await load_profile(request)
        user = profile.user if profile else None
        return templates.TemplateResponse(
            request, "account.html", {"user": user, "profile": profile}
        )

    @requires_user
    async def greetings(request: Request) -> Response:
        user = await current_user(request)
        return templates.TemplateResponse(request, "greetings.html", {"user": user})

    standin = StandInApi(kit.settings.base_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await notes.create_table()
        yield
        await kit.aclose()

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/notes", notes_page, methods=["GET", "POST"]),
            Route("/account", account),
            Route("/greetings", greetings),
            Route("/standin-api/greet", standin.greet),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
            Mount("/auth", app=kit),
        ],
        lifespan=lifespan,
    )
    kit.install(app)
    return app
