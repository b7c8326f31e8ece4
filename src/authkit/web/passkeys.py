"""
Passkeys over HTTP. The JSON endpoints the page's script (static/authkit/authkit.js)
calls, all POST and CSRF-checked by the `X-CSRF-Token` header:

- `/passkeys/sign-in/options` → `{"attempt", "publicKey"}` for `navigator.credentials.get`
  (a sign-in, or with `{"reverify": true}` a signed-in session's "Confirm it's you");
- `/passkeys/sign-in/verify` with `{"attempt", "credential"}` → `{"redirect"}` and the
  session's cookies;
- `/passkeys/register/options` and `/passkeys/register/verify`, the same for adding one
  (signed in and recently reverified, else `{"reverify": url}` with 403).

A failure answers `{"error": sentence}` with 400 (429 when rate limited): never a
stack trace, never a 500 for malformed bytes. The profile's pages (a plain form each,
working without JavaScript): `/user/security/passkeys/add` (after "Confirm it's you",
the page whose button creates one), `/user/security/passkeys/<id>/rename` and `/remove`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..access import auth
from ..context import context_of
from ..flows.passkeys import (
    MAX_PASSKEYS,
    PasskeyFailed,
    begin_passkey_registration,
    begin_passkey_sign_in,
    finish_passkey_registration,
    finish_passkey_sign_in,
    list_passkeys,
    remove_passkey,
    rename_passkey,
)
from ..flows.sign_in import RETURN_TO, is_reverified
from ..forms import PasskeyNameForm
from ..users import User, get_user
from .attempt_pages import browser_of
from .confirm import confirm_then
from .form_post import Posted, post_form
from .helpers import meta_of, page, redirect, redirect_target
from .json_api import NO_STORE, JsonHandler, json_endpoint, json_error
from .profile_pages import needs_recent_confirmation, signed_in_page
from .reverify import REVERIFY, require_reverification
from .sign_in import SIGN_IN

__all__ = [
    "passkey_add_endpoint",
    "passkey_remove_endpoint",
    "passkey_rename_endpoint",
    "register_options_endpoint",
    "register_verify_endpoint",
    "sign_in_options_endpoint",
    "sign_in_verify_endpoint",
]

SECURITY_PATH = "/user/security"
PASSKEYS_PATH = "/user/security/passkeys"


def passkey_endpoint(handler: JsonHandler) -> Callable[[Request], Awaitable[Response]]:
    """A JSON endpoint of the passkey script (404 where the site offers no passkeys)."""
    checked = json_endpoint(handler, malformed="passkey_failed", gone="passkey_expired")

    async def endpoint(request: Request) -> Response:
        if context_of(request).services.settings.passkey_rp_id is None:
            raise HTTPException(404)
        return await checked(request)

    return endpoint


def _ceremony_fields(data: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    attempt_id = data.get("attempt")
    credential = data.get("credential")
    if not isinstance(attempt_id, str) or len(attempt_id) > 64 or not isinstance(credential, dict):
        raise PasskeyFailed("passkey_failed", "malformed")
    return attempt_id, credential


def _as_json(finished: Response, url: str) -> JSONResponse:
    """A finished sign-in's redirect as the script's answer: the same cookies, and the
    address to go to."""
    response = JSONResponse({"redirect": url}, headers=NO_STORE)
    response.raw_headers.extend(h for h in finished.raw_headers if h[0] == b"set-cookie")
    return response


@passkey_endpoint
async def sign_in_options_endpoint(request: Request, data: Mapping[str, Any]) -> Response:
    """POST `/passkeys/sign-in/options`: a challenge for any passkey of the site (or,
    with `reverify`, for one of the signed-in user's)."""
    svc = context_of(request).services
    state = auth(request)
    wanted = data.get("redirect_url")
    target = redirect_target(request, wanted if isinstance(wanted, str) else None)
    reverify = None
    if data.get("reverify") is True:
        if state.user_id is None or state.session_id is None:
            return json_error(request, "passkey_expired", 401)
        reverify = (state.user_id, state.session_id)
    await svc.limiter.hit("passkey_options:ip", meta_of(request).ip_address)
    ceremony = await begin_passkey_sign_in(
        svc, browser=browser_of(request), return_to=target, reverify=reverify
    )
    return JSONResponse(
        {"attempt": ceremony.attempt_id, "publicKey": ceremony.options}, headers=NO_STORE
    )


@passkey_endpoint
async def sign_in_verify_endpoint(request: Request, data: Mapping[str, Any]) -> Response:
    """POST `/passkeys/sign-in/verify`: the passkey's answer; signed in (or reverified)."""
    svc = context_of(request).services
    state = auth(request)
    attempt_id, credential = _ceremony_fields(data)
    reverifying = data.get("reverify") is True
    if reverifying and state.session_id is None:
        return json_error(request, "passkey_expired", 401)
    step = await finish_passkey_sign_in(
        svc,
        attempt_id=attempt_id,
        credential=credential,
        browser=browser_of(request),
        meta=meta_of(request),
        session_id=state.session_id if reverifying else None,
    )
    kept = step.attempt.state_of(RETURN_TO).get("url")
    target = redirect_target(request, kept if isinstance(kept, str) else None)
    pages = REVERIFY if reverifying else SIGN_IN
    return _as_json(pages.finish(request, step, target), target)


UserJsonHandler = Callable[[Request, User, Mapping[str, Any]], Awaitable[Response]]


def _signed_in(handler: UserJsonHandler) -> Callable[[Request], Awaitable[Response]]:
    """A JSON endpoint for a signed-in, recently reverified session."""

    async def checked(request: Request, data: Mapping[str, Any]) -> Response:
        state = auth(request)
        svc = context_of(request).services
        if state.user_id is None or state.session_id is None:
            return json_error(request, "passkey_expired", 401)
        if not await is_reverified(svc, user_id=state.user_id, session_id=state.session_id):
            back = quote(f"{svc.mount_path}{PASSKEYS_PATH}/add", safe="")
            return JSONResponse(
                {"reverify": f"{svc.mount_path}/reverify?redirect_url={back}"},
                status_code=403,
                headers=NO_STORE,
            )
        user = await get_user(svc, state.user_id)
        if user is None:
            return json_error(request, "passkey_expired", 401)
        return await handler(request, user, data)

    return passkey_endpoint(checked)


@_signed_in
async def register_options_endpoint(
    request: Request, user: User, data: Mapping[str, Any]
) -> Response:
    """POST `/passkeys/register/options`: a challenge to create a passkey for the user."""
    svc = context_of(request).services
    ceremony = await begin_passkey_registration(
        svc,
        user_id=user.id,
        session_id=auth(request).session_id or "",
        browser=browser_of(request),
    )
    return JSONResponse(
        {"attempt": ceremony.attempt_id, "publicKey": ceremony.options}, headers=NO_STORE
    )


@_signed_in
async def register_verify_endpoint(
    request: Request, user: User, data: Mapping[str, Any]
) -> Response:
    """POST `/passkeys/register/verify`: the new passkey, kept; back to the security page."""
    svc = context_of(request).services
    attempt_id, credential = _ceremony_fields(data)
    await finish_passkey_registration(
        svc,
        attempt_id=attempt_id,
        credential=credential,
        user_id=user.id,
        session_id=auth(request).session_id or "",
        browser=browser_of(request),
        meta=meta_of(request),
    )
    url = f"{svc.mount_path}{SECURITY_PATH}?done=passkey_added#passkeys"
    return JSONResponse({"redirect": url}, headers=NO_STORE)


@needs_recent_confirmation(PASSKEYS_PATH + "/add")
async def passkey_add_endpoint(request: Request, user: User) -> Response:
    """GET `/user/security/passkeys/add`: the page whose button creates a passkey (the
    security page's own button comes here when "Confirm it's you" is due)."""
    svc = context_of(request).services
    if svc.settings.passkey_rp_id is None:
        raise HTTPException(404)
    count = len(await list_passkeys(svc, user.id))
    return page(
        request,
        "passkey_add",
        at_limit=count >= MAX_PASSKEYS,
        max=MAX_PASSKEYS,
        cancel_url=f"{svc.mount_path}{SECURITY_PATH}",
        errors={},
    )


async def _own_passkey(request: Request, user: User) -> tuple[str, str]:
    svc = context_of(request).services
    wanted = str(request.path_params["passkey_id"])
    found = next((p for p in await list_passkeys(svc, user.id) if p.id == wanted), None)
    if found is None:
        raise HTTPException(404)
    return found.id, found.name


@signed_in_page
async def passkey_rename_endpoint(request: Request, user: User) -> Response:
    """GET/POST `/user/security/passkeys/<id>/rename`: a name of the user's own."""
    svc = context_of(request).services
    passkey_id, name = await _own_passkey(request, user)
    action = f"{svc.mount_path}{PASSKEYS_PATH}/{passkey_id}/rename"

    async def render(form: PasskeyNameForm, errors: dict[str, str], status: int) -> Response:
        return page(
            request,
            "passkey_rename",
            form=form,
            action=action,
            cancel_url=f"{svc.mount_path}{SECURITY_PATH}",
            errors=errors,
            status_code=status,
        )

    if request.method == "GET":
        return await render(PasskeyNameForm(data={"name": name}), {}, 200)

    async def save(posted: Posted[PasskeyNameForm]) -> Response:
        await rename_passkey(
            svc,
            user_id=user.id,
            passkey_id=passkey_id,
            name=posted.form.name.data or "",
            meta=meta_of(request),
        )
        return redirect(request, f"{svc.mount_path}{SECURITY_PATH}?done=passkey_renamed")

    return await post_form(request, PasskeyNameForm, render, save)


@signed_in_page
async def passkey_remove_endpoint(request: Request, user: User) -> Response:
    """GET/POST `/user/security/passkeys/<id>/remove`: confirm it's you, confirm, remove."""
    svc = context_of(request).services
    passkey_id, name = await _own_passkey(request, user)
    here = f"{PASSKEYS_PATH}/{passkey_id}/remove"
    refused = await require_reverification(request, here)
    if refused is not None:
        return refused

    async def then() -> Response:
        await remove_passkey(svc, user_id=user.id, passkey_id=passkey_id, meta=meta_of(request))
        return redirect(request, f"{svc.mount_path}{SECURITY_PATH}?done=passkey_removed")

    return await confirm_then(
        request,
        title=svc.messages("passkey_remove_title"),
        text=svc.messages("passkey_remove_text", name=name),
        submit=svc.messages("passkey_remove_submit"),
        action=f"{svc.mount_path}{here}",
        cancel_url=f"{svc.mount_path}{SECURITY_PATH}",
        danger=True,
        then=then,
    )
