"""
authkit for FastAPI: dependencies that read the session the middleware already checked
(`pip install 'authkit[fastapi]'`).

    from authkit.fastapi import CurrentUser, SignedIn, requires_reverification

    @app.get("/me")
    async def me(user: CurrentUser):                  # one query for the user
        return {"email": user.email}

    @app.get("/items/{item_id}")
    async def item(item_id: int, session: SignedIn):  # no I/O: the session's token
        return {"item_id": item_id, "user_id": session.user_id}

    @app.delete("/projects/{project_id}", dependencies=[requires_reverification()])
    async def delete_project(project_id: int): ...

Without a session, a JSON (or htmx) request gets 401 and an HTML request a redirect to
the sign-in page and back, as `@requires_user` answers; without a recent "Confirm it's
you", 403 or the redirect to it. Each dependency shows in OpenAPI as the session cookie.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.params import Depends as DependsParam
from fastapi.security import APIKeyCookie
from starlette.responses import JSONResponse, Response

from .access import (
    _refuse_signed_out,
    _reverify_response,
    _wants_json,
    auth,
    current_user,
    is_recently_verified,
    organization_refusal,
)
from .context import context_of
from .request_auth import Auth
from .users import User

__all__ = ["CurrentUser", "SignedIn", "requires_org", "requires_reverification", "session_cookie"]

#: The session cookie as an OpenAPI security scheme (documentation: the middleware reads
#: it). `__Host-session` on an https site.
session_cookie = APIKeyCookie(
    name="__session",
    scheme_name="authkit session",
    description=(
        "authkit's session: the `__Host-session` cookie on https (`__session` on http), "
        "set by signing in at /auth/sign-in."
    ),
    auto_error=False,
)


def _as_exception(response: Response) -> HTTPException:
    """A guard's answer as FastAPI raises it: the redirect with its Location, or the
    JSON error as the detail."""
    headers = {"Location": response.headers["location"]} if "location" in response.headers else None
    detail: Any = None
    if isinstance(response, JSONResponse):
        detail = json.loads(bytes(response.body))
    return HTTPException(status_code=response.status_code, detail=detail, headers=headers)


async def _signed_in(
    request: Request, _cookie: Annotated[str | None, Security(session_cookie)] = None
) -> Auth:
    refused = await _refuse_signed_out(request)
    if refused is not None:
        raise _as_exception(refused)
    return auth(request)


async def _current_user(request: Request, session: Annotated[Auth, Depends(_signed_in)]) -> User:
    user = await current_user(request)
    if user is None:
        # The token is valid but the account is gone or banned: as if signed out.
        if _wants_json(request):
            raise HTTPException(status_code=401, detail={"error": "unauthorized"})
        mount = context_of(request).mount_path
        raise HTTPException(status_code=303, headers={"Location": f"{mount}/sign-in"})
    return user


#: The session of a signed-in request (no I/O): `.user_id`, `.session_id`, `.claims`.
SignedIn = Annotated[Auth, Depends(_signed_in)]
#: The signed-in user, loaded (one query).
CurrentUser = Annotated[User, Depends(_current_user)]


def requires_reverification(*, max_age: int | None = None) -> DependsParam:
    """
    A dependency for sensitive endpoints: the session verified its factors within
    `max_age` seconds (default `AUTHKIT_REVERIFICATION_WINDOW`), else 403 with
    `reverify_url` for JSON or the redirect to "Confirm it's you" for HTML.
    """

    async def reverified(request: Request, session: Annotated[Auth, Depends(_signed_in)]) -> Auth:
        window = max_age
        if window is None:
            window = context_of(request).services.settings.reverification_window
        if not is_recently_verified(session, window, now=time.time()):
            raise _as_exception(_reverify_response(request))
        return session

    dependency: DependsParam = Depends(reverified)
    return dependency


def requires_org(*, permission: str | None = None, role: str | None = None) -> DependsParam:
    """
    A dependency for organization endpoints: the session has an active organization
    that gives it `permission` and/or `role` (when given). Without an active
    organization, 403 with `organizations_url` for JSON or the redirect to choose one for
    HTML; without the permission or role, 403. Returns the session's `Auth`.

        @app.post("/invoices", dependencies=[requires_org(permission="org:invoices:manage")])
    """

    async def in_organization(
        request: Request, session: Annotated[Auth, Depends(_signed_in)]
    ) -> Auth:
        refused = organization_refusal(request, permission=permission, role=role)
        if refused is not None:
            raise _as_exception(refused)
        return session

    dependency: DependsParam = Depends(in_organization)
    return dependency
