"""
Sign-in pages: the first page (email, and the password when passwords are on), "Use
another method", each factor's step (attempt_pages.py), the magic link's landing page,
the set-up of a second factor when the site requires one, and sign-out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..access import auth
from ..context import context_of
from ..errors import AttemptGone, FieldError, FlowError, RateLimited
from ..flows.attempts import Attempt, Purpose
from ..flows.bot_check import check_human, wants_proof
from ..flows.factors import STRATEGIES
from ..flows.factors.email_link import LinkTarget, find_link
from ..flows.mfa import begin_totp_setup, judge_totp_setup
from ..flows.sign_in import (
    MFA_SETUP,
    RETURN_TO,
    choose_factor,
    load_attempt,
    sign_out,
    start_sign_in,
    submit_factor,
    submit_mfa_setup,
)
from ..flows.social import OAUTH_ERRORS
from ..forms import FactorForm, LinkForm, SignInForm, SignOutForm
from .attempt_cookie import TOTP_SETUP, AttemptCookie
from .attempt_pages import AttemptPages, browser_of
from .bot_check import evidence_of
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
    "SIGN_IN",
    "email_link_endpoint",
    "link_status_endpoint",
    "methods_endpoint",
    "mfa_setup_endpoint",
    "sign_in_context",
    "sign_in_endpoint",
    "sign_in_page",
    "sign_out_endpoint",
]

SIGN_IN = AttemptPages.make(Purpose.SIGN_IN, "/sign-in", "__ak_sign_in")
#: Carries a magic link's token once the landing page has handed it over.
LINK = AttemptCookie("__ak_sign_in_link", salt="authkit.sign_in_link", max_age=600)
TEMPLATE = "sign_in"
#: A magic link's page holds its token: no Referer may ever carry it.
REFERRER_POLICY = "no-referrer"


async def sign_in_endpoint(request: Request) -> Response:
    """GET/POST `/sign-in`: identify, then the password or the chosen method."""
    svc = context_of(request).services
    if request.method == "GET":
        wanted = request.query_params.get("redirect_url")
        if auth(request).is_signed_in:
            return redirect(request, redirect_target(request, wanted))
        form = SignInForm(data={"redirect_url": redirect_target(request, wanted)})
        # Fixed flags mapped to fixed messages: query text is never echoed into the page.
        notice = None
        errors: dict[str, str] = {}
        if request.query_params.get("reset") == "1":
            notice = svc.messages("password_reset_done")
        if request.query_params.get("deleted") == "1":
            notice = svc.messages("account_deleted")
        if request.query_params.get("expired") == "1":
            errors["__all__"] = svc.messages("attempt_expired")
        oauth_error = request.query_params.get("oauth_error", "")
        provider = svc.settings.oauth_provider(request.query_params.get("provider", ""))
        if oauth_error in OAUTH_ERRORS and provider is not None:
            errors["__all__"] = svc.messages(oauth_error, provider=provider.label)
        return await sign_in_page(request, form, errors=errors, notice=notice)

    async def render(form: SignInForm, errors: dict[str, str], status: int) -> Response:
        return await sign_in_page(request, form, errors=errors, status_code=status)

    async def action(posted: Posted[SignInForm]) -> Response:
        form = posted.form
        target = redirect_target(request, form.redirect_url.data)
        methods = svc.settings.sign_in_method_list
        method = form.method.data or methods[0]
        if method not in methods:
            raise FieldError("method_unavailable")
        await check_human(svc, "sign_in", evidence_of(form), meta_of(request))
        attempt = await start_sign_in(svc, email=form.email.data or "")
        if STRATEGIES[method].needs_prepare:
            ready = await choose_factor(
                svc,
                attempt,
                method,
                browser=browser_of(request),
                meta=meta_of(request),
                redirect_url=target,
            )
            return await SIGN_IN.proceed(request, ready, target, chosen=method)
        if form.step.data == "choose":
            # "Use another method" → password: the password field, nothing wrong yet.
            form.method.data = method
            form.step.data = ""
            return await sign_in_page(request, form)
        step = await submit_factor(
            svc,
            attempt,
            method,
            {"password": posted.password()},
            browser=browser_of(request),
            meta=meta_of(request),
        )
        return await SIGN_IN.after(request, step, target)

    return await post_form(request, SignInForm, render, action)


async def sign_in_page(
    request: Request,
    form: SignInForm,
    *,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    svc = context_of(request).services
    context = {
        **sign_in_context(request, form),
        "notice": notice,
        # After a few failed sign-ins from this IP, the form carries the bot check.
        "ask_proof": await wants_proof(svc, "sign_in", meta_of(request)),
    }
    return page(request, TEMPLATE, errors=errors or {}, status_code=status_code, **context)


def sign_in_context(request: Request, form: SignInForm) -> dict[str, Any]:
    """What the SignIn component needs beside the form: the method its first page asks
    for, and the way to the others. Shared by the page and the host's component."""
    methods = context_of(request).services.settings.sign_in_method_list
    return {
        "form": form,
        "method": form.method.data if form.method.data in methods else methods[0],
        "methods": methods,
        "methods_url": SIGN_IN.url(request, "/methods", form.redirect_url.data or ""),
    }


