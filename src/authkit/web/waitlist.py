"""
The waitlist (`AUTHKIT_SIGN_UP=waitlist`): `GET/POST /waitlist`, and the sign-up page
shows it too to anyone without an invitation. Joining answers the same for every
address (new, already waiting, already an account): the page tells nobody anything.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..context import context_of
from ..flows.sign_up_access import join_waitlist
from ..forms import WaitlistForm
from .bot_check import evidence_of
from .form_post import Posted, post_form
from .helpers import meta_of, page

__all__ = ["waitlist_endpoint", "waitlist_page"]

TEMPLATE = "waitlist"


def waitlist_page(
    request: Request,
    form: WaitlistForm | None = None,
    *,
    errors: dict[str, str] | None = None,
    joined: bool = False,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        TEMPLATE,
        form=form or WaitlistForm(),
        errors=errors or {},
        joined=joined,
        status_code=status_code,
    )


async def waitlist_endpoint(request: Request) -> Response:
    """GET the form; POST `email`: on the list (the same answer whatever the address)."""
    if context_of(request).services.settings.sign_up != "waitlist":
        raise HTTPException(404)
    if request.method != "POST":
        return waitlist_page(request)

    async def render(form: WaitlistForm, errors: dict[str, str], status: int) -> Response:
        return waitlist_page(request, form, errors=errors, status_code=status)

    async def action(posted: Posted[WaitlistForm]) -> Response:
        await join_waitlist(
            context_of(request).services,
            email=str(posted.form.email.data or ""),
            meta=meta_of(request),
            evidence=evidence_of(posted.form),
        )
        return waitlist_page(request, WaitlistForm(), joined=True)

    return await post_form(request, WaitlistForm, render, action)
