"""
Sign-up endpoints: the form, the code step and "send a new code". The attempt in
progress is remembered in a signed, short-lived cookie bound to this browser.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ..access import auth
from ..context import context_of
from ..errors import CodeExpired
from ..flows.attempts import Attempt
from ..flows.sign_up import (
    SignUpAttempt,
    get_attempt,
    resend_sign_up_code,
    start_sign_up,
    verify_sign_up,
)
from ..flows.sign_up_access import invitation_email
from ..forms import CodeForm, SignUpForm
from .attempt_cookie import AttemptCookie
from .attempt_pages import browser_of
from .bot_check import evidence_of
from .form_post import Posted, post_form
from .helpers import (
    meta_of,
    page,
    redirect,
    redirect_target,
    set_session_cookies,
)
from .sign_in import SIGN_IN
from .waitlist import waitlist_page

__all__ = ["resend_endpoint", "sign_up_endpoint", "verify_endpoint"]

ATTEMPT = AttemptCookie("__ak_sign_up", salt="authkit.sign_up_attempt")
FORM_TEMPLATE = "sign_up"
CODE_TEMPLATE = "verify_code"


async def sign_up_endpoint(request: Request) -> Response:
    ctx = context_of(request)
    mode = ctx.services.settings.sign_up
    if request.method == "GET":
        wanted = request.query_params.get("redirect_url")
        if auth(request).is_signed_in:
            return redirect(request, redirect_target(request, wanted))
        # An invitation's link fills in (and fixes) the address it was sent to.
        invited = await invitation_email(
            ctx.services, request.query_params.get("invitation", "")[:100]
        )
        if mode == "waitlist" and invited is None:
            return waitlist_page(request)
        form = SignUpForm(data={"redirect_url": redirect_target(request, wanted), "email": invited})
        return page(request, FORM_TEMPLATE, form=form, invited=invited is not None)

    async def render(form: SignUpForm, errors: dict[str, str], status: int) -> Response:
        return page(request, FORM_TEMPLATE, form=form, errors=errors, status_code=status)

    async def action(posted: Posted[SignUpForm]) -> Response:
        form = posted.form
        attempt = await start_sign_up(
            ctx.services,
            email=form.email.data or "",
            password=posted.password(),
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            meta=meta_of(request),
            evidence=evidence_of(form),
        )
        return _to_code_step(request, form, attempt)

    return await post_form(request, SignUpForm, render, action)


def _to_code_step(request: Request, form: SignUpForm, attempt: SignUpAttempt) -> Response:
    ctx = context_of(request)
    target = redirect_target(request, form.redirect_url.data)
    # With htmx, fetch follows this redirect and the code step swaps in place.
    verify_url = f"{ctx.mount_path}/sign-up/verify?redirect_url={quote(target, safe='')}"
    response = redirect(request, verify_url, navigate=False)
    ATTEMPT.set(response, request, attempt.id)
    return response


async def verify_endpoint(request: Request) -> Response:
    ctx = context_of(request)
    attempt_id = ATTEMPT.read(request)
    attempt = await get_attempt(ctx.services, attempt_id) if attempt_id else None
    if request.method == "GET":
        if attempt is None:
            return redirect(request, f"{ctx.mount_path}/sign-up")
        wanted = redirect_target(request, request.query_params.get("redirect_url"))
        form = CodeForm(data={"redirect_url": wanted})
        return _code_page(request, form, attempt)

    async def render(form: CodeForm, errors: dict[str, str], status: int) -> Response:
        if "code" in errors:
            form.code.data = ""
        return _code_page(request, form, attempt, errors=errors, status_code=status)

    async def action(posted: Posted[CodeForm]) -> Response:
        form = posted.form
        if attempt is None:
            return _expired(request, form)
        try:
            done = await verify_sign_up(
                ctx.services,
                attempt_id=attempt.id,
                code=form.code.data or "",
                browser=browser_of(request),
                meta=meta_of(request),
            )
        except CodeExpired:
            return _expired(request, form)
        target = redirect_target(request, form.redirect_url.data)
        if isinstance(done, Attempt):
            # AUTHKIT_MFA=required: the new account sets up its second factor first.
            response = await SIGN_IN.proceed(request, done, target)
        else:
            response = redirect(request, target)
            set_session_cookies(response, request, done)
        ATTEMPT.clear(response, request)
        return response

    return await post_form(request, CodeForm, render, action)


async def resend_endpoint(request: Request) -> Response:
    ctx = context_of(request)
    attempt_id = ATTEMPT.read(request)
    attempt = await get_attempt(ctx.services, attempt_id) if attempt_id else None

    async def render(form: CodeForm, errors: dict[str, str], status: int) -> Response:
        form.code.data = ""
        # A cooldown or a cap is a 429: the visitor should wait, not retype.
        status = 429 if status == 422 else status
        return _code_page(request, form, attempt, errors=errors, status_code=status)

    async def action(posted: Posted[CodeForm]) -> Response:
        form = posted.form
        form.code.data = ""
        if attempt is None:
            return _expired(request, form)
        try:
            resent = await resend_sign_up_code(
                ctx.services, attempt_id=attempt.id, meta=meta_of(request)
            )
        except CodeExpired:
            return _expired(request, form)
        notice = ctx.services.messages("code_resent", email=resent.email)
        return _code_page(request, form, resent, notice=notice)

    return await post_form(request, CodeForm, render, action)


def _code_page(
    request: Request,
    form: CodeForm,
    attempt: SignUpAttempt | None,
    *,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    if attempt is None:
        if status_code == 403:
            # A refused form says so, even when there is no attempt to show.
            sign_up_form = SignUpForm(data={"redirect_url": form.redirect_url.data or ""})
            return page(
                request, FORM_TEMPLATE, form=sign_up_form, errors=errors or {}, status_code=403
            )
        return _expired(request, form)
    ctx = context_of(request)
    now = ctx.services.clock().timestamp()
    context: dict[str, Any] = {
        "form": form,
        "email": attempt.email,
        "resend_in": max(0, int(attempt.can_resend_at - now + 0.999)),
        # The subtitle already says where the code went; a notice only for news.
        "notice": notice,
    }
    return page(request, CODE_TEMPLATE, errors=errors or {}, status_code=status_code, **context)


def _expired(request: Request, form: CodeForm) -> Response:
    ctx = context_of(request)
    sign_up_form = SignUpForm(data={"redirect_url": form.redirect_url.data or ""})
    errors = {"__all__": ctx.services.messages("attempt_missing")}
    return page(request, FORM_TEMPLATE, form=sign_up_form, errors=errors, status_code=410)
