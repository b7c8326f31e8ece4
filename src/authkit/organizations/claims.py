"""
The session token's `o` claim (Clerk's, version 2): the session's active organization as
`{"id", "slg", "rol", "per"}`, the role without its `org:` prefix and the role's
permissions (without `org:`) joined by commas. Read from the membership each time a
token is minted, so a changed role or a removal shows within one token lifetime.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..store.models import MembershipRow, OrganizationRow
from .roles import Roles, permissions_claim

__all__ = ["active_membership", "organization_claim"]


async def active_membership(
    s: AsyncSession, user_id: str, organization_id: str | None
) -> tuple[OrganizationRow, MembershipRow] | None:
    """The organization and the user's membership of it; None when either is gone."""
    if organization_id is None:
        return None
    found = (
        await s.exec(
            select(OrganizationRow, MembershipRow)
            .join(MembershipRow, col(MembershipRow.organization_id) == col(OrganizationRow.id))
            .where(
                col(OrganizationRow.id) == organization_id,
                col(MembershipRow.user_id) == user_id,
            )
        )
    ).first()
    return None if found is None else (found[0], found[1])


def organization_claim(
    organization: OrganizationRow, membership: MembershipRow, roles: Roles
) -> dict[str, Any]:
    return {
        "id": organization.id,
        "slg": organization.slug,
        "rol": membership.role.removeprefix("org:"),
        "per": permissions_claim(roles.permissions_of(membership.role)),
    }
