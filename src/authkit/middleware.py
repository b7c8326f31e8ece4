"""
The per-request session check (pure ASGI) and the request API hosts use: `auth()`,
`current_user()` and `requires_user`.

A valid `__session` JWT is a signature check and nothing else: no database. Only when
it has expired (or is missing) and a `__refresh` cookie is present does the middleware
load the session row once, mint a new token and set it on this same response.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .clock import system_clock
from .cookies import (
    REFRESH_COOKIE,
    SESSION_COOKIE,
    CookieMemo,
    clear_cookie,
    one_cookie,
    parse_cookies,
    set_cookie,
)
from .errors import StoreError, TokenError
from .request_auth import ANONYMOUS, Auth
from .security.csrf import CSRF_COOKIE, CsrfGuard
from .sessions import RequestMeta, SessionStart, refresh_session
from .users import User, get_user

if TYPE_CHECKING:
    from .app import AuthKit
    from .services import Services

__all__ = [
    "ANONYMOUS",
    "Auth",
    "AuthKitMiddleware",
    "auth",
    "current_user",
    "request_cookies",
    "requires_user",
]

logger = logging.getLogger("authkit.sessions")

AUTH_KEY = "authkit.auth"
KIT_KEY = "authkit.kit"
COOKIES_KEY = "authkit.cookies"
USER_KEY = "authkit.user"


def auth(request: HTTPConnection) -> Auth:
    """
    The session of this request: `user_id`, `session_id`, `claims`, `is_signed_in`.

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
    kit: AuthKit = request.scope[KIT_KEY]
    cached = request.scope.get(USER_KEY)
    if isinstance(cached, User) and cached.id == state.user_id:
        return cached
    user = await get_user(kit.services, state.user_id)
    if user is None or user.is_banned:
        return None
    # Kept for this request only, so components (UserButton) show it without a query.
    request.scope[USER_KEY] = user
    return user


Endpoint = Callable[[Request], Awaitable[Response]]


def requires_user(endpoint: Endpoint) -> Endpoint:
    """
    Protect an endpoint: without a session, an HTML request is redirected to the sign-in
    page (coming back afterwards), a JSON or htmx request gets 401.
    """

    @functools.wraps(endpoint)
    async def protected(request: Request) -> Response:
        if auth(request).is_signed_in:
            return await endpoint(request)
        accept = request.headers.get("accept", "")
        if request.headers.get("hx-request") or (
            "application/json" in accept and "text/html" not in accept
        ):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        kit: AuthKit = request.scope[KIT_KEY]
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = f"{kit.services.mount_path}/sign-in?redirect_url={quote(here, safe='')}"
        return RedirectResponse(target, status_code=303)

    return protected


class AuthKitMiddleware:
    """Installed by `AuthKit.install(app)`; verifies the session on every request."""

    def __init__(self, app: ASGIApp, *, kit: AuthKit) -> None:
        self.app = app
        self.kit = kit
        # One refresh per refresh token at a time in this process; others await it.
        self._refreshing: dict[str, asyncio.Future[SessionStart | None]] = {}
        self._session_cookie = CookieMemo(SESSION_COOKIE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        kit = self.kit
        if not kit.is_started:
            try:
                await kit.ensure_started()
            except StoreError:
                logger.warning("authkit start-up failed: database unavailable")
        svc = kit.services
        scope[KIT_KEY] = kit
        # Only the session cookie is read here; the rest wait for whoever needs them
        # (request_cookies), so a site's other cookies cost this check nothing.
        raw_cookies = _header(scope, b"cookie")
        state = ANONYMOUS
        extra: list[bytes] = []
        secure = svc.settings.is_https

        token = self._session_cookie[raw_cookies] if raw_cookies else None
        if token:
            try:
                # The system clock without building a datetime: this is the hot path.
                now = time.time() if svc.clock is system_clock else svc.clock().timestamp()
                state = svc.keyring.verify_session_token(token, now_timestamp=now).auth
            except TokenError:
                state = ANONYMOUS
        if state is ANONYMOUS:
            refresh = one_cookie(raw_cookies, REFRESH_COOKIE) if raw_cookies else None
            if refresh:
                state, extra = await self._refresh(svc, refresh, secure, scope)
            elif token:
                extra = [clear_cookie(SESSION_COOKIE, secure=secure)]
        scope[AUTH_KEY] = state

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                csrf_value = CsrfGuard.new_cookie_value(scope)
                if extra or csrf_value is not None:
                    headers = list(message.get("headers", []))
                    # The endpoint's own cookies (a sign-in's session, a rotated CSRF
                    # secret) have the last word: browsers apply Set-Cookie in order, so
                    # ours must not undo them.
                    own = {
                        value.split(b"=", 1)[0]
                        for name, value in headers
                        if name.lower() == b"set-cookie"
                    }
                    if csrf_value is not None:
                        extra.append(
                            set_cookie(CSRF_COOKIE, csrf_value, max_age=None, secure=secure)
                        )
                    headers.extend(
                        (b"set-cookie", value)
                        for value in extra
                        if value.split(b"=", 1)[0] not in own
                    )
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookies)

    async def _refresh(
        self, svc: Services, refresh: str, secure: bool, scope: Scope
    ) -> tuple[Auth, list[bytes]]:
        try:
            start = await self._refresh_once(svc, refresh, request_meta(self.kit, scope))
        except StoreError:
            # Fail closed but keep the cookies: once the database is back, so is the user.
            logger.warning("session refresh failed: database unavailable")
            return ANONYMOUS, []
        if start is None:
            return ANONYMOUS, [
                clear_cookie(SESSION_COOKIE, secure=secure),
                clear_cookie(REFRESH_COOKIE, secure=secure),
            ]
        return (
            Auth(start.user_id, start.session_id, start.claims),
            [
                set_cookie(SESSION_COOKIE, start.session_token, max_age=None, secure=secure),
                set_cookie(
                    REFRESH_COOKIE,
                    start.refresh_token,
                    max_age=start.refresh_max_age,
                    secure=secure,
                ),
            ],
        )

    async def _refresh_once(
        self, svc: Services, refresh: str, meta: RequestMeta
    ) -> SessionStart | None:
        pending = self._refreshing.get(refresh)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[SessionStart | None] = asyncio.get_running_loop().create_future()
        self._refreshing[refresh] = future
        try:
            result = await refresh_session(svc, refresh, meta)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._refreshing[refresh]


def request_cookies(scope: Scope) -> Mapping[str, str]:
    """The request's cookies (`parse_cookies`: a name sent twice counts as absent), parsed
    on first use and kept for the rest of the request."""
    cookies: Mapping[str, str] | None = scope.get(COOKIES_KEY)
    if cookies is None:
        cookies = scope[COOKIES_KEY] = parse_cookies(_header(scope, b"cookie"))
    return cookies


def request_meta(kit: AuthKit, scope: Scope) -> RequestMeta:
    """Who is asking, for the session row and the audit log: the client IP (through
    trusted proxies only) and the user agent."""
    client = scope.get("client")
    forwarded = _header(scope, b"x-forwarded-for")
    return RequestMeta(
        ip_address=kit.trusted_proxies.client_ip(
            client[0] if client else "", forwarded.decode("latin-1") if forwarded else None
        ),
        user_agent=(_header(scope, b"user-agent") or b"")[:512].decode("latin-1"),
    )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None
