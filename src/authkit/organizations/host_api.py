"""
The organizations, for a host's own code: `AuthKit.organizations`. Each method is a thin
door onto the flows the pages use, acting as the site itself (no member's permission is
needed), so the rules (a last admin kept, limits, audit, webhooks, mail) hold whoever asks.

    org = await authkit.organizations.create(name="Acme", created_by=user_id)
    await authkit.organizations.invite(org.id, "ada@acme.test", role="org:member")
    await authkit.organizations.add_member(org.id, other_user_id, role="org:admin")
    for membership in await authkit.organizations.memberships(user_id): ...
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from ..flows import org_invitations, organizations
from ..flows.org_invitations import Domain, Invitation
from ..flows.organizations import Member, Membership, Organization, organization_view
from ..services import Services
from ..store.models import OrganizationRow
from ..user_admin import HOST
from .roles import MEMBER

__all__ = ["Organizations"]

#: The most organizations or members one call returns.
MAX_PAGE = 500


class Organizations:
    def __init__(self, svc: Services) -> None:
        self._svc = svc

    async def get(self, organization_id: str) -> Organization | None:
        async with self._svc.db.session() as s:
            row = await s.get(OrganizationRow, organization_id)
        return organization_view(self._svc, row) if row is not None else None

    async def get_by_slug(self, slug: str) -> Organization | None:
        async with self._svc.db.session() as s:
            row = (
                await s.exec(select(OrganizationRow).where(col(OrganizationRow.slug) == slug))
            ).first()
        return organization_view(self._svc, row) if row is not None else None

    async def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> builtins.list[Organization]:
        """Every organization by name; `search` matches part of a name or a slug."""
        query = select(OrganizationRow)
        if search:
            needle = "%" + search.strip().lower().replace("%", "").replace("_", "") + "%"
            query = query.where(
                func.lower(OrganizationRow.name).like(needle)
                | col(OrganizationRow.slug).like(needle)
            )
        query = (
            query.order_by(func.lower(OrganizationRow.name), col(OrganizationRow.id))
            .limit(max(0, min(limit, MAX_PAGE)))
            .offset(max(0, offset))
        )
        async with self._svc.db.session() as s:
            rows = (await s.exec(query)).all()
        return [organization_view(self._svc, row) for row in rows]

    async def create(
        self,
        *,
        name: str,
        slug: str | None = None,
        created_by: str | None = None,
        public_metadata: Mapping[str, Any] | None = None,
        private_metadata: Mapping[str, Any] | None = None,
    ) -> Organization:
        """A new organization; `created_by` (a user id) becomes its admin.

        Raises:
            FieldError: the name or slug is wrong or taken, or the creator is in as many
                organizations as a user may be.
        """
        return await organizations.create_organization(
            self._svc,
            name=name,
            slug=slug,
            created_by=created_by,
            meta=HOST,
            public_metadata=public_metadata,
            private_metadata=private_metadata,
        )

    async def update(
        self,
        organization_id: str,
        *,
        name: str | None = None,
        slug: str | None = None,
        public_metadata: Mapping[str, Any] | None = None,
        private_metadata: Mapping[str, Any] | None = None,
    ) -> Organization:
        """Raises `OrganizationNotFound` or a `FieldError`."""
        return await organizations.update_organization(
            self._svc,
            organization_id=organization_id,
            actor_id=None,
            name=name,
            slug=slug,
            public_metadata=public_metadata,
            private_metadata=private_metadata,
            meta=HOST,
        )

    async def delete(self, organization_id: str) -> None:
        """Raises `OrganizationNotFound`."""
        await organizations.delete_organization(
            self._svc, organization_id=organization_id, actor_id=None, meta=HOST
        )

    async def add_member(
        self, organization_id: str, user_id: str, *, role: str = MEMBER
    ) -> Membership:
        """Raises `OrganizationNotFound` or a `FieldError` (unknown user or role, already
        a member, a limit reached)."""
        return await organizations.add_member(
            self._svc,
            organization_id=organization_id,
            user_id=user_id,
            role=role,
            actor_id=None,
            meta=HOST,
        )

    async def remove_member(self, organization_id: str, user_id: str) -> bool:
        """False when they were not a member. Raises `FieldError` for the last admin."""
        return await organizations.remove_member(
            self._svc, organization_id=organization_id, user_id=user_id, actor_id=None, meta=HOST
        )

    async def set_role(self, organization_id: str, user_id: str, role: str) -> bool:
        """False when they are not a member. Raises `FieldError` for an unknown role or
        the last admin."""
        return await organizations.set_role(
            self._svc,
            organization_id=organization_id,
            user_id=user_id,
            role=role,
            actor_id=None,
            meta=HOST,
        )

    async def members(
        self, organization_id: str, *, search: str = "", limit: int = 100, offset: int = 0
    ) -> builtins.list[Member]:
        found, _ = await organizations.members_of(
            self._svc,
            organization_id=organization_id,
            actor_id=None,
            search=search,
            limit=min(limit, MAX_PAGE),
            offset=offset,
        )
        return found

    async def memberships(self, user_id: str) -> builtins.list[Membership]:
        """The organizations `user_id` is in, with their role in each."""
        return await organizations.memberships_of(self._svc, user_id)

    async def invite(
        self,
        organization_id: str,
        email: str,
        *,
        role: str = MEMBER,
        inviter_id: str | None = None,
    ) -> Invitation:
        """Mail an invitation. With `inviter_id` it is sent in that member's name and
        checked as theirs would be (they must be allowed to invite).

        Raises:
            FieldError: the address or role is wrong, already a member, the organization
                is full.
            RateLimited: the organization sent too many invitations lately.
        """
        return await org_invitations.invite(
            self._svc,
            organization_id=organization_id,
            email=email,
            role=role,
            actor_id=inviter_id,
            meta=HOST,
        )

    async def invitations(self, organization_id: str) -> builtins.list[Invitation]:
        """Pending (and expired, not yet revoked) invitations."""
        return await org_invitations.invitations_of(
            self._svc, organization_id=organization_id, actor_id=None
        )

    async def revoke_invitation(self, organization_id: str, invitation_id: str) -> bool:
        return await org_invitations.revoke_invitation(
            self._svc,
            organization_id=organization_id,
            invitation_id=invitation_id,
            actor_id=None,
            meta=HOST,
        )

    async def add_domain(
        self, organization_id: str, domain: str, *, enrollment: str = "invite"
    ) -> Domain:
        """A verified domain (the site vouches for it): `invite` or `join`."""
        return await org_invitations.add_domain(
            self._svc,
            organization_id=organization_id,
            domain=domain,
            enrollment=enrollment,
            actor_id=None,
            meta=HOST,
        )

    async def domains(self, organization_id: str) -> builtins.list[Domain]:
        return await org_invitations.domains_of(
            self._svc, organization_id=organization_id, actor_id=None
        )

    async def remove_domain(self, organization_id: str, domain_id: str) -> bool:
        return await org_invitations.remove_domain(
            self._svc,
            organization_id=organization_id,
            domain_id=domain_id,
            actor_id=None,
            meta=HOST,
        )
