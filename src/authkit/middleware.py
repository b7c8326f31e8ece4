"""
The per-request session check (pure ASGI). The request API built on it (`auth()`,
`current_user()`, the guards) lives in access.py.

A valid session JWT (`__session`; `__Host-session` on https, see cookies.CookieNames)
is a signature check and nothing else: no database. Only when it has expired (or is
missing) and a refresh cookie is present does the middleware load the session row once,
mint a new token and set it on this same response; the refresh token's rotation is
recorded only as that response starts, so a response that never carries the new cookie
rotates nothing, and a response that shared caches may store (`public`, `s-maxage`)
carries no cookie at all. WebSockets are authenticated by the session cookie alone: a handshake
cannot be relied on to set cookies, so it never refreshes (a page opens its socket right
after loading, with a fresh token).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from starlette.authentication import AuthCredentials, BaseUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .access import check_guarded_routes
from .clock import system_clock
from .context import CONTEXT_KEY, KitContext, header, request_meta
from .cookies import MEMO_MAX_HEADER, CookieMemo, clear_cookie, one_cookie, set_cookie
from .errors import StoreError, TokenError
from .i18n.locales import CHOOSER_KEY, reset_locale, set_request_scope
from .request_auth import ANONYMOUS, AUTH_KEY, Auth
from .security.csrf import CsrfGuard
from .services import Services
from .sessions import (
    PendingRotation,
    RequestMeta,
    SessionStart,
    commit_rotation,
    refresh_session,
)

__all__ = ["AuthKitMiddleware", "Startable"]

logger = logging.getLogger("authkit.sessions")


class Startable(Protocol):
    """What the middleware needs of an AuthKit: its context, and starting it once."""

    context: KitContext
    is_started: bool

    async def ensure_started(self) -> None: ...


class SessionUser(BaseUser):
    """`request.user` for Starlette's conventions: signed in or not, and the user id
    (no query: `current_user(request)` loads the rest)."""

    __slots__ = ("_auth",)

    def __init__(self, state: Auth) -> None:
        self._auth = state

    @property
    def is_authenticated(self) -> bool:
        return self._auth.is_signed_in

    @property
    def display_name(self) -> str:
        return self._auth.user_id or ""

    @property
    def identity(self) -> str:
        return self._auth.user_id or ""


class AuthKitMiddleware:
    """Installed by `AuthKit.install(app)`; verifies the session on every request."""

    def __init__(self, app: ASGIApp, *, kit: Startable) -> None:
        self._routes_checked = False
        self.app = app
        self.kit = kit
        # One refresh per refresh token at a time in this process; others await it.
        self._refreshing: dict[str, asyncio.Future[SessionStart | None]] = {}
        # The site's cookie names: settings are fixed once the kit is built.
        self.names = kit.context.services.settings.cookie_names
        self._session_cookie = CookieMemo(self.names.session)
        self._refresh_prefix = self.names.refresh.encode() + b"="

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._routes_checked:
            # Once, at start-up (lifespan) or else on the first request: a route that
            # serves a guarded endpoint unguarded stops the app here, loudly.
            self._routes_checked = True
            check_guarded_routes(scope.get("app"))
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        kit = self.kit
        if not kit.is_started:
            try:
                await kit.ensure_started()
            except StoreError as exc:
                cause = exc.__cause__
                detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
                logger.warning("authkit start-up failed: %s%s", exc, detail)
        context = kit.context
        svc = context.services
        scope[CONTEXT_KEY] = context
        # Only the session cookie is read here; the rest wait for whoever needs them
        # (request_cookies), so a site's other cookies cost this check nothing.
        raw_cookies = header(scope, b"cookie")
        state = ANONYMOUS
        extra: list[bytes] = []
        rotation: PendingRotation | None = None
        names = self.names
        secure = names.secure  # Secure exactly when the names are __Host- ones
        if not raw_cookies:
            token = None
        elif len(raw_cookies) <= MEMO_MAX_HEADER:
            token = self._session_cookie[raw_cookies]
        else:  # never remembered, and hashing it for the lookup costs more than reading it
            token = one_cookie(raw_cookies, names.session)
        if token:
            try:
                # The system clock without building a datetime: this is the hot path.
                now = time.time() if svc.clock is system_clock else svc.clock().timestamp()
                state = svc.keyring.verify_session_token(token, now_timestamp=now).auth
            except TokenError:
                state = ANONYMOUS
        if state is ANONYMOUS:
            refresh = one_cookie(raw_cookies, names.refresh) if raw_cookies else None
            if refresh and scope["type"] == "http":
                state, extra, rotation = await self._refresh(svc, refresh, secure, scope)
            elif token and scope["type"] == "http":
                extra = [clear_cookie(names.session, secure=secure)]
        scope[AUTH_KEY] = state
        if "user" not in scope:
            # Starlette's own conventions, as its AuthenticationMiddleware fills them:
            # request.user.is_authenticated and starlette.authentication.requires work
            # (an authentication middleware of the host's own, outside, keeps its user).
            scope["user"] = SessionUser(state)
            scope["auth"] = AuthCredentials(["authenticated"] if state.is_signed_in else [])

        async def send_with_cookies(message: Message) -> None:
            nonlocal extra
            if message["type"] == "http.response.start":
                if _shared_cacheable(message):
                    # A CDN may keep this response and hand it to everyone: it must
                    # carry nobody's cookies, and a rotation it cannot deliver is not
                    # recorded (the browser keeps its refresh token).
                    await send(message)
                    return
                if rotation is not None and not await _committed(svc, rotation):
                    # Not recorded: the next refresh token would be refused, so the
                    # browser keeps the one it has (the new session token still goes).
                    extra = [c for c in extra if not c.startswith(self._refresh_prefix)]
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
                            set_cookie(names.csrf, csrf_value, max_age=None, secure=secure)
                        )
                    headers.extend(
                        (b"set-cookie", value)
                        for value in extra
                        if value.split(b"=", 1)[0] not in own
                    )
                    message = {**message, "headers": headers}
            await send(message)

        # The request's language is worked out only if a sentence is needed.
        scope[CHOOSER_KEY] = svc.locales.choose
        language = set_request_scope(scope)
        try:
            await self.app(scope, receive, send_with_cookies)
        finally:
            reset_locale(language)

    async def _refresh(
        self, svc: Services, refresh: str, secure: bool, scope: Scope
    ) -> tuple[Auth, list[bytes], PendingRotation | None]:
        try:
            start = await self._refresh_once(svc, refresh, request_meta(self.kit.context, scope))
        except StoreError:
            # Fail closed but keep the cookies: once the database is back, so is the user.
            logger.warning("session refresh failed: database unavailable")
            return ANONYMOUS, [], None
        names = self.names
        if start is None:
            return (
                ANONYMOUS,
                [
                    clear_cookie(names.session, secure=secure),
                    clear_cookie(names.refresh, secure=secure),
                ],
                None,
            )
        return (
            Auth(start.user_id, start.session_id, start.claims),
            [
                set_cookie(names.session, start.session_token, max_age=None, secure=secure),
                set_cookie(
                    names.refresh,
                    start.refresh_token,
                    max_age=start.refresh_max_age,
                    secure=secure,
                ),
            ],
            start.rotation,
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


def _shared_cacheable(message: Message) -> bool:
    """Whether the response lets shared caches store it (`public` or `s-maxage`)."""
    for name, value in message.get("headers", ()):
        if name.lower() == b"cache-control":
            directives = value.lower()
            if b"public" in directives or b"s-maxage" in directives:
                return True
    return False


async def _committed(svc: Services, rotation: PendingRotation) -> bool:
    try:
        return await commit_rotation(svc, rotation)
    except StoreError:
        logger.warning("session refresh not recorded: database unavailable")
        return False
