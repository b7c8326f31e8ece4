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

from authkit import (
    AuthKit,
    auth,
    current_user,
    load_organizations,
    load_profile,
    requires_org,
    requires_reverification,
    requires_user,
)


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


@requires_org(permission="org:invoices:manage")
async def org_invoices(request: Request) -> Response:
    a = auth(request)
    return JSONResponse(
        {
            "org_id": a.org_id,
            "org_slug": a.org_slug,
            "org_role": a.org_role,
            "can_read": a.has(permission="org:invoices:read"),
        }
    )


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

#: Two components side by side, and the same component twice: every id stays unique.
BOTH_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Both forms</title>{{ authkit.head() }}</head>
<body><main><h1>Both forms</h1>
{{ authkit.sign_in() }}{{ authkit.sign_up() }}{{ authkit.sign_in() }}
</main></body></html>"""

# A site header holding the UserButton at its left or right end or centred (`?side=`), with a link
# after it: where the menu opens, and what Tab and an outside click reach.
HEADER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Header page</title>{{ authkit.head() }}
<style>
body { margin: 0; font-family: system-ui, sans-serif; }
header { display: flex; align-items: center; gap: 1rem; padding: 0.5rem 0.75rem;
  border-bottom: 1px solid #ccc; }
header.right { flex-direction: row-reverse; }
header.center { justify-content: center; }
@media (prefers-color-scheme: dark) { body { background: #0b0d12; color: #f3f4f6; }
  a { color: #93c5fd; } }
</style></head>
<body><header class="{{ side }}">{{ authkit.user_button(user) }}<a href="/elsewhere">Elsewhere</a>
</header><main><h1>Header page</h1><p id="outside">Some text outside the menu.</p></main>
</body></html>"""


#: The UserProfile inside a host page: its sections switch with `?ak_section=`.
PROFILE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Account</title>{{ authkit.head() }}</head>
<body><main><h1>Account settings</h1>{{ authkit.user_profile(profile) }}</main></body></html>"""


#: The organization components inside a host page: the switcher in its header, the active
#: organization's profile, and the form to create one.
TEAM_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Team</title>{{ authkit.head() }}
<style>@media (prefers-color-scheme: dark) { body { background: #0b0d12; color: #f3f4f6; } }</style>
</head>
<body><header>{{ authkit.organization_switcher(orgs) }}</header>
<main><h1>Team settings</h1>{{ authkit.organization_profile(orgs) }}
{{ authkit.create_organization() }}</main></body></html>"""


def make_host_app(kit: AuthKit, mount_path: str = "/auth") -> Starlette:
    env = jinja2.Environment(
        loader=jinja2.DictLoader(
            {
                "embedded.html": EMBEDDED_PAGE,
                "both.html": BOTH_PAGE,
                "header.html": HEADER_PAGE,
                "profile.html": PROFILE_PAGE,
                "team.html": TEAM_PAGE,
            }
        ),
        autoescape=True,
    )
    kit.jinja(env)

    async def embedded(request: Request) -> Response:
        user = await current_user(request)
        html = env.get_template("embedded.html").render(request=request, user=user)
        return HTMLResponse(html)

    async def header(request: Request) -> Response:
        user = await current_user(request)
        side = request.query_params.get("side", "left")
        side = side if side in {"left", "right", "center"} else "left"
        html = env.get_template("header.html").render(request=request, user=user, side=side)
        return HTMLResponse(html)

    @requires_user
    async def profile_page(request: Request) -> Response:
        profile = await load_profile(request)
        html = env.get_template("profile.html").render(request=request, profile=profile)
        return HTMLResponse(html)

    @requires_user
    async def team_page(request: Request) -> Response:
        orgs = await load_organizations(request)
        html = env.get_template("team.html").render(request=request, orgs=orgs)
        return HTMLResponse(html)

    async def both(request: Request) -> Response:
        return HTMLResponse(env.get_template("both.html").render(request=request))

    async def cdn_cached(request: Request) -> Response:
        """A host page its CDN may keep: the same bytes for everyone."""
        return HTMLResponse("<p>News</p>", headers={"Cache-Control": "s-maxage=60"})

    app = Starlette(
        routes=[
            Route("/embedded", embedded),
            Route("/header", header),
            Route("/both", both),
            Route("/cdn-cached", cdn_cached),
            Route("/embedded-profile", profile_page),
            Route("/team", team_page),
            Route("/", home),
            Route("/dashboard", dashboard),
            Route("/api/me", api_me),
            Route("/org/invoices", org_invoices),
            Route("/sensitive", sensitive),
            Route("/boom", boom),
            WebSocketRoute("/ws", who_is_on_the_socket),
            Route("/very-sensitive", very_sensitive),
            Mount(mount_path, app=kit),
        ]
    )
    kit.install(app)
    return app
