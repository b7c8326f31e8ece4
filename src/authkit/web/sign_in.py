"""Sign-in and sign-out endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..access import auth
from ..context import context_of
from ..errors import FlowError
from ..flows.sign_in import sign_in, sign_out
from ..forms import SignInForm
from .helpers import (
    clear_session_cookies,
    csrf_ok,
    flow_error_page,
    limit_errors,
    meta_of,
    page,
    read_form,
    redirect,
    redirect_target,
    set_session_cookies,
)

__all__ = ["sign_in_endpoint", "sign_out_endpoint"]

TEMPLATE = "sign_in"


async def sign_in_endpoint(request: Request) -> Response:
    ctx = context_of(request)
    if request.method == "GET":
        wanted = request.query_params.get("redirect_url")
        if auth(request).is_signed_in:
            return redirect(request, redirect_target(request, wanted))
        form = SignInForm(data={"redirect_url": redirect_target(request, wanted)})
        # After a reset the page says so; a fixed message, never text from the URL.
        reset = request.query_params.get("reset") == "1"
        notice = ctx.services.messages("password_reset_done") if reset else None
        return page(request, TEMPLATE, form=form, notice=notice)

    data = await read_form(request)
    form = SignInForm(data)
    password = form.password.data or ""
    form.password.data = ""  # never echo a password back
    if not csrf_ok(request, data):
        errors = {"__all__": ctx.services.messages("csrf_failed")}
        return page(request, TEMPLATE, form=form, errors=errors, status_code=403)
    if errors := limit_errors(ctx, form):
        return page(request, TEMPLATE, form=form, errors=errors, status_code=422)
    try:
        start = await sign_in(
            ctx.services, email=form.email.data or "", password=password, meta=meta_of(request)
        )
    except FlowError as error:
        return flow_error_page(request, TEMPLATE, error, form=form)
    response = redirect(request, redirect_target(request, form.redirect_url.data))
    set_session_cookies(response, request, start)
    return response


async def sign_out_endpoint(request: Request) -> Response:
    ctx = context_of(request)
    form = await read_form(request)
    if not csrf_ok(request, form):
        errors = {"__all__": ctx.services.messages("csrf_failed")}
        return page(request, "sign_out_confirm", errors=errors, status_code=403)
    state = auth(request)
    if state.user_id is not None and state.session_id is not None:
        await sign_out(
            ctx.services, user_id=state.user_id, session_id=state.session_id, meta=meta_of(request)
        )
    target = redirect_target(
        request,
        str(form.get("redirect_url") or ""),
        default=ctx.services.settings.after_sign_out_url,
    )
    response = redirect(request, target)
    clear_session_cookies(response, request)
    clear_site_data = ctx.services.settings.sign_out_clear_site_data.strip()
    if clear_site_data:
        response.headers["Clear-Site-Data"] = clear_site_data
    return response
