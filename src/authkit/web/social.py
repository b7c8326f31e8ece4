"""
Social login's two endpoints: `POST /oauth/<name>/start` (from a "Continue with ..."
button, CSRF-checked) sends the browser to the provider with a new sign-in attempt's
cookie; `GET /oauth/<name>/callback` (the redirect URI to register at the provider)
finishes it and goes on as any sign-in does: the second factor's page, or the new
session and where the visitor was going. A failure comes back to the sign-in page with
a sentence chosen by a fixed flag, never text from the callback.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..access import auth
from ..context import context_of
from ..errors import AttemptGone, RateLimited
from ..flows.attempts import Attempt
from ..flows.sign_in import RETURN_TO
from ..flows.social import (
    ProviderSignInFailed,
    begin_provider_sign_in,
    finish_provider_connect,
    finish_provider_sign_in,
)
from ..forms import SignInForm
from ..security.csrf import CsrfGuard
from ..social.providers import OAuthProvider
from .attempt_pages import browser_of
from .form_post import Posted, post_form
from .helpers import errors_of, meta_of, page, read_form, redirect, redirect_target
from .sign_in import SIGN_IN, sign_in_page

__all__ = ["callback_uri", "oauth_callback_endpoint", "oauth_start_endpoint"]

#: The callback parameters read; anything else a provider adds is ignored. (`user`:
#: Apple's name of the user, on the first consent.)
CALLBACK_PARAMS = ("state", "code", "error", "iss", "user")
#: A form_post answer is a few fields; anything bigger is not a provider's.
MAX_FORM_POST_BYTES = 16 * 1024


def _provider(request: Request) -> OAuthProvider:
    settings = context_of(request).services.settings
    provider = settings.oauth_provider(str(request.path_params["name"]))
    if provider is None:
        raise HTTPException(404)
    return provider


def callback_uri(request: Request, provider: OAuthProvider) -> str:
    """The redirect URI to register at the provider: from the configured base URL,
    never from the Host header."""
    svc = context_of(request).services
    return f"{svc.settings.base_url.rstrip('/')}{svc.mount_path}/oauth/{provider.name}/callback"


async def oauth_start_endpoint(request: Request) -> Response:
    """POST `/oauth/<name>/start`: a new attempt, and on to the provider."""
    svc = context_of(request).services
    provider = _provider(request)

    async def render(form: SignInForm, errors: dict[str, str], status: int) -> Response:
        return await sign_in_page(request, form, errors=errors, status_code=status)

    async def action(posted: Posted[SignInForm]) -> Response:
        target = redirect_target(request, posted.form.redirect_url.data)
        if auth(request).is_signed_in:
            # Signed in already (another tab): no second session beside this one.
            return redirect(request, target)
        try:
            attempt, url = await begin_provider_sign_in(
                svc,
                provider,
                redirect_uri=callback_uri(request, provider),
                return_to=target,
                browser=browser_of(request),
                meta=meta_of(request),
            )
        except ProviderSignInFailed as failed:
            failed.params = {"provider": provider.label}
            raise
        response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
        SIGN_IN.cookie.set(response, request, attempt.id)
        return response

    return await post_form(request, SignInForm, render, action)


async def oauth_callback_endpoint(request: Request) -> Response:
    """GET `/oauth/<name>/callback`: the provider's answer (POST for one that answers
    with form_post, handed on to the GET)."""
    svc = context_of(request).services
    provider = _provider(request)
    if request.method == "POST":
        return await _form_post(request, provider)
    attempt = await SIGN_IN.current(request)
    kept = attempt.state_of(RETURN_TO).get("url") if attempt is not None else None
    target = redirect_target(request, kept if isinstance(kept, str) else None)
    params = {k: request.query_params[k] for k in CALLBACK_PARAMS if k in request.query_params}
    if attempt is not None and attempt.state_of(provider.factor).get("connect"):
        return await _connect(request, provider, attempt, params)
    try:
        step = await finish_provider_sign_in(
            svc,
            provider,
            attempt,
            params,
            redirect_uri=callback_uri(request, provider),
            browser=browser_of(request),
            meta=meta_of(request),
        )
    except ProviderSignInFailed as failed:
        return _back_to_sign_in(request, provider, failed.code, target)
    except AttemptGone:
        return _back_to_sign_in(request, provider, "oauth_expired", target)
    except RateLimited as limited:
        form = SignInForm(data={"redirect_url": target})
        errors = errors_of(context_of(request), limited)
        response = await sign_in_page(request, form, errors=errors, status_code=429)
        response.headers["Retry-After"] = str(limited.retry_after)
        return response
    return await SIGN_IN.after(request, step, target)


async def _form_post(request: Request, provider: OAuthProvider) -> Response:
    """Apple answers with a cross-site POST, which carries none of this browser's
    cookies (SameSite=Lax): nothing is judged here. A page hands the fields on to the
    GET callback, a same-site navigation that has them."""
    if not provider.rules.apple:
        raise HTTPException(405)
    form = await read_form(request, max_bytes=MAX_FORM_POST_BYTES)
    fields = {k: v for k in CALLBACK_PARAMS if isinstance(v := form.get(k), str) and v}
    response = page(
        request,
        "oauth_continue",
        action=callback_uri(request, provider),
        fields=fields,
        provider_label=provider.label,
    )
    CsrfGuard.set_no_cookie(request.scope)
    # The page holds a code: no cache keeps it, no Referer carries its URL onward.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def _connect(
    request: Request, provider: OAuthProvider, attempt: Attempt, params: dict[str, str]
) -> Response:
    """The callback of the profile's "Connect": back to the Account section."""
    svc = context_of(request).services
    state = auth(request)
    account = f"{svc.mount_path}/user"
    if state.user_id is None or state.session_id is None:
        return _back_to_sign_in(request, provider, "oauth_expired", account)
    try:
        await finish_provider_connect(
            svc,
            provider,
            attempt,
            params,
            user_id=state.user_id,
            session_id=state.session_id,
            redirect_uri=callback_uri(request, provider),
            meta=meta_of(request),
        )
        url = f"{account}?done=account_connected"
    except ProviderSignInFailed as failed:
        url = f"{account}?oauth_error={failed.code}&provider={provider.name}"
    except RateLimited:
        url = f"{account}?oauth_error=oauth_failed&provider={provider.name}"
    response = redirect(request, url)
    SIGN_IN.cookie.clear(response, request)
    return response


def _back_to_sign_in(request: Request, provider: OAuthProvider, code: str, target: str) -> Response:
    url = SIGN_IN.url(request, "", target) + f"&oauth_error={code}&provider={provider.name}"
    # The attempt cookie stays: a reloaded callback must not end a sign-in that is
    # waiting for its second factor (a failed round trip's attempt is used up anyway).
    return redirect(request, url)
