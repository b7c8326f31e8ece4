"""The signed-in user's page: their email, editable names, and the sign-out form."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..access import current_user, requires_user
from ..context import context_of
from ..flows.profile import update_names
from ..forms import ProfileForm
from ..request_auth import USER_KEY
from ..users import get_user
from .form_post import Posted, post_form
from .helpers import (
    meta_of,
    page,
    redirect,
)

__all__ = ["user_endpoint"]

TEMPLATE = "user_profile"


@requires_user
async def user_endpoint(request: Request) -> Response:
    ctx = context_of(request)
    user = await current_user(request)
    if user is None:
        # The token is valid but the account is gone or banned: start over.
        return redirect(request, f"{ctx.mount_path}/sign-in")
    if request.method == "GET":
        form = ProfileForm(data={"first_name": user.first_name, "last_name": user.last_name})
        return page(request, TEMPLATE, form=form, user=user)

    async def render(form: ProfileForm, errors: dict[str, str], status: int) -> Response:
        return page(request, TEMPLATE, form=form, user=user, errors=errors, status_code=status)

    async def action(posted: Posted[ProfileForm]) -> Response:
        assert user is not None
        form = posted.form
        await update_names(
            ctx.services,
            user_id=user.id,
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            meta=meta_of(request),
        )
        saved = await get_user(ctx.services, user.id) or user
        request.scope[USER_KEY] = saved  # the request's cached copy is stale now
        notice = ctx.services.messages("profile_saved")
        return page(request, TEMPLATE, form=form, user=saved, notice=notice)

    return await post_form(request, ProfileForm, render, action)
