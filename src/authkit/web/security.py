"""
The profile's Security section (`/user/security`): the password (change it, or set one),
and two-step verification — set up an authenticator app, see how many recovery codes are
left, make new ones, turn it off. Changing the password asks for the current one; every
other change first asks "Confirm it's you" (reverify.py) and then carries on to the page
the user asked for; every form works as a plain post.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from ..access import auth
from ..context import context_of
from ..errors import FlowError
from ..flows.account_deletion import CONFIRMATION_PHRASE, delete_account
from ..flows.mfa import (
    begin_totp_setup,
    regenerate_recovery_codes,
    turn_off_mfa,
    turn_on_totp,
)
from ..flows.password_change import change_password, has_password
from ..forms import DeleteAccountForm, FactorForm, PasswordChangeForm
from ..profile_view import security_section
from ..users import User
from .attempt_cookie import TOTP_SETUP
from .confirm import confirm_then
from .form_post import Posted, post_form
from .helpers import clear_session_cookies, meta_of, page, redirect
from .profile_pages import needs_recent_confirmation, signed_in_page
from .reverify import require_reverification

__all__ = [
    "delete_account_endpoint",
    "password_endpoint",
    "recovery_codes_endpoint",
    "security_endpoint",
    "security_page",
    "totp_disable_endpoint",
    "totp_setup_endpoint",
]

SECURITY_PATH = "/user/security"
#: Notices after a change: a fixed flag in the URL maps to a fixed message.
DONE_MESSAGES: Mapping[str, str] = {
    "totp_off": "mfa_turned_off",
    "password_changed": "password_changed",
    "password_set": "password_set",
    "device_signed_out": "device_signed_out",
    "devices_signed_out": "devices_signed_out",
    "passkey_added": "passkey_added",
    "passkey_renamed": "passkey_renamed",
    "passkey_removed": "passkey_removed",
}


async def security_page(
    request: Request,
    user: User,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    svc = context_of(request).services
    done = DONE_MESSAGES.get(request.query_params.get("done", ""))
    section = await security_section(svc, user, auth(request).session_id)
    return page(
        request,
        "user_security",
        errors=errors or {},
        status_code=status_code,
        notice=svc.messages(done) if done else None,
        **section,
    )


security_endpoint = signed_in_page(security_page)


@needs_recent_confirmation(SECURITY_PATH + "/totp")
async def totp_setup_endpoint(request: Request, user: User) -> Response:
    """GET/POST `/user/security/totp`: scan, confirm with a first code, see the codes."""
    svc = context_of(request).services
    try:
        return await _totp_setup(request, user)
    except FlowError as error:
        if error.code != "totp_exists":
            raise
        # Set up meanwhile, in another tab: the security page says it is on.
        return redirect(request, f"{svc.mount_path}{SECURITY_PATH}")


async def _totp_setup(request: Request, user: User) -> Response:
    svc = context_of(request).services

    async def render(form: FactorForm, errors: dict[str, str], status: int) -> Response:
        form.code.data = ""
        setup = await begin_totp_setup(
            svc, user_id=user.id, account=user.email, sealed=TOTP_SETUP.read(request)
        )
        response = page(
            request,
            "totp_setup",
            form=form,
            setup=setup,
            required=False,
            action=f"{svc.mount_path}{SECURITY_PATH}/totp",
            cancel_url=f"{svc.mount_path}{SECURITY_PATH}",
            errors=errors,
            status_code=status,
        )
        TOTP_SETUP.set(response, request, setup.sealed)
        return response

    if request.method == "GET":
        return await render(FactorForm(), {}, 200)

    async def action(posted: Posted[FactorForm]) -> Response:
        codes = await turn_on_totp(
            svc,
            user_id=user.id,
            session_id=auth(request).session_id or "",
            code=posted.form.code.data or "",
            sealed=TOTP_SETUP.read(request),
            meta=meta_of(request),
        )
        response = _codes_page(request, codes, first_time=True)
        TOTP_SETUP.clear(response, request)
        return response

    return await post_form(request, FactorForm, render, action)


@needs_recent_confirmation(SECURITY_PATH + "/totp/disable")
async def totp_disable_endpoint(request: Request, user: User) -> Response:
    """GET/POST `/user/security/totp/disable`: confirm, then two-step verification is off."""
    svc = context_of(request).services

    async def then() -> Response:
        await turn_off_mfa(
            svc, user_id=user.id, session_id=auth(request).session_id, meta=meta_of(request)
        )
        return redirect(request, f"{svc.mount_path}{SECURITY_PATH}?done=totp_off")

    return await confirm_then(
        request,
        title=svc.messages("mfa_off_title"),
        text=svc.messages("mfa_off_text"),
        submit=svc.messages("mfa_off_submit"),
        action=f"{svc.mount_path}{SECURITY_PATH}/totp/disable",
        cancel_url=f"{svc.mount_path}{SECURITY_PATH}",
        danger=True,
        then=then,
    )


@needs_recent_confirmation(SECURITY_PATH + "/recovery-codes")
async def recovery_codes_endpoint(request: Request, user: User) -> Response:
    """GET/POST `/user/security/recovery-codes`: confirm, then ten new codes replace the
    old ones and are shown once."""
    svc = context_of(request).services

    async def then() -> Response:
        codes = await regenerate_recovery_codes(svc, user_id=user.id, meta=meta_of(request))
        return _codes_page(request, codes, first_time=False)

    return await confirm_then(
        request,
        title=svc.messages("regenerate_title"),
        text=svc.messages("regenerate_text"),
        submit=svc.messages("regenerate_submit"),
        action=f"{svc.mount_path}{SECURITY_PATH}/recovery-codes",
        cancel_url=f"{svc.mount_path}{SECURITY_PATH}",
        danger=False,
        then=then,
    )


@signed_in_page
async def password_endpoint(request: Request, user: User) -> Response:
    """GET/POST `/user/security/password`: change the password with the current one, or
    set one (after "Confirm it's you") when the user has none."""
    svc = context_of(request).services
    path = SECURITY_PATH + "/password"
    has_one = await has_password(svc, user.id)
    if not has_one:
        refused = await require_reverification(request, path)
        if refused is not None:
            return refused

    async def render(form: PasswordChangeForm, errors: dict[str, str], status: int) -> Response:
        return page(
            request,
            "password_change",
            form=form,
            has_password=has_one,
            email=user.email,
            password_min_length=svc.settings.password_min_length,
            errors=errors,
            status_code=status,
        )

    if request.method == "GET":
        return await render(PasswordChangeForm(), {}, 200)

    async def action(posted: Posted[PasswordChangeForm]) -> Response:
        was_set = await change_password(
            svc,
            user_id=user.id,
            session_id=auth(request).session_id or "",
            current_password=posted.password("current_password"),
            new_password=posted.password("new_password"),
            sign_out_others=bool(posted.form.sign_out_others.data),
            meta=meta_of(request),
        )
        done = "password_set" if was_set else "password_changed"
        return redirect(request, f"{svc.mount_path}{SECURITY_PATH}?done={done}")

    return await post_form(request, PasswordChangeForm, render, action)


@needs_recent_confirmation(SECURITY_PATH + "/delete")
async def delete_account_endpoint(request: Request, user: User) -> Response:
    """GET/POST `/user/security/delete`: type the phrase, then the account and everything
    of it is gone; this browser is signed out and lands on the sign-in page."""
    svc = context_of(request).services

    async def render(form: DeleteAccountForm, errors: dict[str, str], status: int) -> Response:
        return page(
            request,
            "delete_account",
            form=form,
            phrase=svc.messages(CONFIRMATION_PHRASE),
            errors=errors,
            status_code=status,
        )

    if request.method == "GET":
        return await render(DeleteAccountForm(), {}, 200)

    async def action(posted: Posted[DeleteAccountForm]) -> Response:
        await delete_account(
            svc,
            user_id=user.id,
            session_id=auth(request).session_id,
            confirmation=posted.form.confirmation.data or "",
            meta=meta_of(request),
        )
        # The sign-in page, not the site's home: it can say what happened.
        response = redirect(request, f"{svc.mount_path}/sign-in?deleted=1")
        clear_session_cookies(response, request)
        clear_site_data = svc.settings.sign_out_clear_site_data.strip()
        if clear_site_data:
            # As at sign-out: Back must not show the deleted account's pages.
            response.headers["Clear-Site-Data"] = clear_site_data
        return response

    return await post_form(request, DeleteAccountForm, render, action)


def _codes_page(request: Request, codes: list[str], *, first_time: bool) -> Response:
    mount = context_of(request).mount_path
    return page(
        request,
        "recovery_codes",
        codes=codes,
        continue_url=f"{mount}{SECURITY_PATH}",
        first_time=first_time,
    )
