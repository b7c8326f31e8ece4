"""
The organizations pages, when `AUTHKIT_ORGANIZATIONS` is on (404 otherwise):

- `/organizations`: the user's organizations and invitations; a POST of `organization_id`
  (empty: the personal account) makes it the session's active one and goes on to
  `redirect_url` with the new session token;
- `/organizations/new`: `name` and `slug`; the creator becomes admin and the new
  organization active;
- `/organizations/<slug>`: its profile for members (general, members, invitations,
  domains), and `POST /organizations/<slug>/<action>` for what the member's role allows;
- `/organizations/invitations/<token>`: the emailed link; accepting is a POST.

Someone outside an organization gets the 404 an unknown slug gets. Every action is a
plain form (CSRF-checked; it works without JavaScript) answered with the page again and
the message beside its field, or a redirect with a notice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..access import auth, current_user
from ..context import context_of
from ..flows import org_invitations as invitations
from ..flows import organizations as orgs
from ..forms import (
    AvatarForm,
    ConfirmForm,
    InvitationIdForm,
    InviteForm,
    MemberForm,
    MemberRoleForm,
    OrganizationForm,
    OrgDomainForm,
    OrgDomainIdForm,
    SwitchOrganizationForm,
)
from ..images import AVATAR_MAX_BYTES
from ..organization_view import profile_context
from ..users import User
from .avatars import NOT_FOUND_HEADERS, UPLOAD, image_response
from .form_post import Posted, post_form
from .helpers import meta_of, page, redirect, redirect_target, set_session_token_cookie
from .profile_pages import Endpoint, UserHandler, signed_in_page
from .reverify import require_reverification

__all__ = [
    "invitation_accept_endpoint",
    "invitation_endpoint",
    "logo_image_endpoint",
    "new_organization_endpoint",
    "organization_action_endpoint",
    "organization_endpoint",
    "organization_logo_endpoint",
    "organizations_endpoint",
]

ORGS = "/organizations"

#: The notice a finished action leaves on the page it goes back to.
DONE = {
    "saved": "org_done_saved",
    "invited": "org_done_invited",
    "revoked": "org_done_revoked",
    "resent": "org_done_resent",
    "role": "org_done_role",
    "removed": "org_done_removed",
    "domain_added": "org_done_domain_added",
    "domain_removed": "org_done_domain_removed",
    "logo": "org_done_logo",
    "logo_removed": "org_done_logo_removed",
    "joined": "org_done_joined",
    "created": "org_done_created",
    "left": "org_done_left",
    "deleted": "org_done_deleted",
    "nothing": "org_done_nothing",
}


def organizations_page(handler: UserHandler) -> Endpoint:
    """A signed-in page that exists only when organizations are on."""
    signed_in = signed_in_page(handler)

    async def endpoint(request: Request) -> Response:
        if not context_of(request).services.settings.organizations:
            raise HTTPException(404)
        response = await signed_in(request)
        response.headers["Cache-Control"] = "no-store"
        return response

    return endpoint


def _notice(request: Request) -> str | None:
    done = DONE.get(request.query_params.get("done", ""))
    return context_of(request).services.messages(done) if done else None


async def _activate(
    request: Request, user: User, organization_id: str | None, target: str
) -> Response:
    """Make `organization_id` the session's active organization and go to `target`."""
    svc = context_of(request).services
    session_id = auth(request).session_id
    token = None
    if session_id is not None:
        token = await orgs.set_active(
            svc,
            user_id=user.id,
            session_id=session_id,
            organization_id=organization_id,
            meta=meta_of(request),
        )
    response = redirect(request, target)
    if token:
        set_session_token_cookie(response, request, token)
    return response


# /organizations


