"""
The request API hosts use: `auth()` (who is asking, no I/O), `current_user()` (one
query), and the guards `requires_user` and `requires_reverification`.

A guard finds the request among the endpoint's arguments by name (`request` or
`websocket`), as Starlette's `requires` does, so it works on endpoints with path
parameters and on FastAPI routes; an endpoint with neither name gets its first argument.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload
from urllib.parse import quote

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, RedirectResponse, Response

from .context import context_of
from .request_auth import AUTH_KEY, USER_KEY, Auth
from .users import User, get_user

__all__ = ["auth", "current_user", "requires_reverification", "requires_user"]

_F = TypeVar("_F", bound=Callable[..., Awaitable[Any]])


def auth(request: HTTPConnection) -> Auth:
    """
    The session of this request: `user_id`, `session_id`, `claims`, `is_signed_in`,
    `factor_age`.

    Raises:
        RuntimeError: the authkit middleware is not installed (call `authkit.install(app)`).
    """
    try:
        state: Auth = request.scope[AUTH_KEY]
    except KeyError:
        raise RuntimeError(
            "authkit's middleware is not installed: call authkit.install(app)"
        ) from None
    return state


async def current_user(request: HTTPConnection) -> User | None:
    """The signed-in user (one query), or None when nobody is signed in."""
    state = auth(request)
    if state.user_id is None:
        return None
    cached = request.scope.get(USER_KEY)
    if isinstance(cached, User) and cached.id == state.user_id:
        return cached
    user = await get_user(context_of(request).services, state.user_id)
    if user is None or user.is_banned:
        return None
    # Kept for this request only, so components (UserButton) show it without a query.
    request.scope[USER_KEY] = user
    return user


def requires_user(endpoint: _F) -> _F:
    """
    Protect an endpoint: without a session, an HTML request is redirected to the sign-in
    page (coming back afterwards), a JSON or htmx request gets 401.
    """
    return _guarded(endpoint, _refuse_signed_out)


@overload
def requires_reverification(endpoint: _F, /) -> _F: ...


@overload
def requires_reverification(*, max_age: int | None = None) -> Callable[[_F], _F]: ...


def requires_reverification(
    endpoint: _F | None = None, /, *, max_age: int | None = None
) -> _F | Callable[[_F], _F]:
    """
    Protect a sensitive endpoint with step-up: the session's first factor must have been
    verified within `max_age` seconds (default `AUTHKIT_REVERIFICATION_WINDOW`), and its
    second factor too when it has one. Otherwise an HTML request goes to the "Confirm
    it's you" page and comes back; a JSON or htmx request gets 403 with
    `{"error": "reverification_required", "reverify_url": ...}`. Without a session it
    behaves as `requires_user`.

        @requires_reverification                  # or @requires_reverification(max_age=300)
        async def delete_project(request): ...

    The check reads the session token's `fva` claim (no I/O), so it may lag by up to one
    token lifetime (60 s by default) in the safe direction: a factor looks older, never
    younger, than it is.
    """

    def decorate(func: _F) -> _F:
        async def refuse(request: HTTPConnection) -> Response | None:
            refused = await _refuse_signed_out(request)
            if refused is not None:
                return refused
            window = max_age
            if window is None:
                window = context_of(request).services.settings.reverification_window
            if is_recently_verified(auth(request), window, now=time.time()):
                return None
            return _reverify_response(request)

        return _guarded(func, refuse)

    return decorate(endpoint) if endpoint is not None else decorate


def is_recently_verified(state: Auth, max_age_seconds: int, *, now: float) -> bool:
    """
    True when the session token says its first factor (and second factor, if it has
    one) were verified within `max_age_seconds`. The token's ages are whole minutes
    at `iat`: the time since `iat` is added and a part-minute counts as a whole one.
    """
    age = state.factor_age
    if age.first is None:
        return False
    elapsed = max(0.0, now - float(state.claims.get("iat", now)))
    oldest = age.first if age.second is None else max(age.first, age.second)
    return (oldest + 1) * 60 + elapsed <= max_age_seconds


Guard = Callable[[HTTPConnection], Awaitable[Response | None]]


def _guarded(endpoint: _F, refuse: Guard) -> _F:
    index = _request_index(endpoint)

    @functools.wraps(endpoint)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        request = kwargs.get("request") or kwargs.get("websocket")
        if request is None and len(args) > index:
            request = args[index]
        if not isinstance(request, HTTPConnection):
            raise TypeError(
                f"{endpoint.__qualname__} is guarded by authkit but was called without "
                "a request: name its parameter `request` (or `websocket`)"
            )
        refused = await refuse(request)
        if refused is not None:
            return refused
        return await endpoint(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def _request_index(endpoint: Callable[..., Any]) -> int:
    for index, parameter in enumerate(inspect.signature(endpoint).parameters.values()):
        if parameter.name in ("request", "websocket"):
            return index
    return 0


def _wants_json(request: HTTPConnection) -> bool:
    accept = request.headers.get("accept", "")
    return bool(request.headers.get("hx-request")) or (
        "application/json" in accept and "text/html" not in accept
    )


def _here(request: HTTPConnection) -> str:
    query = request.url.query
    return quote(request.url.path + (f"?{query}" if query else ""), safe="")


async def _refuse_signed_out(request: HTTPConnection) -> Response | None:
    if auth(request).is_signed_in:
        return None
    if _wants_json(request):
        return JSONResponse({"error": "unauthorized"}, status_code=401)
    mount = context_of(request).mount_path
    return RedirectResponse(f"{mount}/sign-in?redirect_url={_here(request)}", status_code=303)


def _reverify_response(request: HTTPConnection) -> Response:
    url = f"{context_of(request).mount_path}/reverify?redirect_url={_here(request)}"
    if _wants_json(request):
        return JSONResponse(
            {"error": "reverification_required", "reverify_url": url}, status_code=403
        )
    return RedirectResponse(url, status_code=303)