async def methods_endpoint(request: Request) -> Response:
    """GET `/sign-in/methods`: "Use another method" — every method the site offers."""
    svc = context_of(request).services
    target = redirect_target(request, request.query_params.get("redirect_url"))
    if auth(request).is_signed_in:
        return redirect(request, target)
    attempt = await SIGN_IN.current(request)
    email = attempt.identifier if attempt is not None else ""
    form = SignInForm(data={"redirect_url": target, "email": email, "step": "choose"})
    context: dict[str, Any] = {
        "form": form,
        "methods": svc.settings.sign_in_method_list,
        "back_url": SIGN_IN.url(request, "", target),
    }
    return page(request, "sign_in_methods", **context)


async def mfa_setup_endpoint(request: Request) -> Response:
    """GET/POST `/sign-in/mfa-setup`: a sign-in that must set up a second factor first
    (`AUTHKIT_MFA=required`) scans a QR code, enters its first code, and gets its
    session and its recovery codes."""
    target = redirect_target(request, request.query_params.get("redirect_url"))
    attempt = await SIGN_IN.current(request)
    if attempt is None or not attempt.state_of(MFA_SETUP) or attempt.user_id is None:
        return SIGN_IN.gone(request, target)
    try:
        return await _mfa_setup(request, attempt, target)
    except FlowError as error:
        if error.code != "totp_exists":
            raise
    # The app was set up meanwhile (another tab or device): a credential change, which
    # ends this sign-in too; signing in again asks for the app's code.
    return SIGN_IN.gone(request, target)


async def _mfa_setup(request: Request, attempt: Attempt, target: str) -> Response:
    svc = context_of(request).services
    if request.method == "GET":
        return await _mfa_setup_page(request, attempt, FactorForm(data={"redirect_url": target}))

    async def render(form: FactorForm, errors: dict[str, str], status: int) -> Response:
        form.code.data = ""
        return await _mfa_setup_page(request, attempt, form, errors=errors, status_code=status)

    async def action(posted: Posted[FactorForm]) -> Response:
        assert attempt.user_id is not None
        target = redirect_target(request, posted.form.redirect_url.data)
        pending = await judge_totp_setup(
            svc,
            user_id=attempt.user_id,
            code=posted.form.code.data or "",
            sealed=TOTP_SETUP.read(request),
            meta=meta_of(request),
        )
        try:
            step = await submit_mfa_setup(
                svc, attempt, pending, browser=browser_of(request), meta=meta_of(request)
            )
        except AttemptGone:
            return SIGN_IN.gone(request, target)
        response = page(
            request,
            "recovery_codes",
            codes=step.recovery_codes,
            continue_url=target,
            first_time=True,
        )
        finished = SIGN_IN.finish(request, step, target)
        # The codes are shown once, on this response; it carries the new session.
        response.raw_headers.extend(h for h in finished.raw_headers if h[0] == b"set-cookie")
        TOTP_SETUP.clear(response, request)
        return response

    return await post_form(request, FactorForm, render, action)


