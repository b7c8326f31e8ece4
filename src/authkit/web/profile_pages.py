"""
The guards every profile page shares: a signed-in user whose account still exists, and,
for the sensitive pages, a recent "Confirm it's you" (reverify.py) before GET or POST.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from ..access import current_user, requires_user
from ..context import context_of
from ..users import User
from .helpers import redirect
from .reverify import require_reverification

__all__ = ["Endpoint", "UserHandler", "needs_recent_confirmation", "signed_in_page"]

#: A profile page's handler: the request and the signed-in user.
UserHandler = Callable[[Request, User], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def signed_in_page(handler: UserHandler) -> Endpoint:
    """An endpoint for signed-in users only, handed their `User`."""

    @requires_user
    async def endpoint(request: Request) -> Response:
        user = await current_user(request)
        if user is None:
            # The token is valid but the account is gone or banned: start over.
            return redirect(request, f"{context_of(request).mount_path}/sign-in")
        return await handler(request, user)

    return endpoint


def needs_recent_confirmation(path: str) -> Callable[[UserHandler], Endpoint]:
    """A signed-in page whose GET and POST need a recent "Confirm it's you" first;
    `path` (under the mount) is where the confirmation carries on to."""

    def decorate(handler: UserHandler) -> Endpoint:
        async def checked(request: Request, user: User) -> Response:
            refused = await require_reverification(request, path)
            if refused is not None:
                return refused
            return await handler(request, user)

        return signed_in_page(checked)

    return decorate
