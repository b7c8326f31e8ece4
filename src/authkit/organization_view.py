"""
What the organization pages and components show, loaded once per page: the sub-app's
`/organizations/...` pages and a host page embedding `{{ authkit.organization_switcher() }}`
or `{{ authkit.organization_profile() }}` read the same data through the same functions.
Templates never query, so a host endpoint loads it first:

    orgs = await load_organizations(request)      # None when signed out
    return templates.TemplateResponse(request, "team.html", {"orgs": orgs})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import HTTPConnection

from .access import auth, current_user
from .context import context_of
from .flows import org_invitations as invitations
from .flows import organizations as orgs
from .organizations.roles import (
    DELETE_ORGANIZATION,
    MANAGE_DOMAINS,
    MANAGE_MEMBERS,
    MANAGE_PROFILE,
    READ_DOMAINS,
    READ_MEMBERS,
)
from .services import Services
from .users import User

__all__ = ["MEMBERS_PER_PAGE", "OrganizationList", "load_organizations", "profile_context"]

ORGANIZATIONS_KEY = "authkit.organizations"
MEMBERS_PER_PAGE = 20


@dataclass(frozen=True, slots=True)
class OrganizationList:
    """The signed-in user's organizations, invitations, and the active organization with
    what its profile shows (None for the personal account)."""

    user: User
    memberships: list[orgs.Membership]
    invitations: list[invitations.Invitation]
    active: orgs.Membership | None
    profile: Mapping[str, Any] | None


async def profile_context(
    svc: Services,
    user: User,
    membership: orgs.Membership,
    *,
    search: str = "",
    offset: int = 0,
) -> dict[str, Any]:
    """An organization's profile as `membership` may see it: members (a page of those
    matching `search`), invitations and domains when the role allows, and what it may do."""
    organization = membership.organization
    members: list[orgs.Member] = []
    total = 0
    if membership.can(READ_MEMBERS):
        members, total = await orgs.members_of(
            svc,
            organization_id=organization.id,
            actor_id=user.id,
            search=search,
            limit=MEMBERS_PER_PAGE,
            offset=offset,
        )
    pending = (
        await invitations.invitations_of(svc, organization_id=organization.id, actor_id=user.id)
        if membership.can(MANAGE_MEMBERS)
        else []
    )
    domains = (
        await invitations.domains_of(svc, organization_id=organization.id, actor_id=user.id)
        if membership.can(READ_DOMAINS)
        else []
    )
    here = f"{svc.mount_path}/organizations/{quote(organization.slug)}"
    query = [("q", search)] if search else []

    def page_url(at: int) -> str:
        return f"{here}?{urlencode([*query, ('offset', at)])}#members"

    return {
        "user": user,
        "membership": membership,
        "organization": organization,
        "members": members,
        "members_total": total,
        "search": search,
        "next_url": page_url(offset + MEMBERS_PER_PAGE)
        if offset + MEMBERS_PER_PAGE < total
        else None,
        "previous_url": page_url(max(0, offset - MEMBERS_PER_PAGE)) if offset else None,
        "invitations": pending,
        "domains": domains,
        "roles": orgs.roles_for_forms(svc),
        "can": {
            "manage_profile": membership.can(MANAGE_PROFILE),
            "delete": membership.can(DELETE_ORGANIZATION),
            "read_members": membership.can(READ_MEMBERS),
            "manage_members": membership.can(MANAGE_MEMBERS),
            "read_domains": membership.can(READ_DOMAINS),
            "manage_domains": membership.can(MANAGE_DOMAINS),
        },
        "org_url": here,
    }


async def load_organizations(request: HTTPConnection) -> OrganizationList | None:
    """
    The signed-in user's organizations for `authkit.organization_switcher()` and
    `authkit.organization_profile()`; None when nobody is signed in (or the account is
    gone). Cached on the request.
    """
    cached = request.scope.get(ORGANIZATIONS_KEY)
    if isinstance(cached, OrganizationList):
        return cached
    user = await current_user(request)
    if user is None:
        return None
    svc = context_of(request).services
    memberships = await orgs.memberships_of(svc, user.id)
    active_id = auth(request).org_id
    active = next((m for m in memberships if m.organization.id == active_id), None)
    found = OrganizationList(
        user=user,
        memberships=memberships,
        invitations=await invitations.invitations_for_user(svc, user.id),
        active=active,
        profile=await profile_context(svc, user, active) if active is not None else None,
    )
    request.scope[ORGANIZATIONS_KEY] = found
    return found
