"""
"Confirm it's you" (reverification, Clerk's step-up): before a sensitive action, a
signed-in user proves a first factor again (password or a code by email), and their
second factor too when they have one; then they carry on to the page they asked for.
The same attempt pages as sign-in, under `/reverify`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ..access import auth
from ..context import context_of
from ..errors import AttemptGone, FieldError
from ..flows.attempts import Attempt, Purpose
from ..flows.factors import STRATEGIES
from ..flows.passkeys import list_passkeys
from ..flows.sign_in import (
    choose_factor,
    first_factors,
    is_reverified,
    start_reverification,
    submit_factor,
)
from ..forms import ReverifyForm
from .attempt_pages import AttemptPages, browser_of
from .form_post import Posted, post_form
from .helpers import meta_of, page, redirect, redirect_target

__all__ = ["REVERIFY", "require_reverification", "reverify_endpoint"]

REVERIFY = AttemptPages.make(Purpose.REVERIFY, "/reverify", "__ak_reverify")
TEMPLATE = "reverify"


async def require_reverification(request: Request, back_to: str) -> Response | None:
    """
    None when this session may do a sensitive action now; otherwise the redirect to
    "Confirm it's you", which comes back to `back_to` (a page of the sub-app).
    """
    state = auth(request)
    svc = context_of(request).services
    if (
        state.user_id is not None
        and state.session_id is not None
        and await is_reverified(svc, user_id=state.user_id, session_id=state.session_id)
    ):
        return None
    target = f"{svc.mount_path}{back_to}"
    return redirect(request, f"{svc.mount_path}/reverify?redirect_url={quote(target, safe='')}")


async def reverify_endpoint(request: Request) -> Response:
    """GET/POST `/reverify`: the first step of "Confirm it's you"."""
    svc = context_of(request).services
    state = auth(request)
    target = redirect_target(request, request.query_params.get("redirect_url"))
    if state.user_id is None or state.session_id is None:
        mount = svc.mount_path
        return redirect(request, f"{mount}/sign-in?redirect_url={quote(target, safe='')}")
    try:
        attempt = await start_reverification(
            svc, user_id=state.user_id, session_id=state.session_id
        )
    except AttemptGone:
        return redirect(request, f"{svc.mount_path}/sign-in")
    if request.method == "GET":
        form = ReverifyForm(data={"redirect_url": target})
        errors: dict[str, str] = {}
        if request.query_params.get("expired") == "1":
            errors["__all__"] = svc.messages("attempt_expired")
        return await _page(request, attempt, form, errors=errors)

    async def render(form: ReverifyForm, errors: dict[str, str], status: int) -> Response:
        return await _page(request, attempt, form, errors=errors, status_code=status)

    async def action(posted: Posted[ReverifyForm]) -> Response:
        form = posted.form
        target = redirect_target(request, form.redirect_url.data)
        methods = await first_factors(svc, attempt)
        method = form.method.data or (methods[0] if methods else "")
        if method not in methods:
            raise FieldError("method_unavailable")
        if STRATEGIES[method].needs_prepare:
            ready = await choose_factor(
                svc, attempt, method, browser=browser_of(request), meta=meta_of(request)
            )
            return await REVERIFY.proceed(request, ready, target, chosen=method)
        step = await submit_factor(
            svc,
            attempt,
            method,
            {"password": posted.password()},
            browser=browser_of(request),
            meta=meta_of(request),
        )
        return await REVERIFY.after(request, step, target)

    return await post_form(request, ReverifyForm, render, action)


async def _page(
    request: Request,
    attempt: Attempt,
    form: ReverifyForm,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    svc = context_of(request).services
    methods = await first_factors(svc, attempt)
    has_passkeys = (
        svc.settings.passkey_rp_id is not None
        and attempt.user_id is not None
        and bool(await list_passkeys(svc, attempt.user_id))
    )
    context: dict[str, Any] = {
        "form": form,
        "email": attempt.identifier,
        "methods": methods,
        # "Use a passkey" (shown by authkit.js where WebAuthn is) for a user with one.
        "has_passkeys": has_passkeys,
    }
    return page(request, TEMPLATE, errors=errors or {}, status_code=status_code, **context)
