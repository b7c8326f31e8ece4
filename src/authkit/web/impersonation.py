"""
Impersonation over HTTP. An admin's "Sign in as this user" (an admin action) gives the
browser the user's session and keeps the admin's own refresh token aside in a cookie of
its own; "Stop impersonating" (`POST /impersonation/stop`, from the banner every authkit
page and the UserButton show) ends that session and gives the admin's back. While
impersonating, the pages that change the password, factors or addresses answer 403.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..access import auth
from ..context import context_of
from ..cookies import set_cookie
from ..flows.impersonation import start_impersonation, stop_impersonation
from ..forms import ConfirmForm
from ..request_auth import ANONYMOUS, AUTH_KEY, Auth
from ..users import User
from .errors import simple_error_page
from .form_post import Posted, post_form
from .helpers import (
    ACTOR_COOKIE,
    clear_session_cookies,
    meta_of,
    redirect,
    set_session_cookies,
)

__all__ = ["ACTOR_COOKIE", "ImpersonationGuard", "impersonate", "stop_endpoint"]

#: Paths (under the mount) an impersonation session may not use, whatever the method:
#: the password, factors, passkeys, devices, addresses, connected accounts, deleting
#: the account, and "Confirm it's you" (which only the user can do).
REFUSED_PREFIXES = (
    "/user/security/",
    "/user/emails/",
    "/user/connected-accounts/",
    "/passkeys/register/",
    "/reverify",
)
#: Under those, pages that only show: allowed.
ALLOWED_PATHS = frozenset({"/user/security/activity"})


async def impersonate(request: Request, admin: User, user_id: str) -> Response:
    """The admin's browser becomes signed in as `user_id`, the admin's refresh token
    kept aside; on to the site's after-sign-in page.

    Raises:
        FlowError: the admin's own account, or no such user (banned or gone).
    """
    svc = context_of(request).services
    state = auth(request)
    start = await start_impersonation(
        svc,
        admin_id=admin.id,
        admin_session_id=state.session_id or "",
        user_id=user_id,
        meta=meta_of(request),
    )
    response = redirect(request, svc.settings.after_sign_in_url)
    names = svc.settings.cookie_names
    own_refresh = request.cookies.get(names.refresh)
    if own_refresh:
        response.raw_headers.append(
            (
                b"set-cookie",
                set_cookie(
                    names.of(ACTOR_COOKIE),
                    own_refresh,
                    max_age=svc.settings.session_lifetime,
                    secure=names.secure,
                    path=names.path(svc.mount_path),
                ),
            )
        )
    set_session_cookies(response, request, start)
    return response


async def stop_endpoint(request: Request) -> Response:
    """POST `/impersonation/stop`: end the impersonation session and, where the admin's
    refresh token was kept aside in this browser, sign the admin back in with it."""
    svc = context_of(request).services
    state = auth(request)
    actor = state.actor
    if actor is None or state.user_id is None or state.session_id is None:
        return redirect(request, svc.settings.home_url)
    user_id, session_id = state.user_id, state.session_id

    async def render(form: ConfirmForm, errors: dict[str, str], status: int) -> Response:
        return simple_error_page(status, errors.get("__all__", ""), t=svc.messages)

    async def act(posted: Posted[ConfirmForm]) -> Response:
        await stop_impersonation(
            svc,
            user_id=user_id,
            session_id=session_id,
            admin_id=actor.user_id,
            meta=meta_of(request),
        )
        names = svc.settings.cookie_names
        kept = request.cookies.get(names.of(ACTOR_COOKIE))
        response = redirect(request, f"{svc.mount_path}/admin/users/{user_id}")
        clear_session_cookies(response, request)  # the kept token's cookie too
        if kept:
            # The next request refreshes the admin's own session from it.
            response.raw_headers.append(
                (
                    b"set-cookie",
                    set_cookie(
                        names.refresh,
                        kept,
                        max_age=svc.settings.session_lifetime,
                        secure=names.secure,
                    ),
                )
            )
        return response

    return await post_form(request, ConfirmForm, render, act)


class ImpersonationGuard:
    """Wraps the sub-app's routes: an impersonation session gets a 403 page with a
    sentence on the pages it may not use."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state: Auth = scope.get(AUTH_KEY, ANONYMOUS)
            if state.actor is not None and _refused(scope):
                svc = context_of(Request(scope)).services
                page = simple_error_page(403, svc.messages("impersonation_refused"), t=svc.messages)
                await page(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _refused(scope: Scope) -> bool:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    if path in ALLOWED_PATHS:
        return False
    return path.startswith(REFUSED_PREFIXES)
