"""
The Security section's devices and activity: sign out another device (`POST
/user/security/sessions/<id>/revoke`), every other device (`/user/security/sessions/
revoke-others`, after "Confirm it's you"), and the full activity list, paged
(`/user/security/activity`). Each change comes back to the security page with a notice,
swapped in place with htmx, a plain redirect without JavaScript.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from ..access import auth
from ..context import context_of
from ..flows.activity import activity_page
from ..flows.devices import revoke_device, revoke_other_devices
from ..forms import ConfirmForm
from ..users import User
from .confirm import confirm_then
from .form_post import Posted, post_form
from .helpers import meta_of, page, redirect
from .profile_pages import needs_recent_confirmation, signed_in_page
from .security import SECURITY_PATH, security_page

__all__ = ["activity_endpoint", "revoke_device_endpoint", "revoke_others_endpoint"]

SESSIONS_PATH = SECURITY_PATH + "/sessions"
ACTIVITY_PATH = SECURITY_PATH + "/activity"


@signed_in_page
async def revoke_device_endpoint(request: Request, user: User) -> Response:
    """
    POST `/user/security/sessions/<id>/revoke`: sign out one other device. Like Clerk,
    no "Confirm it's you" first: it only takes access away (from a session of the same
    user), and its owner needs it at once when a device is lost or stolen; signing out
    every device at once does ask.
    """
    svc = context_of(request).services
    session_id = str(request.path_params["session_id"])

    async def render(form: ConfirmForm, errors: dict[str, str], status: int) -> Response:
        return await security_page(request, user, errors=errors, status_code=status)

    async def action(posted: Posted[ConfirmForm]) -> Response:
        revoked = await revoke_device(
            svc,
            user_id=user.id,
            session_id=session_id,
            current_session_id=auth(request).session_id or "",
            meta=meta_of(request),
        )
        if not revoked:
            # Another user's session, an unknown or ended one, or this one: not on the
            # list. The answer is the list as it is now, so a stale row (signed out in
            # another tab) leaves a sentence and a fresh list, not an error page.
            errors = {"__all__": svc.messages("device_gone")}
            return await security_page(request, user, errors=errors, status_code=404)
        url = f"{svc.mount_path}{SECURITY_PATH}?done=device_signed_out"
        # htmx follows the 303 and swaps the refreshed section in place.
        return redirect(request, url, navigate=False)

    return await post_form(request, ConfirmForm, render, action)


@needs_recent_confirmation(SESSIONS_PATH + "/revoke-others")
async def revoke_others_endpoint(request: Request, user: User) -> Response:
    """GET/POST `/user/security/sessions/revoke-others`: confirm, then every other device
    is signed out."""
    svc = context_of(request).services

    async def then() -> Response:
        await revoke_other_devices(
            svc,
            user_id=user.id,
            current_session_id=auth(request).session_id or "",
            meta=meta_of(request),
        )
        return redirect(request, f"{svc.mount_path}{SECURITY_PATH}?done=devices_signed_out")

    return await confirm_then(
        request,
        title=svc.messages("devices_others_title"),
        text=svc.messages("devices_others_text"),
        submit=svc.messages("devices_others_submit"),
        action=f"{svc.mount_path}{SESSIONS_PATH}/revoke-others",
        cancel_url=f"{svc.mount_path}{SECURITY_PATH}",
        danger=True,
        then=then,
    )


@signed_in_page
async def activity_endpoint(request: Request, user: User) -> Response:
    """GET `/user/security/activity?before=<cursor>` (or `after=`): a page of the user's
    own events; a cursor that does not parse shows the first page."""
    svc = context_of(request).services
    found = await activity_page(
        svc,
        user.id,
        before=request.query_params.get("before"),
        after=request.query_params.get("after"),
    )
    here = f"{svc.mount_path}{ACTIVITY_PATH}"
    return page(
        request,
        "user_security_activity",
        events=found.events,
        newer_url=f"{here}?{urlencode({'after': found.newer})}" if found.newer else None,
        older_url=f"{here}?{urlencode({'before': found.older})}" if found.older else None,
    )
