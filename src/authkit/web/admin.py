"""
The admin console (`/admin`), for admins only: anyone else, signed in or not, gets the
404 any unknown address gets. The users list (`GET /admin`), a user's page (`GET
/admin/users/<id>`), and its actions (`POST /admin/users/<id>/<action>`), each after a
recent "Confirm it's you" of the admin, CSRF-checked, audited with the admin as actor,
and back to the user's page with a notice (a plain redirect: it works without
JavaScript). The webhook delivery log (`GET /admin/webhooks`) replays an event with
`POST /admin/webhooks/<seq>/replay`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..access import auth, current_user
from ..context import context_of
from ..flows import admin_console as console
from ..flows import sign_up_access
from ..flows.activity import activity_page
from ..flows.devices import active_devices
from ..forms import AddEmailForm, AdminAddressForm, AdminMetadataForm, ConfirmForm, SignUpForm
from ..metadata import METADATA_KINDS
from ..users import User
from .form_post import Posted, post_form
from .helpers import meta_of, page, redirect
from .impersonation import impersonate
from .reverify import require_reverification

__all__ = [
    "admin_approve_endpoint",
    "admin_invitations_endpoint",
    "admin_new_user_endpoint",
    "admin_user_action_endpoint",
    "admin_user_endpoint",
    "admin_users_endpoint",
    "admin_webhook_replay_endpoint",
    "admin_webhooks_endpoint",
]

ADMIN_PATH = "/admin"
WEBHOOK_STATES = ("pending", "delivered", "failed")
WEBHOOKS_PER_PAGE = 50
AdminHandler = Callable[[Request, User], Awaitable[Response]]

#: The notice each action leaves on the user's page.
DONE = {
    "banned": "admin_done_banned",
    "unbanned": "admin_done_unbanned",
    "sessions_revoked": "admin_done_sessions_revoked",
    "mfa_reset": "admin_done_mfa_reset",
    "address_verified": "admin_done_address_verified",
    "metadata_saved": "admin_done_metadata_saved",
    "reset_sent": "admin_done_reset_sent",
    "locked": "admin_done_locked",
    "unlocked": "admin_done_unlocked",
    "failures_forgotten": "admin_done_failures_forgotten",
    "created": "admin_done_created",
    "nothing": "admin_done_nothing",
}


def admin_only(
    handler: AdminHandler, *, methods: tuple[str, ...] = ("GET", "HEAD")
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint for admins, handed the admin; a 404 for everyone else (the console's
    existence is nobody else's business), whatever the method. An admin using another
    method than `methods` gets 405."""

    async def endpoint(request: Request) -> Response:
        if not auth(request).is_signed_in:
            raise HTTPException(404)
        admin = await current_user(request)
        if admin is None or not console.is_admin(context_of(request).services, admin):
            raise HTTPException(404)
        if request.method not in methods:
            raise HTTPException(405, headers={"Allow": ", ".join(methods)})
        response = await handler(request, admin)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex"
        return response

    return endpoint


@admin_only
async def admin_users_endpoint(request: Request, admin: User) -> Response:
    """GET `/admin?q=&filter=banned&filter=mfa&filter=unverified&sort=oldest&after=`."""
    svc = context_of(request).services
    params = request.query_params
    search = params.get("q", "")[: console.MAX_SEARCH_LENGTH]
    filters = [f for f in params.getlist("filter") if f in console.FILTERS]
    oldest_first = params.get("sort") == "oldest"
    found = await console.find_users(
        svc, search=search, filters=filters, cursor=params.get("after"), oldest_first=oldest_first
    )
    query: list[tuple[str, str]] = [("q", search)] if search else []
    query += [("filter", f) for f in filters]
    if oldest_first:
        query.append(("sort", "oldest"))
    here = f"{svc.mount_path}{ADMIN_PATH}"
    next_url = (
        f"{here}?{urlencode([*query, ('after', found.next_cursor)])}" if found.next_cursor else None
    )
    return page(
        request,
        "admin_users",
        admin=admin,
        notice=svc.messages("admin_done_deleted") if params.get("deleted") else None,
        rows=found.users,
        search=search,
        filters=filters,
        oldest_first=oldest_first,
        next_url=next_url,
        first_url=f"{here}?{urlencode(query)}" if params.get("after") else None,
    )


