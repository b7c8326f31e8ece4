"""
The Account section's email addresses: add one (a code to the new address), verify it,
make a verified one primary, remove one. Adding, making primary and removing a verified
address first ask "Confirm it's you": each is a way to take over an account. Every page
works as a plain form post; an id that is not the user's is a 404.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..context import context_of
from ..errors import NotFound
from ..flows.email_addresses import (
    EmailAddress,
    begin_adding_address,
    list_addresses,
    pending_address,
    remove_address,
    resend_address_code,
    set_primary_address,
    verify_added_address,
)
from ..forms import AddEmailForm, CodeForm, ConfirmForm
from ..users import User
from .confirm import confirm_then
from .form_post import Posted, post_form
from .helpers import meta_of, page, redirect
from .profile_pages import signed_in_page
from .reverify import require_reverification

__all__ = [
    "add_email_endpoint",
    "email_primary_endpoint",
    "email_remove_endpoint",
    "email_resend_endpoint",
    "email_verify_endpoint",
]

ACCOUNT_PATH = "/user"
EMAILS_PATH = "/user/emails"


async def _address(request: Request, user: User) -> EmailAddress:
    """The address the path names, among this user's (verified or pending)."""
    address_id = request.path_params["address_id"]
    svc = context_of(request).services
    found = next((a for a in await list_addresses(svc, user.id) if a.id == address_id), None)
    if found is None:
        raise NotFound()
    return found


def _done(request: Request, flag: str) -> Response:
    mount = context_of(request).mount_path
    return redirect(request, f"{mount}{ACCOUNT_PATH}?done={flag}")


@signed_in_page
async def add_email_endpoint(request: Request, user: User) -> Response:
    """GET/POST `/user/emails/add`: type the new address; a code goes to it."""
    svc = context_of(request).services
    refused = await require_reverification(request, EMAILS_PATH + "/add")
    if refused is not None:
        return refused

    async def render(form: AddEmailForm, errors: dict[str, str], status: int) -> Response:
        return page(
            request,
            "add_email",
            form=form,
            cancel_url=f"{svc.mount_path}{ACCOUNT_PATH}",
            errors=errors,
            status_code=status,
        )

    if request.method == "GET":
        return await render(AddEmailForm(), {}, 200)

    async def action(posted: Posted[AddEmailForm]) -> Response:
        added = await begin_adding_address(
            svc, user_id=user.id, email=posted.form.email.data or "", meta=meta_of(request)
        )
        return redirect(request, f"{svc.mount_path}{EMAILS_PATH}/{added.id}/verify")

    return await post_form(request, AddEmailForm, render, action)


@signed_in_page
async def email_verify_endpoint(request: Request, user: User) -> Response:
    """GET/POST `/user/emails/{address_id}/verify`: the code sent to a new address."""
    svc = context_of(request).services
    pending = await pending_address(svc, user_id=user.id, step_id=request.path_params["address_id"])
    here = f"{svc.mount_path}{EMAILS_PATH}/{pending.id}"

    async def render(form: CodeForm, errors: dict[str, str], status: int) -> Response:
        form.code.data = "" if status == 200 else form.code.data
        sent = request.query_params.get("sent") == "1" and not errors
        return page(
            request,
            "verify_email",
            form=form,
            email=pending.email,
            action=f"{here}/verify",
            resend_action=f"{here}/resend",
            cancel_url=f"{svc.mount_path}{ACCOUNT_PATH}",
            notice=svc.messages("email_code_sent") if sent else None,
            errors=errors,
            status_code=status,
        )

    if request.method == "GET":
        return await render(CodeForm(), {}, 200)

    async def action(posted: Posted[CodeForm]) -> Response:
        await verify_added_address(
            svc,
            user_id=user.id,
            step_id=pending.id,
            code=posted.form.code.data or "",
            meta=meta_of(request),
        )
        return _done(request, "email_added")

    return await post_form(request, CodeForm, render, action)


@signed_in_page
async def email_resend_endpoint(request: Request, user: User) -> Response:
    """POST `/user/emails/{address_id}/resend`: a new code for a pending address."""
    svc = context_of(request).services
    pending = await pending_address(svc, user_id=user.id, step_id=request.path_params["address_id"])
    here = f"{svc.mount_path}{EMAILS_PATH}/{pending.id}"

    async def render(form: ConfirmForm, errors: dict[str, str], status: int) -> Response:
        code_form = CodeForm()
        return page(
            request,
            "verify_email",
            form=code_form,
            email=pending.email,
            action=f"{here}/verify",
            resend_action=f"{here}/resend",
            cancel_url=f"{svc.mount_path}{ACCOUNT_PATH}",
            errors=errors,
            status_code=status,
        )

    async def action(posted: Posted[ConfirmForm]) -> Response:
        await resend_address_code(svc, user_id=user.id, step_id=pending.id, meta=meta_of(request))
        return redirect(request, f"{here}/verify?sent=1")

    return await post_form(request, ConfirmForm, render, action)


@signed_in_page
async def email_primary_endpoint(request: Request, user: User) -> Response:
    """GET/POST `/user/emails/{address_id}/primary`: confirm, then it is the primary."""
    svc = context_of(request).services
    address = await _address(request, user)
    if not address.is_verified or address.is_primary:
        raise NotFound()
    refused = await require_reverification(request, f"{EMAILS_PATH}/{address.id}/primary")
    if refused is not None:
        return refused

    async def then() -> Response:
        await set_primary_address(
            svc, user_id=user.id, address_id=address.id, meta=meta_of(request)
        )
        return _done(request, "email_primary_changed")

    return await confirm_then(
        request,
        title=svc.messages("email_primary_title"),
        text=svc.messages("email_primary_text", email=address.email),
        submit=svc.messages("email_primary_submit"),
        action=f"{svc.mount_path}{EMAILS_PATH}/{address.id}/primary",
        cancel_url=f"{svc.mount_path}{ACCOUNT_PATH}",
        danger=False,
        then=then,
    )


@signed_in_page
async def email_remove_endpoint(request: Request, user: User) -> Response:
    """GET/POST `/user/emails/{address_id}/remove`: confirm, then the address goes (a
    pending one without "Confirm it's you": it was never usable)."""
    svc = context_of(request).services
    address = await _address(request, user)
    if address.is_primary:
        raise NotFound()
    if address.is_verified:
        refused = await require_reverification(request, f"{EMAILS_PATH}/{address.id}/remove")
        if refused is not None:
            return refused

    async def then() -> Response:
        await remove_address(svc, user_id=user.id, address_id=address.id, meta=meta_of(request))
        return _done(request, "email_removed")

    return await confirm_then(
        request,
        title=svc.messages("email_remove_title"),
        text=svc.messages("email_remove_text", email=address.email),
        submit=svc.messages("email_remove_submit"),
        action=f"{svc.mount_path}{EMAILS_PATH}/{address.id}/remove",
        cancel_url=f"{svc.mount_path}{ACCOUNT_PATH}",
        danger=True,
        then=then,
    )