async def _list_page(
    request: Request,
    user: User,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    svc = context_of(request).services
    return page(
        request,
        "organizations",
        user=user,
        memberships=await orgs.memberships_of(svc, user.id),
        invitations=await invitations.invitations_for_user(svc, user.id),
        active_id=auth(request).org_id,
        redirect_url=request.query_params.get("redirect_url", "")[:2048],
        errors=errors or {},
        notice=_notice(request),
        status_code=status_code,
    )


@organizations_page
async def organizations_endpoint(request: Request, user: User) -> Response:
    """GET the list; POST `organization_id` (empty: personal account) to switch."""
    if request.method != "POST":
        return await _list_page(request, user)

    async def render(form: SwitchOrganizationForm, errors: dict[str, str], status: int) -> Response:
        return await _list_page(request, user, errors=errors, status_code=status)

    async def act(posted: Posted[SwitchOrganizationForm]) -> Response:
        form = posted.form
        target = redirect_target(request, form.redirect_url.data)
        return await _activate(request, user, form.organization_id.data or None, target)

    return await post_form(request, SwitchOrganizationForm, render, act)


@organizations_page
async def invitation_accept_endpoint(request: Request, user: User) -> Response:
    """POST `/organizations/invitations/<id>/accept`: from the user's own list."""

    async def render(form: ConfirmForm, errors: dict[str, str], status: int) -> Response:
        return await _list_page(request, user, errors=errors, status_code=status)

    async def act(posted: Posted[ConfirmForm]) -> Response:
        membership = await invitations.accept_invitation(
            context_of(request).services,
            user_id=user.id,
            invitation_id=str(request.path_params["invitation_id"])[:40],
            meta=meta_of(request),
        )
        return await _joined(request, user, membership)

    return await post_form(request, ConfirmForm, render, act)


async def _joined(request: Request, user: User, membership: orgs.Membership) -> Response:
    mount = context_of(request).mount_path
    slug = quote(membership.organization.slug)
    return await _activate(
        request, user, membership.organization.id, f"{mount}{ORGS}/{slug}?done=joined"
    )


# /organizations/new


@organizations_page
async def new_organization_endpoint(request: Request, user: User) -> Response:
    """GET the form; POST `name` and `slug` (optional): the creator is its admin."""

    async def render(form: OrganizationForm, errors: dict[str, str], status: int) -> Response:
        return page(
            request,
            "organization_new",
            component="create_organization",
            form=form,
            errors=errors,
            status_code=status,
        )

    if request.method != "POST":
        return await render(OrganizationForm(), {}, 200)

    async def act(posted: Posted[OrganizationForm]) -> Response:
        form = posted.form
        created = await orgs.create_organization(
            context_of(request).services,
            name=str(form.name.data or ""),
            slug=str(form.slug.data or "") or None,
            created_by=user.id,
            meta=meta_of(request),
        )
        mount = context_of(request).mount_path
        return await _activate(
            request, user, created.id, f"{mount}{ORGS}/{quote(created.slug)}?done=created"
        )

    return await post_form(request, OrganizationForm, render, act)


# /organizations/<slug>


async def _membership(request: Request, user: User) -> orgs.Membership:
    found = await orgs.organization_by_slug(
        context_of(request).services, user_id=user.id, slug=str(request.path_params["slug"])
    )
    if found is None:
        raise HTTPException(404)
    return found


async def _profile_page(
    request: Request,
    user: User,
    membership: orgs.Membership,
    *,
    failed: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The organization's page; after a refused action, `failed` names it, and its
    form shows `errors` and the `values` typed."""
    svc = context_of(request).services
    try:
        offset = max(0, int(request.query_params.get("offset", "0")[:9]))
    except ValueError:
        offset = 0
    context = await profile_context(
        svc,
        user,
        membership,
        search=request.query_params.get("q", "")[: orgs.MAX_SEARCH_LENGTH],
        offset=offset,
    )
    return page(
        request,
        "organization",
        component="organization_profile",
        **context,
        failed=failed,
        values=values or {},
        errors=errors or {},
        notice=_notice(request),
        status_code=status_code,
    )


@organizations_page
async def organization_endpoint(request: Request, user: User) -> Response:
    """GET `/organizations/<slug>`: for members only."""
    return await _profile_page(request, user, await _membership(request, user))


Run = Callable[[Request, User, orgs.Membership, Posted[Any]], Awaitable[str | Response]]


async def _save_profile(
    request: Request, user: User, membership: orgs.Membership, posted: Posted[Any]
) -> str | Response:
    form = posted.form
    saved = await orgs.update_organization(
        context_of(request).services,
        organization_id=membership.organization.id,
        actor_id=user.id,
        name=str(form.name.data or ""),
        slug=str(form.slug.data or ""),
        meta=meta_of(request),
    )
    mount = context_of(request).mount_path
    return redirect(request, f"{mount}{ORGS}/{quote(saved.slug)}?done=saved")


async def _leave(
    request: Request, user: User, membership: orgs.Membership, posted: Posted[Any]
) -> Response:
    await orgs.leave(
        context_of(request).services,
        organization_id=membership.organization.id,
        user_id=user.id,
        meta=meta_of(request),
    )
    return await _back_to_list(request, user, membership, "left")


async def _delete(
    request: Request, user: User, membership: orgs.Membership, posted: Posted[Any]
) -> Response:
    await orgs.delete_organization(
        context_of(request).services,
        organization_id=membership.organization.id,
        actor_id=user.id,
        meta=meta_of(request),
    )
    return await _back_to_list(request, user, membership, "deleted")


async def _back_to_list(
    request: Request, user: User, membership: orgs.Membership, done: str
) -> Response:
    """To the organizations list; a session working in the organization it left goes
    back to the personal account at once (its next token would anyway)."""
    target = f"{context_of(request).mount_path}{ORGS}?done={done}"
    if auth(request).org_id == membership.organization.id:
        return await _activate(request, user, None, target)
    return redirect(request, target)


def _acting(flow: Callable[..., Awaitable[object]], done: str, *fields: str) -> Run:
    """An action running `flow` on the organization as the member, with the form's
    `fields` as its keywords; its notice is `done`, or "nothing" when the flow answered
    False (an id that is not this organization's, a member already gone)."""

    async def run(
        request: Request, user: User, membership: orgs.Membership, posted: Posted[Any]
    ) -> str:
        values = {name: str(getattr(posted.form, name).data or "") for name in fields}
        changed = await flow(
            context_of(request).services,
            organization_id=membership.organization.id,
            actor_id=user.id,
            meta=meta_of(request),
            **values,
        )
        return "nothing" if changed is False else done

    return run


#: action → (form, what it runs, whether it needs a recent "Confirm it's you").
ACTIONS: dict[str, tuple[type[Any], Run, bool]] = {
    "profile": (OrganizationForm, _save_profile, False),
    "invite": (InviteForm, _acting(invitations.invite, "invited", "email", "role"), False),
    "revoke": (
        InvitationIdForm,
        _acting(invitations.revoke_invitation, "revoked", "invitation_id"),
        False,
    ),
    "resend": (
        InvitationIdForm,
        _acting(invitations.resend_invitation, "resent", "invitation_id"),
        False,
    ),
    "role": (MemberRoleForm, _acting(orgs.set_role, "role", "user_id", "role"), False),
    "remove": (MemberForm, _acting(orgs.remove_member, "removed", "user_id"), False),
    "domain": (
        OrgDomainForm,
        _acting(invitations.add_domain, "domain_added", "domain", "enrollment"),
        False,
    ),
    "remove-domain": (
        OrgDomainIdForm,
        _acting(invitations.remove_domain, "domain_removed", "domain_id"),
        False,
    ),
    "remove-logo": (ConfirmForm, _acting(orgs.remove_logo, "logo_removed"), False),
    "leave": (ConfirmForm, _leave, False),
    "delete": (ConfirmForm, _delete, True),
}


@organizations_page
async def organization_action_endpoint(request: Request, user: User) -> Response:
    """POST `/organizations/<slug>/<action>` (ACTIONS)."""
    action = str(request.path_params["action"])
    if action not in ACTIONS:
        raise HTTPException(404)
    membership = await _membership(request, user)
    form_class, run, sensitive = ACTIONS[action]
    if sensitive:
        refused = await require_reverification(
            request, f"{ORGS}/{quote(membership.organization.slug)}"
        )
        if refused is not None:
            return refused

    async def render(form: Any, errors: dict[str, str], status: int) -> Response:
        values = {field.name: field.data for field in form if field.name != "csrf_token"}
        return await _profile_page(
            request,
            user,
            membership,
            failed=action,
            errors=errors,
            values=values,
            status_code=status,
        )

    async def act(posted: Posted[Any]) -> Response:
        done = await run(request, user, membership, posted)
        if isinstance(done, Response):
            return done
        anchor = {"invited": "#invitations", "revoked": "#invitations", "resent": "#invitations"}
        here = f"{context_of(request).mount_path}{ORGS}/{quote(membership.organization.slug)}"
        return redirect(request, f"{here}?done={done}{anchor.get(done, '')}")

    return await post_form(request, form_class, render, act)


# Logos


@organizations_page
async def organization_logo_endpoint(request: Request, user: User) -> Response:
    """POST `/organizations/<slug>/logo`: the uploaded image becomes the logo (a multipart
    form that works without JavaScript)."""
    membership = await _membership(request, user)
    svc = context_of(request).services

    async def render(form: AvatarForm, errors: dict[str, str], status: int) -> Response:
        # A refused image beside the file field; anything else (an expired form, a role
        # that may not) at the top of the page.
        return await _profile_page(
            request, user, membership, failed="logo", errors=errors, status_code=status
        )

    async def act(posted: Posted[AvatarForm]) -> Response:
        upload = posted.form.image.data
        # One byte more than allowed is enough to know it is too large.
        data = await upload.read(AVATAR_MAX_BYTES + 1) if isinstance(upload, UploadFile) else b""
        await orgs.set_logo(
            svc,
            organization_id=membership.organization.id,
            actor_id=user.id,
            data=data,
            meta=meta_of(request),
        )
        here = f"{svc.mount_path}{ORGS}/{quote(membership.organization.slug)}"
        return redirect(request, f"{here}?done=logo")

    return await post_form(request, AvatarForm, render, act, upload=UPLOAD)


async def logo_image_endpoint(request: Request) -> Response:
    """GET `/organizations/logos/<id>/<hash>.webp`: public, as profile pictures are."""
    svc = context_of(request).services
    content_hash = str(request.path_params["content_hash"])
    data = await orgs.logo_image(svc, str(request.path_params["organization_id"]), content_hash)
    if data is None or not svc.settings.organizations:
        return Response(status_code=404, headers=dict(NOT_FOUND_HEADERS))
    return image_response(request, data, content_hash)


# /organizations/invitations/<token>


async def invitation_endpoint(request: Request) -> Response:
    """GET: what the emailed link invites to, and how to accept; POST: accept."""
    svc = context_of(request).services
    if not svc.settings.organizations:
        raise HTTPException(404)
    token = str(request.path_params["token"])
    invitation = await invitations.invitation_by_token(svc, token)
    user = await current_user(request) if auth(request).is_signed_in else None
    here = f"{svc.mount_path}{ORGS}/invitations/{quote(token)}"

    async def render(form: Any, errors: dict[str, str], status: int) -> Response:
        may_accept = (
            user is not None
            and invitation is not None
            and await invitations.may_accept(svc, user.id, invitation)
        )
        response = page(
            request,
            "organization_invitation",
            invitation=invitation,
            user=user,
            may_accept=may_accept,
            here=here,
            sign_in_url=f"{svc.mount_path}/sign-in?redirect_url={quote(here, safe='')}",
            sign_up_url=f"{svc.mount_path}/sign-up?redirect_url={quote(here, safe='')}",
            errors=errors,
            status_code=status,
        )
        response.headers["Cache-Control"] = "no-store"
        # The token is in the path: never pass it on to another site.
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    if invitation is None:
        return await render(None, {}, 404)
    if request.method != "POST":
        return await render(None, {}, 200)
    if user is None:
        return redirect(request, f"{svc.mount_path}/sign-in?redirect_url={quote(here, safe='')}")
    signed_in_user = user

    async def act(posted: Posted[ConfirmForm]) -> Response:
        membership = await invitations.accept_invitation(
            svc, user_id=signed_in_user.id, token=token, meta=meta_of(request)
        )
        return await _joined(request, signed_in_user, membership)

    return await post_form(request, ConfirmForm, render, act)
