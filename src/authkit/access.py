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
import typing
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar, overload
from urllib.parse import quote

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from .context import context_of
from .errors import ConfigError
from .request_auth import AUTH_KEY, USER_KEY, Auth
from .users import User, get_user

__all__ = ["auth", "current_user", "requires_org", "requires_reverification", "requires_user"]

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


def requires_org(*, permission: str | None = None, role: str | None = None) -> Callable[[_F], _F]:
    """
    Protect an endpoint for members of the session's active organization, with
    `permission` and/or `role` when given:

        @requires_org(permission="org:invoices:manage")
        async def pay(request): ...

    Without a session it behaves as `requires_user`. Without an active organization an
    HTML request goes to the organizations page to choose one (and comes back); a JSON or
    htmx request gets 403 `{"error": "organization_required", "organizations_url": ...}`.
    In an organization that does not give the permission or role: 403
    `{"error": "forbidden"}` (a page saying so for HTML). The check reads the token's `o`
    claim (no I/O): a changed role shows within one token lifetime.
    """

    def decorate(func: _F) -> _F:
        async def refuse(request: HTTPConnection) -> Response | None:
            refused = await _refuse_signed_out(request)
            if refused is not None:
                return refused
            return organization_refusal(request, permission=permission, role=role)

        return _guarded(func, refuse)

    return decorate


def organization_refusal(
    request: HTTPConnection, *, permission: str | None, role: str | None
) -> Response | None:
    """What `requires_org` answers a signed-in request it refuses; None to let it in."""
    state = auth(request)
    if state.org_id is None:
        url = f"{context_of(request).mount_path}/organizations?redirect_url={_here(request)}"
        if _wants_json(request):
            return JSONResponse(
                {"error": "organization_required", "organizations_url": url}, status_code=403
            )
        return RedirectResponse(url, status_code=303)
    if permission is None and role is None:
        return None
    if state.has(permission=permission, role=role):
        return None
    if _wants_json(request):
        return JSONResponse({"error": "forbidden"}, status_code=403)
    from .web.errors import simple_error_page  # the web package imports this module

    t = context_of(request).services.messages
    return simple_error_page(403, t("org_page_not_permitted"), t=t)


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


#: The parameter a guarded endpoint without one of its own is given, so a framework that
#: injects by signature (FastAPI) hands the wrapper the request.
_INJECTED = "authkit_request"
#: Every endpoint a guard wrapped: found among an app's routes, the guard was applied
#: after the route had registered the unguarded function (`check_guarded_routes`).
_WRAPPED: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()


def _guarded(endpoint: _F, refuse: Guard) -> _F:
    index = _request_index(endpoint)
    _WRAPPED.add(endpoint)

    @functools.wraps(endpoint)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        request = kwargs.pop(_INJECTED, None)
        if request is None:
            request = kwargs.get("request") or kwargs.get("websocket")
        # Starlette passes the request first, whatever the parameter is called.
        position = 0 if index is None else index
        if request is None and len(args) > position:
            request = args[position]
        if not isinstance(request, HTTPConnection):
            raise TypeError(
                f"{endpoint.__qualname__} is guarded by authkit but was called without "
                "a request: name its parameter `request` (or `websocket`)"
            )
        refused = await refuse(request)
        if refused is not None:
            return refused
        return await endpoint(*args, **kwargs)

    guarded.__signature__ = _signature_for(endpoint, needs_request=index is None)  # type: ignore[attr-defined]
    return guarded  # type: ignore[return-value]


def _request_index(endpoint: Callable[..., Any]) -> int | None:
    """Where the endpoint takes its request (or websocket), as Starlette's `requires`
    finds it: by name, or by a Request/WebSocket annotation; None when it takes none."""
    hints = _hints(endpoint)
    for index, parameter in enumerate(inspect.signature(endpoint).parameters.values()):
        annotation = hints.get(parameter.name)
        if parameter.name in ("request", "websocket") or (
            isinstance(annotation, type) and issubclass(annotation, HTTPConnection)
        ):
            return index
    return None


def _signature_for(endpoint: Callable[..., Any], *, needs_request: bool) -> inspect.Signature:
    """The endpoint's signature with its annotations resolved where the endpoint was
    written (the wrapper lives in another module), plus a request parameter when it has
    none: FastAPI then injects the request, and the path parameters pass through."""
    signature = inspect.signature(endpoint)
    hints = _hints(endpoint)
    parameters = [
        p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()
    ]
    if needs_request:
        extra = inspect.Parameter(_INJECTED, inspect.Parameter.KEYWORD_ONLY, annotation=Request)
        # Keyword-only parameters go before a **kwargs one.
        at = next(
            (i for i, p in enumerate(parameters) if p.kind == inspect.Parameter.VAR_KEYWORD),
            len(parameters),
        )
        parameters.insert(at, extra)
    return signature.replace(
        parameters=parameters,
        return_annotation=hints.get("return", signature.return_annotation),
    )


def _hints(endpoint: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(endpoint, include_extras=True)
    except (NameError, TypeError, AttributeError):
        # An annotation that does not resolve (a name imported only for type checking):
        # the parameters keep their annotations as written.
        return {}


def check_guarded_routes(app: object) -> None:
    """
    Refuse to start when a route serves an endpoint unguarded because the guard was
    written above the route decorator (`@requires_user` over `@app.get(...)`: the route
    registered the function before the guard wrapped it).

    Raises:
        ConfigError: naming the endpoint and the order to write.
    """
    for endpoint in _route_endpoints(getattr(app, "routes", ()) or ()):
        if endpoint in _WRAPPED:
            name = getattr(endpoint, "__qualname__", repr(endpoint))
            raise ConfigError(
                f"{name} is served unprotected: @requires_user (or @requires_reverification) "
                "is written above the route decorator, so the route registered the function "
                "before it was guarded. Put the guard below the route decorator."
            )


def _route_endpoints(routes: Iterable[Any], depth: int = 0) -> Iterator[Any]:
    if depth > 16:
        return
    for route in routes:
        endpoint = getattr(route, "endpoint", None)
        if endpoint is not None:
            yield endpoint
        nested = getattr(route, "routes", None)
        if nested is None:
            nested = getattr(getattr(route, "app", None), "routes", None)
        if nested:
            yield from _route_endpoints(nested, depth + 1)


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
