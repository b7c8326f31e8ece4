"""The signed-in user's page: their email, editable names, and the sign-out form."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from ..context import context_of
from ..flows.profile import update_names
from ..flows.social import OAUTH_ERRORS
from ..forms import ProfileForm
from ..i18n.locales import current_locale
from ..profile_view import account_section
from ..request_auth import USER_KEY
from ..users import User, get_user
from .form_post import Posted, post_form
from .helpers import meta_of, page, redirect, set_language_cookie
from .profile_pages import signed_in_page

__all__ = ["account_page", "user_endpoint"]

TEMPLATE = "user_profile"
#: Notices after a change made on another page: a fixed flag maps to a fixed message.
DONE_MESSAGES: Mapping[str, str] = {
    "email_added": "email_added",
    "email_primary_changed": "email_primary_changed",
    "email_removed": "email_removed",
    "avatar_updated": "avatar_updated",
    "avatar_removed": "avatar_removed",
    "account_connected": "account_connected",
    "account_disconnected": "account_disconnected",
    "language_saved": "language_saved",
}


@signed_in_page
async def user_endpoint(request: Request, user: User) -> Response:
    ctx = context_of(request)
    section = await account_section(ctx.services, user)
    if request.method == "GET":
        form = ProfileForm(
            data={
                "first_name": user.first_name,
                "last_name": user.last_name,
                "locale": current_locale(),
            }
        )
        done = DONE_MESSAGES.get(request.query_params.get("done", ""))
        notice = ctx.services.messages(done) if done else None
        errors = _oauth_error(request)
        return page(request, TEMPLATE, form=form, notice=notice, errors=errors, **section)

    async def render(form: ProfileForm, errors: dict[str, str], status: int) -> Response:
        return page(
            request,
            TEMPLATE,
            form=form,
            errors=errors,
            status_code=status,
            **section,
        )

    async def action(posted: Posted[ProfileForm]) -> Response:
        form = posted.form
        svc = ctx.services
        locale = (form.locale.data or current_locale()) if svc.locales.is_choosable else None
        await update_names(
            svc,
            user_id=user.id,
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            meta=meta_of(request),
            locale=locale,
        )
        if locale is not None and locale != current_locale():
            # The whole page changes language: load it afresh, in the new one.
            response = redirect(request, f"{svc.mount_path}/user?done=language_saved")
        else:
            saved = await get_user(svc, user.id) or user
            request.scope[USER_KEY] = saved  # the request's cached copy is stale now
            notice = svc.messages("profile_saved")
            response = page(
                request, TEMPLATE, form=form, notice=notice, **{**section, "user": saved}
            )
        if locale is not None:
            set_language_cookie(response, request, locale)
        return response

    return await post_form(request, ProfileForm, render, action)


def _oauth_error(request: Request) -> dict[str, str]:
    """A connect round trip that failed comes back with a fixed flag: its sentence, in
    the connected accounts section."""
    svc = context_of(request).services
    code = request.query_params.get("oauth_error", "")
    provider = svc.settings.oauth_provider(request.query_params.get("provider", ""))
    if code not in OAUTH_ERRORS or provider is None:
        return {}
    return {"connected_accounts": svc.messages(code, provider=provider.label)}


async def account_page(
    request: Request, user: User, *, errors: dict[str, str], status_code: int
) -> Response:
    """
    The Account section as `user_endpoint` shows it, with `errors` beside their fields:
    for the section's other forms (the profile picture's) when one is refused.
    """
    svc = context_of(request).services
    form = ProfileForm(data={"first_name": user.first_name, "last_name": user.last_name})
    section = await account_section(svc, user)
    return page(request, TEMPLATE, form=form, errors=errors, status_code=status_code, **section)