async def _mfa_setup_page(
    request: Request,
    attempt: Attempt,
    form: FactorForm,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    assert attempt.user_id is not None
    svc = context_of(request).services
    setup = await begin_totp_setup(
        svc, user_id=attempt.user_id, account=attempt.identifier, sealed=TOTP_SETUP.read(request)
    )
    response = page(
        request,
        "totp_setup",
        form=form,
        setup=setup,
        required=True,
        action=SIGN_IN.url(request, "/mfa-setup", form.redirect_url.data or ""),
        cancel_url=SIGN_IN.url(request, "", form.redirect_url.data or ""),
        errors=errors or {},
        status_code=status_code,
    )
    TOTP_SETUP.set(response, request, setup.sealed)
    return response


async def email_link_endpoint(request: Request) -> Response:
    """GET/POST `/sign-in/link`: where a magic link lands. Its token is in the fragment,
    out of every request line: the page's script posts it (or, with JavaScript off, the
    visitor pastes the link), and it moves to a path-scoped HttpOnly cookie. The page
    then asks to confirm with a button, so a mail scanner following the link cannot use
    it up."""
    try:
        response = await _email_link(request)
    except RateLimited as error:
        response = flow_error_page(
            request, "email_link_landing", error, problem="expired", email="", form=LinkForm()
        )
    # No Referer may ever carry anything of a link (nor of the fragment the page reads).
    response.headers["Referrer-Policy"] = REFERRER_POLICY
    return response


@dataclass(frozen=True, slots=True)
class _Opened:
    """The link this browser handed over, still good, and the attempt it completes."""

    token: str
    email: str
    attempt: Attempt
    goal: str


async def _email_link(request: Request) -> Response:
    svc = context_of(request).services
    token = request.query_params.get("token")
    if request.method == "GET" and token is not None:
        # A link mailed before the token moved to the fragment (it lives 10 minutes at
        # most): its request line is already written wherever it is logged, so refusing
        # it would protect nothing and only break it.
        return await _take_link(request, token)
    if request.method == "GET":
        token = LINK.read(request) or ""
        target = await find_link(svc, token, meta_of(request)) if token else None
        if target is None:
            # Nothing handed over yet (or what was has died since: a newer link may be in
            # the fragment): the landing page, whose script posts the fragment's token,
            # and which asks for the link to be pasted when JavaScript is off.
            response = _link_page(request, "open")
            if token:
                LINK.clear(response, request)
            return response
        opened = await _opened(request, token, target)
        if isinstance(opened, Response):
            return opened
        return _link_page(
            request, "", email=opened.email, form=LinkForm(data={"redirect_url": opened.goal})
        )

    found: dict[str, _Opened | Response] = {}

    async def confirming() -> _Opened | Response:
        # Looked up once per post (a link lookup counts against the IP).
        if "opened" not in found:
            token = LINK.read(request) or ""
            target = await find_link(svc, token, meta_of(request)) if token else None
            found["opened"] = (
                await _opened(request, token, target)
                if target is not None
                else _link_page(request, "expired", status_code=410)
            )
        return found["opened"]

    async def render(form: LinkForm, errors: dict[str, str], status: int) -> Response:
        if is_handoff(form):
            return _link_page(request, "open", errors=errors, status_code=status)
        opened = await confirming()
        if isinstance(opened, Response):
            return opened
        form.redirect_url.data = opened.goal  # where the attempt was going, not what was posted
        return _link_page(
            request, "", email=opened.email, form=form, errors=errors, status_code=status
        )

    async def action(posted: Posted[LinkForm]) -> Response:
        if is_handoff(posted.form):
            return await _take_link(request, token_of(posted.form.link.data or ""))
        opened = await confirming()
        if isinstance(opened, Response):
            return opened
        try:
            step = await submit_factor(
                svc,
                opened.attempt,
                "email_link",
                {"token": opened.token},
                browser=browser_of(request),
                meta=meta_of(request),
            )
        except RateLimited:
            raise
        except FlowError:
            # Used up meanwhile (a parallel confirmation won), or the attempt moved on.
            return _link_page(request, "expired", status_code=410)
        response = await SIGN_IN.after(request, step, opened.goal)
        LINK.clear(response, request)
        return response

    return await post_form(request, LinkForm, render, action)


async def _take_link(request: Request, token: str) -> Response:
    """A magic link's token, handed over: into a path-scoped HttpOnly cookie, and on to
    the clean URL, so browser history and any Referer never keep it either (#34)."""
    svc = context_of(request).services
    if await find_link(svc, token, meta_of(request)) is None:
        return _link_page(request, "expired", status_code=410)
    response = redirect(request, f"{svc.mount_path}/sign-in/link", navigate=False)
    LINK.set(response, request, token)
    return response


async def _opened(request: Request, token: str, target: LinkTarget) -> _Opened | Response:
    """The handed-over link with its attempt, or the page saying why it cannot be used in
    this browser."""
    svc = context_of(request).services
    attempt = await _link_attempt(request, target.attempt_id)
    if attempt is None:
        problem = "other_browser" if svc.settings.email_link_same_browser else "expired"
        return _link_page(request, problem, status_code=403 if problem != "expired" else 410)
    return_to = attempt.state_of(RETURN_TO).get("url")
    goal = redirect_target(request, return_to if isinstance(return_to, str) else None)
    return _Opened(token, target.email, attempt, goal)


async def link_status_endpoint(request: Request) -> Response:
    """GET `/sign-in/link/status`: polled by the "check your email" page. Once the link
    was opened in another tab of this browser, this tab follows to where it was going."""
    if not auth(request).is_signed_in:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    target = redirect_target(request, request.query_params.get("redirect_url"))
    # `target` went through safe_redirect_url: ASCII, fit for a header.
    return Response(status_code=200, headers={"HX-Redirect": target, "Cache-Control": "no-store"})


async def _link_attempt(request: Request, attempt_id: str) -> Attempt | None:
    svc = context_of(request).services
    if svc.settings.email_link_same_browser:
        # Only the browser that asked: it carries the attempt's cookie and CSRF secret.
        if SIGN_IN.cookie.read(request) != attempt_id:
            return None
        return await load_attempt(
            svc, attempt_id, browser=browser_of(request), purpose=Purpose.SIGN_IN
        )
    return await load_attempt(svc, attempt_id, browser=None, purpose=Purpose.SIGN_IN)


def _link_page(
    request: Request,
    problem: str,
    *,
    email: str = "",
    form: LinkForm | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "email_link_landing",
        problem=problem,
        email=email,
        form=form or LinkForm(),
        errors=errors or {},
        status_code=status_code,
    )


async def sign_out_endpoint(request: Request) -> Response:
    ctx = context_of(request)

    async def render(form: SignOutForm, errors: dict[str, str], status: int) -> Response:
        return page(request, "sign_out_confirm", errors=errors, status_code=status)

    async def action(posted: Posted[SignOutForm]) -> Response:
        state = auth(request)
        if state.user_id is not None and state.session_id is not None:
            await sign_out(
                ctx.services,
                user_id=state.user_id,
                session_id=state.session_id,
                meta=meta_of(request),
            )
        target = redirect_target(
            request,
            posted.form.redirect_url.data,
            default=ctx.services.settings.after_sign_out_url,
        )
        response = redirect(request, target)
        clear_session_cookies(response, request)
        clear_site_data = ctx.services.settings.sign_out_clear_site_data.strip()
        if clear_site_data:
            response.headers["Clear-Site-Data"] = clear_site_data
        return response

    return await post_form(request, SignOutForm, render, action)
