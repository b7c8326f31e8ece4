"""
Forgot-password and reset-password endpoints. The attempt in progress is remembered in a
signed, short-lived cookie bound to this browser (the code path); the mailed link carries
its own token instead, so it also works in another browser. The link lands on
`/reset-password?link=1` with the token in its fragment, out of every request line
(web/mailed_links.py): the page posts it, and the token moves into a cookie.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ..context import context_of
from ..errors import CodeExpired, RateLimited
from ..flows.reset import (
    ResetAttempt,
    find_link,
    get_attempt,
    reset_with_code,
    reset_with_link,
    start_reset,
)
from ..forms import ForgotPasswordForm, ResetPasswordForm
from .attempt_cookie import AttemptCookie
from .form_post import Posted, post_form
from .helpers import (
    clear_session_cookies,
    flow_error_page,
    meta_of,
    page,
    redirect,
    redirect_target,
)
from .mailed_links import is_handoff, token_of

__all__ = [
    "ForgotPasswordForm",
    "ResetPasswordForm",
    "forgot_password_endpoint",
    "reset_password_endpoint",
]

ATTEMPT = AttemptCookie("__ak_reset", salt="authkit.reset_attempt")
#: Carries a mailed link's token once it has been taken out of the URL.
LINK = AttemptCookie("__ak_reset_link", salt="authkit.reset_link")
FORGOT_TEMPLATE = "forgot_password"
RESET_TEMPLATE = "reset_password"
REFERRER_POLICY = "no-referrer"


async def _cookie_attempt(request: Request) -> ResetAttempt | None:
    attempt_id = ATTEMPT.read(request)
    return await get_attempt(context_of(request).services, attempt_id) if attempt_id else None


async def forgot_password_endpoint(request: Request) -> Response:
    ctx = context_of(request)
    if request.method == "GET":
        wanted = redirect_target(request, request.query_params.get("redirect_url"))
        return page(
            request, FORGOT_TEMPLATE, form=ForgotPasswordForm(data={"redirect_url": wanted})
        )

    async def render(form: ForgotPasswordForm, errors: dict[str, str], status: int) -> Response:
        return page(request, FORGOT_TEMPLATE, form=form, errors=errors, status_code=status)

    async def action(posted: Posted[ForgotPasswordForm]) -> Response:
        form = posted.form
        attempt = await start_reset(
            ctx.services, email=form.email.data or "", meta=meta_of(request)
        )
        # Same redirect and cookie whether or not the address has an account: no enumeration.
        target = redirect_target(request, form.redirect_url.data)
        reset_url = f"{ctx.mount_path}/reset-password?redirect_url={quote(target, safe='')}"
        # With htmx, fetch follows this redirect and the reset step swaps in place.
        response = redirect(request, reset_url, navigate=False)
        ATTEMPT.set(response, request, attempt.id)
        return response

    return await post_form(request, ForgotPasswordForm, render, action)


async def reset_password_endpoint(request: Request) -> Response:
    try:
        response = await _reset_password(request)
    except RateLimited as error:
        response = _link_rate_limited(request, error)
    # The link's page holds its token (in the form, and in the fragment until the script
    # clears it): no Referer may ever carry anything of it (the CSRF check relies on
    # Sec-Fetch-Site, as browsers then send `Origin: null`).
    response.headers["Referrer-Policy"] = REFERRER_POLICY
    return response


async def _reset_password(request: Request) -> Response:
    ctx = context_of(request)
    svc = ctx.services
    if request.method == "GET":
        wanted = redirect_target(request, request.query_params.get("redirect_url"))
        token = request.query_params.get("token")
        if token is not None:
            # A link mailed before the token moved to the fragment (such links live at
            # most AUTHKIT_CODE_LIFETIME): its request line is already written wherever
            # it is logged, so refusing it would protect nothing and only break it.
            return await _take_link(request, token, wanted)
        if request.query_params.get("link") == "1":
            return await _link_landing(request, wanted)
        attempt = await _cookie_attempt(request)
        if attempt is None:
            return redirect(request, f"{ctx.mount_path}/forgot-password")
        form = ResetPasswordForm(data={"redirect_url": wanted})
        return _reset_page(request, form, attempt, by_link=False)

    found: dict[str, ResetAttempt | None] = {}

    async def attempt_of(form: ResetPasswordForm) -> ResetAttempt | None:
        # Looked up once per post (a link lookup counts against the IP).
        if "attempt" not in found:
            token = form.token.data or ""
            found["attempt"] = (
                await find_link(svc, token, meta_of(request))
                if token
                else await _cookie_attempt(request)
            )
        return found["attempt"]

    async def render(form: ResetPasswordForm, errors: dict[str, str], status: int) -> Response:
        if is_handoff(form):
            return _landing(request, form, errors=errors, status_code=status)
        by_link = bool(form.token.data)
        attempt = await attempt_of(form)
        if attempt is None and status != 403:
            return _expired(request, form, by_link=by_link)
        return _reset_page(
            request, form, attempt, by_link=by_link, errors=errors, status_code=status
        )

    async def action(posted: Posted[ResetPasswordForm]) -> Response:
        form = posted.form
        if is_handoff(form):
            wanted = redirect_target(request, form.redirect_url.data)
            return await _take_link(request, token_of(form.link.data or ""), wanted)
        token = form.token.data or ""
        by_link = bool(token)
        attempt = await attempt_of(form)
        if attempt is None:
            return _expired(request, form, by_link=by_link)
        try:
            if by_link:
                await reset_with_link(
                    svc,
                    token=token,
                    password=posted.password(),
                    password_confirm=posted.password("password_confirm"),
                    meta=meta_of(request),
                )
            else:
                await reset_with_code(
                    svc,
                    attempt_id=attempt.id,
                    code=form.code.data or "",
                    password=posted.password(),
                    password_confirm=posted.password("password_confirm"),
                    meta=meta_of(request),
                )
        except CodeExpired:
            return _expired(request, form, by_link=by_link)
        # No automatic sign-in (OWASP Forgot Password): the owner proves the new password.
        target = redirect_target(request, form.redirect_url.data)
        response = redirect(
            request, f"{ctx.mount_path}/sign-in?reset=1&redirect_url={quote(target, safe='')}"
        )
        ATTEMPT.clear(response, request)
        LINK.clear(response, request)
        # Every session was revoked, this browser's too: drop its cookies now rather than
        # when the session token expires.
        clear_session_cookies(response, request)
        return response

    return await post_form(request, ResetPasswordForm, render, action)


async def _take_link(request: Request, token: str, wanted: str) -> Response:
    """A mailed link's token, handed over: into a path-scoped, HttpOnly cookie, and on to
    a URL without it, so browser history and any Referer never keep it either (#34)."""
    ctx = context_of(request)
    if await find_link(ctx.services, token, meta_of(request)) is None:
        form = ResetPasswordForm(data={"redirect_url": wanted})
        return _expired(request, form, by_link=True)
    clean_url = f"{ctx.mount_path}/reset-password?link=1&redirect_url={quote(wanted, safe='')}"
    response = redirect(request, clean_url, navigate=False)
    LINK.set(response, request, token)
    return response


async def _link_landing(request: Request, wanted: str) -> Response:
    """`?link=1`: where the mailed link lands (its token still in the fragment, for the
    page's script to post), and where the script's post leads (the token in the cookie)."""
    svc = context_of(request).services
    token = LINK.read(request) or ""
    attempt = await find_link(svc, token, meta_of(request)) if token else None
    if attempt is not None:
        form = ResetPasswordForm(data={"token": token, "redirect_url": wanted})
        return _reset_page(request, form, attempt, by_link=True)
    # Nothing handed over yet (or what was has died since: a newer link may be in the
    # fragment). With JavaScript off the fragment cannot be read: the browser that asked
    # for the reset takes the code from the same mail, any other one the pasted link.
    form = ResetPasswordForm(data={"redirect_url": wanted})
    asked_here = await _cookie_attempt(request)
    if asked_here is not None:
        response = _reset_page(request, form, asked_here, by_link=False, notice=False)
    else:
        response = _landing(request, form)
    if token:
        LINK.clear(response, request)
    return response


def _landing(
    request: Request,
    form: ResetPasswordForm,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {**_states(), "form": form, "landing": True}
    return page(request, RESET_TEMPLATE, errors=errors or {}, status_code=status_code, **context)


def _states() -> dict[str, Any]:
    return {"email": "", "by_link": False, "link_expired": False, "landing": False}


def _reset_page(
    request: Request,
    form: ResetPasswordForm,
    attempt: ResetAttempt | None,
    *,
    by_link: bool,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    notice: bool = True,
) -> Response:
    if attempt is None:
        status = status_code if status_code >= 400 else 410
        return _expired(request, form, by_link=by_link, status_code=status)
    svc = context_of(request).services
    context: dict[str, Any] = {
        **_states(),
        "form": form,
        "email": attempt.email,
        "by_link": by_link,
        "notice": (
            svc.messages("reset_sent", email=attempt.email) if notice and not by_link else None
        ),
    }
    return page(request, RESET_TEMPLATE, errors=errors or {}, status_code=status_code, **context)


def _link_rate_limited(request: Request, error: RateLimited) -> Response:
    """Too many link (or code) checks from this IP: say when to try the link again."""
    context: dict[str, Any] = {
        **_states(),
        "form": ResetPasswordForm(),
        "by_link": True,
        "link_expired": True,
    }
    return flow_error_page(request, RESET_TEMPLATE, error, **context)


def _expired(
    request: Request, form: ResetPasswordForm, *, by_link: bool, status_code: int = 410
) -> Response:
    svc = context_of(request).services
    if by_link:
        form.token.data = ""  # never echo a token we did not accept
        context: dict[str, Any] = {
            **_states(),
            "form": form,
            "by_link": True,
            "link_expired": True,
        }
        return page(request, RESET_TEMPLATE, status_code=status_code, **context)
    forgot = ForgotPasswordForm(data={"redirect_url": form.redirect_url.data or ""})
    errors = {"__all__": svc.messages("reset_expired")}
    return page(request, FORGOT_TEMPLATE, form=forgot, errors=errors, status_code=status_code)