async def _user_page(
    request: Request,
    admin: User,
    user_id: str,
    *,
    errors: dict[str, str] | None = None,
    metadata: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    svc = context_of(request).services
    details = await console.user_details(svc, user_id)
    if details is None:
        raise HTTPException(404)
    devices = await active_devices(svc, user_id, current_session_id=None)
    activity = await activity_page(svc, user_id)
    done = DONE.get(request.query_params.get("done", ""))
    return page(
        request,
        "admin_user",
        admin=admin,
        details=details,
        devices=devices,
        events=activity.events,
        metadata=metadata if metadata is not None else details.metadata_json,
        errors=errors or {},
        notice=svc.messages(done) if done else None,
        is_self=user_id == admin.id,
        status_code=status_code,
    )


@admin_only
async def admin_user_endpoint(request: Request, admin: User) -> Response:
    """GET `/admin/users/<id>`."""
    return await _user_page(request, admin, str(request.path_params["user_id"]))


async def _user_action(request: Request, admin: User) -> Response:
    """POST `/admin/users/<id>/<action>`: one of ACTIONS (ban, unban, lock, unlock,
    forget-failures, revoke-sessions, reset-mfa, send-reset, verify-address, metadata,
    impersonate, delete)."""
    svc = context_of(request).services
    user_id = str(request.path_params["user_id"])
    action = str(request.path_params["action"])
    if action not in ACTIONS:
        raise HTTPException(404)
    refused = await require_reverification(request, f"{ADMIN_PATH}/users/{user_id}")
    if refused is not None:
        return refused
    form_class, run = ACTIONS[action]
    user_url = f"{svc.mount_path}{ADMIN_PATH}/users/{user_id}"

    async def render(form: Any, errors: dict[str, str], status: int) -> Response:
        texts: dict[str, str] | None = None
        if action == "metadata":  # the editors keep what was typed
            texts = {kind: str(form[kind].data or "") for kind in METADATA_KINDS}
        return await _user_page(
            request, admin, user_id, errors=errors, metadata=texts, status_code=status
        )

    async def act(posted: Posted[Any]) -> Response:
        if action in ("ban", "lock", "delete") and user_id == admin.id:
            # Locking yourself out of the console is never what an admin meant.
            return await render(posted.form, {"__all__": svc.messages("admin_not_yourself")}, 422)
        done = await run(request, admin, user_id, posted)
        if isinstance(done, Response):
            return done
        if action == "delete":
            if done is None:
                raise HTTPException(404)
            return redirect(request, f"{svc.mount_path}{ADMIN_PATH}?deleted=1")
        return redirect(request, f"{user_url}?done={done or 'nothing'}")

    return await post_form(request, form_class, render, act)


admin_user_action_endpoint = admin_only(_user_action, methods=("POST",))


ActionRun = Callable[[Request, User, str, Posted[Any]], Awaitable[str | Response | None]]
#: A console flow acting on one user: (svc, admin_id=, user_id=, meta=) → done or not.
SimpleFlow = Callable[..., Awaitable[bool | int]]


def _simple(flow: SimpleFlow, done: str) -> ActionRun:
    """An action with nothing to fill in: `done` when the flow changed something."""

    async def run(request: Request, admin: User, user_id: str, _: Posted[Any]) -> str | None:
        svc, meta = context_of(request).services, meta_of(request)
        changed = await flow(svc, admin_id=admin.id, user_id=user_id, meta=meta)
        return done if changed else None

    return run


async def _verify_address(
    request: Request, admin: User, user_id: str, posted: Posted[Any]
) -> str | None:
    svc, meta = context_of(request).services, meta_of(request)
    ok = await console.mark_address_verified(
        svc,
        admin_id=admin.id,
        user_id=user_id,
        address_id=str(posted.form.address_id.data or ""),
        meta=meta,
    )
    return "address_verified" if ok else None


async def _metadata(request: Request, admin: User, user_id: str, posted: Posted[Any]) -> str | None:
    svc, meta = context_of(request).services, meta_of(request)
    texts = {kind: str(posted.form[kind].data or "") for kind in METADATA_KINDS}
    ok = await console.save_metadata(
        svc, admin_id=admin.id, user_id=user_id, texts=texts, meta=meta
    )
    return "metadata_saved" if ok else None


async def _impersonate(request: Request, admin: User, user_id: str, _: Posted[Any]) -> Response:
    return await impersonate(request, admin, user_id)


ACTIONS: dict[str, tuple[type[Any], ActionRun]] = {
    "ban": (ConfirmForm, _simple(console.ban, "banned")),
    "unban": (ConfirmForm, _simple(console.unban, "unbanned")),
    "revoke-sessions": (ConfirmForm, _simple(console.revoke_sessions, "sessions_revoked")),
    "reset-mfa": (ConfirmForm, _simple(console.reset_mfa, "mfa_reset")),
    "send-reset": (ConfirmForm, _simple(console.send_reset, "reset_sent")),
    "delete": (ConfirmForm, _simple(console.delete, "deleted")),
    "lock": (ConfirmForm, _simple(console.lock, "locked")),
    "unlock": (ConfirmForm, _simple(console.unlock, "unlocked")),
    "forget-failures": (ConfirmForm, _simple(console.forget_failures, "failures_forgotten")),
    "verify-address": (AdminAddressForm, _verify_address),
    "metadata": (AdminMetadataForm, _metadata),
    "impersonate": (ConfirmForm, _impersonate),
}


@admin_only
async def admin_webhooks_endpoint(request: Request, admin: User) -> Response:
    """GET `/admin/webhooks?state=&before=`: the delivery log, newest first."""
    return await _webhooks_page(request, admin)


async def _webhooks_page(
    request: Request, admin: User, *, errors: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    svc = context_of(request).services
    state = request.query_params.get("state")
    state = state if state in WEBHOOK_STATES else None
    before = request.query_params.get("before", "")
    rows = await svc.webhooks.log(
        limit=WEBHOOKS_PER_PAGE + 1,
        before=int(before) if before.isdigit() and len(before) < 19 else None,
        state=state,
    )
    query = [("state", state)] if state else []
    here = f"{svc.mount_path}{ADMIN_PATH}/webhooks"
    older_url = (
        f"{here}?{urlencode([*query, ('before', str(rows[WEBHOOKS_PER_PAGE - 1].seq))])}"
        if len(rows) > WEBHOOKS_PER_PAGE
        else None
    )
    done = request.query_params.get("done") == "replayed"
    return page(
        request,
        "admin_webhooks",
        admin=admin,
        deliveries=rows[:WEBHOOKS_PER_PAGE],
        state=state,
        states=WEBHOOK_STATES,
        older_url=older_url,
        endpoints=svc.webhooks.endpoints,
        errors=errors or {},
        notice=svc.messages("admin_done_replayed") if done else None,
        status_code=status_code,
    )


async def _replay(request: Request, admin: User) -> Response:
    """POST `/admin/webhooks/<seq>/replay`: send that event again (same webhook-id)."""
    svc = context_of(request).services
    seq = int(request.path_params["seq"])
    refused = await require_reverification(request, f"{ADMIN_PATH}/webhooks")
    if refused is not None:
        return refused

    async def render(form: ConfirmForm, errors: dict[str, str], status: int) -> Response:
        return await _webhooks_page(request, admin, errors=errors, status_code=status)

    async def act(posted: Posted[ConfirmForm]) -> Response:
        if await svc.webhooks.replay(seq) is None:
            raise HTTPException(404)
        return redirect(request, f"{svc.mount_path}{ADMIN_PATH}/webhooks?done=replayed")

    return await post_form(request, ConfirmForm, render, act)


admin_webhook_replay_endpoint = admin_only(_replay, methods=("POST",))


async def _new_user(request: Request, admin: User) -> Response:
    """GET/POST `/admin/users/new`: create a user with a verified address and a
    password (the admin vouches for the address), after a recent "Confirm it's you"."""
    svc = context_of(request).services
    refused = await require_reverification(request, f"{ADMIN_PATH}/users/new")
    if refused is not None:
        return refused

    async def render(form: SignUpForm, errors: dict[str, str], status: int) -> Response:
        return page(
            request, "admin_new_user", admin=admin, form=form, errors=errors, status_code=status
        )

    if request.method != "POST":
        return await render(SignUpForm(), {}, 200)

    async def act(posted: Posted[SignUpForm]) -> Response:
        form = posted.form
        user_id = await console.create(
            svc,
            admin_id=admin.id,
            email=str(form.email.data or ""),
            password=posted.password(),
            first_name=str(form.first_name.data or ""),
            last_name=str(form.last_name.data or ""),
            meta=meta_of(request),
        )
        return redirect(request, f"{svc.mount_path}{ADMIN_PATH}/users/{user_id}?done=created")

    return await post_form(request, SignUpForm, render, act)


admin_new_user_endpoint = admin_only(_new_user, methods=("GET", "HEAD", "POST"))


async def _invitations(request: Request, admin: User) -> Response:
    """GET `/admin/invitations`: invite someone to sign up, and the waitlist to approve;
    POST: the invitation."""
    if request.method == "POST":
        return await _invite(request, admin)
    return await _invitations_page(request, admin)


async def _invitations_page(
    request: Request,
    admin: User,
    *,
    form: AddEmailForm | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    svc = context_of(request).services
    done = {"invited": "admin_done_invited", "approved": "admin_done_approved"}.get(
        request.query_params.get("done", "")
    )
    return page(
        request,
        "admin_invitations",
        admin=admin,
        form=form or AddEmailForm(),
        waiting=await sign_up_access.waitlist(svc),
        sign_up_mode=svc.settings.sign_up,
        errors=errors or {},
        notice=svc.messages(done) if done else None,
        status_code=status_code,
    )


async def _invite(request: Request, admin: User) -> Response:
    """POST `/admin/invitations`: mail an invitation to sign up, after a recent "Confirm
    it's you"; a mistake comes back beside the address, what was typed kept."""
    svc = context_of(request).services
    refused = await require_reverification(request, f"{ADMIN_PATH}/invitations")
    if refused is not None:
        return refused

    async def render(form: AddEmailForm, errors: dict[str, str], status: int) -> Response:
        return await _invitations_page(request, admin, form=form, errors=errors, status_code=status)

    async def act(posted: Posted[AddEmailForm]) -> Response:
        await sign_up_access.invite(
            svc, email=str(posted.form.email.data or ""), actor_id=admin.id, meta=meta_of(request)
        )
        return redirect(request, f"{svc.mount_path}{ADMIN_PATH}/invitations?done=invited")

    return await post_form(request, AddEmailForm, render, act)


async def _approve(request: Request, admin: User) -> Response:
    """POST `/admin/waitlist/<id>/approve`: let a waiting entry in (they are mailed an
    invitation to sign up)."""
    svc = context_of(request).services
    refused = await require_reverification(request, f"{ADMIN_PATH}/invitations")
    if refused is not None:
        return refused

    async def render(form: ConfirmForm, errors: dict[str, str], status: int) -> Response:
        return await _invitations_page(request, admin, errors=errors, status_code=status)

    async def act(posted: Posted[ConfirmForm]) -> Response:
        entry_id = str(request.path_params["entry_id"])[:40]
        if not await sign_up_access.approve(
            svc, entry_id=entry_id, actor_id=admin.id, meta=meta_of(request)
        ):
            raise HTTPException(404)
        return redirect(request, f"{svc.mount_path}{ADMIN_PATH}/invitations?done=approved")

    return await post_form(request, ConfirmForm, render, act)


admin_invitations_endpoint = admin_only(_invitations, methods=("GET", "HEAD", "POST"))
admin_approve_endpoint = admin_only(_approve, methods=("POST",))
