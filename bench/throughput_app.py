"""
The small host app that `bench/throughput.py` serves with uvicorn: authkit mounted at
`/auth`, its middleware installed, and three routes that all answer "ok":

- `/bare`: no auth call (the middleware still runs, as it does for every route);
- `/public`: calls `auth(request)` and answers whatever it says;
- `/protected`: decorated with `requires_user`.

The three share one Starlette route, `/{name}`, that picks the endpoint from a dict:
Starlette tries its routes in order, each miss costing a regex match, so with a route
each a later one would pay for the ones before it (seen: 2-3 µs per request, as much as
the session check itself) and the comparison would measure the route table, not authkit.

Configured only through `AUTHKIT_*` variables (`AuthKit.from_env`), so every uvicorn
worker builds the same kit on the same database and signing keys. Not meant to be run by
itself: `uvicorn --app-dir bench --factory throughput_app:create_app`.

`create_signin_storm_app` is the same app for `bench/signin_storm.py`, with sign-in rate
limits high enough that its tight sign-in loops are never refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from authkit import AuthKit, auth, requires_user


async def bare(request: Request) -> Response:
    return PlainTextResponse("ok")


async def public(request: Request) -> Response:
    return PlainTextResponse("ok" if auth(request).is_signed_in else "ok (anonymous)")


@requires_user
async def protected(request: Request) -> Response:
    return PlainTextResponse("ok")


ENDPOINTS = {"bare": bare, "public": public, "protected": protected}


async def dispatch(request: Request) -> Response:
    endpoint = ENDPOINTS.get(request.path_params["name"])
    if endpoint is None:
        return PlainTextResponse("not found", status_code=404)
    return await endpoint(request)


#: For bench/signin_storm.py only: its loops sign in several times a second from one IP, far
#: past the defaults (30 a minute per IP), and would get 429s within seconds.
GENEROUS_RATE_LIMITS: Mapping[str, str] = {
    "sign_in:ip": "100000/minute",
    "sign_in:account": "100000/minute",
}


def create_app(rate_limits: Mapping[str, str] | None = None) -> Starlette:
    kit = AuthKit.from_env(rate_limits=rate_limits)
    app = Starlette(
        routes=[
            Mount("/auth", app=kit),
            Route("/{name}", dispatch),
        ]
    )
    kit.install(app)
    return app


def create_signin_storm_app() -> Starlette:
    return create_app(rate_limits=GENEROUS_RATE_LIMITS)
