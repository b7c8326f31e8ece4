"""
Organizations' rules: creating one (its creator becomes its admin), its profile (name,
slug), its members and their roles, leaving, deleting, and the session's active
organization. Invitations and verified domains are in `org_invitations`.

Who may do what is the role's permissions (organizations/roles.py): `actor_id` is the
signed-in user asking, or None for the site itself (the host's Python API, the CLI),
which may do anything. Someone who is not a member is told the organization does not
exist (`OrganizationNotFound`), so ids and slugs reveal nothing to outsiders; a member
without the permission is told so (`NotPermitted`).

An organization always keeps an admin: the last one cannot leave, be removed or be given
another role. Each check runs with the organization's row locked, so two admins demoting
each other at once end with one of them still admin.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..audit import RequestMeta, record_event
from ..errors import FieldError, FlowError
from ..ids import new_id
from ..organizations.logos import logo_path
from ..organizations.roles import (
    ADMIN,
    DELETE_ORGANIZATION,
    MANAGE_MEMBERS,
    MANAGE_PROFILE,
    MEMBER,
    READ_MEMBERS,
)
from ..services import Services
from ..sessions import mint_session
from ..store.models import (
    ORG_NAME_MAX_LENGTH,
    ORG_SLUG_MAX_LENGTH,
    EmailAddressRow,
    MembershipRow,
    OrganizationLogoRow,
    OrganizationRow,
    OrgInvitationRow,
    SessionRow,
    UserRow,
)
from ..users import avatar_path, clean_name, initials_of, primary_address
from ..webhooks.payloads import membership_data, organization_data
from .avatars import check_upload_size, checked_image
from .locks import lock_organization
from .notices import NOTICE_LIFETIME, compose, site_url, user_locale

__all__ = [
    "Member",
    "Membership",
    "NotPermitted",
    "Organization",
    "OrganizationNotFound",
    "add_member",
    "add_membership_row",
    "check_role",
    "check_room",
    "create_organization",
    "delete_organization",
    "leave",
    "logo_image",
    "member_view",
    "members_of",
    "membership_in",
    "memberships_of",
    "organization_by_slug",
    "remove_logo",
    "remove_member",
    "require",
    "roles_for_forms",
    "set_active",
    "set_logo",
    "set_role",
    "slugify",
    "update_organization",
]

#: Slugs the pages' own paths use.
RESERVED_SLUGS = frozenset({"new", "invitations", "logos", "switch"})
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
#: The most members one page of the members list shows.
MEMBERS_PAGE = 50
MAX_SEARCH_LENGTH = 254


class OrganizationNotFound(FlowError):
    """No such organization, or the asker is not in it (the same answer for both)."""

    code = "org_not_found"


class NotPermitted(FlowError):
    """A member whose role lacks the permission."""

    code = "org_not_permitted"


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    slug: str
    image_url: str | None
    public_metadata: Mapping[str, Any]
    private_metadata: Mapping[str, Any]
    created_at: datetime

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def initials(self) -> str:
        words = [w for w in self.name.split() if w[:1].isalnum()]
        return "".join(w[0] for w in words[:2]).upper() or self.name[:1].upper()


@dataclass(frozen=True, slots=True)
class Membership:
    """The asker's place in an organization."""

    organization: Organization
    role: str
    role_name: str
    permissions: frozenset[str]
    joined_at: datetime

    def can(self, permission: str) -> bool:
        return permission in self.permissions


@dataclass(frozen=True, slots=True)
class Member:
    """Someone in an organization, as its members list shows them."""

    user_id: str
    email: str
    first_name: str
    last_name: str
    image_url: str | None
    role: str
    role_name: str
    joined_at: datetime

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    @property
    def initials(self) -> str:
        """As the UserButton's avatar draws them."""
        return initials_of(self.first_name, self.last_name, self.email)


def organization_view(svc: Services, row: OrganizationRow) -> Organization:
    return Organization(
        id=row.id,
        name=row.name,
        slug=row.slug,
        image_url=logo_path(svc.mount_path, row.id, row.image_hash) if row.image_hash else None,
        public_metadata=dict(row.public_metadata),
        private_metadata=dict(row.private_metadata),
        created_at=row.created_at,
    )


def member_view(
    svc: Services, membership: MembershipRow, organization: OrganizationRow
) -> Membership:
    return Membership(
        organization=organization_view(svc, organization),
        role=membership.role,
        role_name=svc.roles.name_of(membership.role),
        permissions=svc.roles.permissions_of(membership.role),
        joined_at=membership.created_at,
    )


def slugify(name: str) -> str:
    """A slug from a name: ASCII letters and digits joined by hyphens."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:ORG_SLUG_MAX_LENGTH]
    return slug.rstrip("-") or "organization"


def clean_org_name(value: str | None) -> str:
    """
    Raises:
        FieldError: `required`, `too_long` or `name_invalid` on `name`.
    """
    # Runs of spaces are one: "Acme  Café" and "Acme Café" are one name.
    spaced = " ".join((value or "").split())
    return clean_name(spaced, field="name", required=True, max_length=ORG_NAME_MAX_LENGTH)


def clean_slug(value: str) -> str:
    """
    Raises:
        FieldError: `org_slug_invalid` or `org_slug_taken` (a reserved word) on `slug`.
    """
    slug = value.strip().lower()
    if len(slug) > ORG_SLUG_MAX_LENGTH:
        raise FieldError("too_long", field="slug", max=ORG_SLUG_MAX_LENGTH)
    if not _SLUG.fullmatch(slug) or "--" in slug:
        raise FieldError("org_slug_invalid", field="slug")
    if slug in RESERVED_SLUGS:
        raise FieldError("org_slug_taken", field="slug")
    return slug


async def _free_slug(s: AsyncSession, base: str) -> str:
    """`base`, or `base-2`, `base-3`... whichever is free first."""
    if base in RESERVED_SLUGS:
        base = f"{base}-org"
    taken = set(
        (
            await s.exec(
                select(OrganizationRow.slug).where(
                    (col(OrganizationRow.slug) == base)
                    | col(OrganizationRow.slug).startswith(base + "-")
                )
            )
        ).all()
    )
    if base not in taken:
        return base
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = base[: ORG_SLUG_MAX_LENGTH - len(suffix)].rstrip("-") + suffix
        if candidate not in taken:
            return candidate
        n += 1


async def membership_in(
    s: AsyncSession, organization_id: str, user_id: str
) -> MembershipRow | None:
    return (
        await s.exec(
            select(MembershipRow).where(
                col(MembershipRow.organization_id) == organization_id,
                col(MembershipRow.user_id) == user_id,
            )
        )
    ).first()


async def require(
    svc: Services,
    s: AsyncSession,
    organization_id: str,
    actor_id: str | None,
    permission: str | None,
) -> OrganizationRow:
    """
    The organization, when `actor_id` is in it with `permission` (any member when None;
    anyone when `actor_id` is None: the site itself).

    Raises:
        OrganizationNotFound: there is no such organization, or the actor is not in it.
        NotPermitted: the actor's role lacks `permission`.
    """
    organization = await s.get(OrganizationRow, organization_id, populate_existing=True)
    if organization is None:
        raise OrganizationNotFound()
    if actor_id is None:
        return organization
    membership = await membership_in(s, organization_id, actor_id)
    if membership is None:
        raise OrganizationNotFound()
    if permission is not None and not svc.roles.can(membership.role, permission):
        raise NotPermitted()
    return organization


async def organization_by_slug(svc: Services, *, user_id: str, slug: str) -> Membership | None:
    """The organization at `slug` as `user_id`'s membership of it; None for an outsider
    (as for a slug nobody has)."""
    if len(slug) > ORG_SLUG_MAX_LENGTH:
        return None
    async with svc.db.session() as s:
        found = (
            await s.exec(
                select(OrganizationRow, MembershipRow)
                .join(MembershipRow, col(MembershipRow.organization_id) == col(OrganizationRow.id))
                .where(col(OrganizationRow.slug) == slug, col(MembershipRow.user_id) == user_id)
            )
        ).first()
    return None if found is None else member_view(svc, found[1], found[0])


async def memberships_of(svc: Services, user_id: str) -> list[Membership]:
    """The organizations `user_id` is in, by name."""
    async with svc.db.session() as s:
        rows = (
            await s.exec(
                select(OrganizationRow, MembershipRow)
                .join(MembershipRow, col(MembershipRow.organization_id) == col(OrganizationRow.id))
                .where(col(MembershipRow.user_id) == user_id)
                .order_by(func.lower(OrganizationRow.name), col(OrganizationRow.id))
            )
        ).all()
    return [member_view(svc, m, o) for o, m in rows]


async def members_of(
    svc: Services,
    *,
    organization_id: str,
    actor_id: str | None,
    search: str = "",
    limit: int = MEMBERS_PAGE,
    offset: int = 0,
) -> tuple[list[Member], int]:
    """
    A page of the members (admins first, then by name) matching `search` (part of an
    address or a name), and how many match in all.

    Raises:
        OrganizationNotFound, NotPermitted: the actor may not see the members.
    """
    needle = search.strip()[:MAX_SEARCH_LENGTH].lower()
    async with svc.db.session() as s:
        await require(svc, s, organization_id, actor_id, READ_MEMBERS)
        query = (
            select(MembershipRow, UserRow, EmailAddressRow)
            .join(UserRow, col(UserRow.id) == col(MembershipRow.user_id))
            .join(
                EmailAddressRow,
                (col(EmailAddressRow.user_id) == col(UserRow.id)) & col(EmailAddressRow.is_primary),
            )
            .where(col(MembershipRow.organization_id) == organization_id)
        )
        if needle:
            pattern = (
                "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            query = query.where(
                func.lower(EmailAddressRow.email).like(pattern, escape="\\")
                | func.lower(UserRow.first_name + " " + UserRow.last_name).like(
                    pattern, escape="\\"
                )
            )
        total = (await s.exec(select(func.count()).select_from(query.subquery()))).one()
        rows = (
            await s.exec(
                query.order_by(
                    (col(MembershipRow.role) != ADMIN),
                    func.lower(UserRow.first_name + " " + UserRow.last_name),
                    col(EmailAddressRow.normalized),
                )
                .limit(max(0, min(limit, 500)))
                .offset(max(0, offset))
            )
        ).all()
    return [
        Member(
            user_id=user.id,
            email=address.email,
            first_name=user.first_name,
            last_name=user.last_name,
            image_url=avatar_path(svc.mount_path, user.id, user.image_hash)
            if user.image_hash
            else None,
            role=membership.role,
            role_name=svc.roles.name_of(membership.role),
            joined_at=membership.created_at,
        )
        for membership, user, address in rows
    ], int(total)


async def create_organization(
    svc: Services,
    *,
    name: str,
    slug: str | None = None,
    created_by: str | None,
    meta: RequestMeta,
    public_metadata: Mapping[str, Any] | None = None,
    private_metadata: Mapping[str, Any] | None = None,
) -> Organization:
    """
    A new organization, its creator (when there is one) its admin. Without a slug one
    is made from the name (with `-2`, `-3`... when taken).

    Raises:
        FieldError: the name or slug is wrong or taken (`name`, `slug`), or the creator
            is in as many organizations as a user may be (`org_limit_reached`).
    """
    clean_name = clean_org_name(name)
    wanted = clean_slug(slug) if slug else None
    now = svc.clock()
    row = OrganizationRow(
        id=new_id("org"),
        name=clean_name,
        slug="",
        public_metadata=dict(public_metadata or {}),
        private_metadata=dict(private_metadata or {}),
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    try:
        async with svc.db.session() as s:
            if created_by is not None and not await _may_join_another(svc, s, created_by):
                raise FieldError(
                    "org_limit_reached", field="name", max=svc.settings.organizations_per_user
                )
            if wanted is not None:
                taken = (
                    await s.exec(
                        select(OrganizationRow.id).where(col(OrganizationRow.slug) == wanted)
                    )
                ).first()
                if taken is not None:
                    raise FieldError("org_slug_taken", field="slug")
                row.slug = wanted
            else:
                row.slug = await _free_slug(s, slugify(clean_name))
            s.add(row)
            await s.flush()
            record_event(
                s,
                "organization.created",
                at=now,
                meta=meta,
                user_id=created_by,
                organization=row.id,
                slug=row.slug,
            )
            await _emit_organization(svc, s, "organization.created", row)
            if created_by is not None:
                await add_membership_row(svc, s, row, created_by, ADMIN, meta=meta, actor=None)
    except IntegrityError:
        # Another organization took the slug between our look and our write.
        raise FieldError("org_slug_taken", field="slug") from None
    return organization_view(svc, row)


async def update_organization(
    svc: Services,
    *,
    organization_id: str,
    actor_id: str | None,
    name: str | None = None,
    slug: str | None = None,
    public_metadata: Mapping[str, Any] | None = None,
    private_metadata: Mapping[str, Any] | None = None,
    meta: RequestMeta,
) -> Organization:
    """
    Change the name, slug or (the site only) metadata.

    Raises:
        OrganizationNotFound, NotPermitted: the actor may not manage its profile.
        FieldError: the name or slug is wrong or taken.
    """
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = clean_org_name(name)
    if slug is not None:
        values["slug"] = clean_slug(slug)
    if public_metadata is not None:
        values["public_metadata"] = dict(public_metadata)
    if private_metadata is not None:
        values["private_metadata"] = dict(private_metadata)
    try:
        async with svc.db.session() as s:
            row = await require(svc, s, organization_id, actor_id, MANAGE_PROFILE)
            if "slug" in values and values["slug"] != row.slug:
                taken = (
                    await s.exec(
                        select(OrganizationRow.id).where(
                            col(OrganizationRow.slug) == values["slug"]
                        )
                    )
                ).first()
                if taken is not None:
                    raise FieldError("org_slug_taken", field="slug")
            changed = {k: v for k, v in values.items() if getattr(row, k) != v}
            if changed:
                for key, value in changed.items():
                    setattr(row, key, value)
                await _profile_changed(
                    svc,
                    s,
                    row,
                    "organization.updated",
                    meta=meta,
                    actor_id=actor_id,
                    changed=",".join(sorted(changed)),
                )
            view = organization_view(svc, row)
    except IntegrityError:
        raise FieldError("org_slug_taken", field="slug") from None
    return view


async def set_logo(
    svc: Services, *, organization_id: str, actor_id: str | None, data: bytes, meta: RequestMeta
) -> Organization:
    """
    Make `data` (an uploaded image, decoded and re-encoded as avatars are) the logo.

    Raises:
        OrganizationNotFound, NotPermitted: the actor may not manage its profile.
        FieldError: on `image`, as for a profile picture.
        RateLimited: too many uploads from this member lately.
    """
    async with svc.db.session() as s:
        await require(svc, s, organization_id, actor_id, MANAGE_PROFILE)
    check_upload_size(data)
    if actor_id is not None:
        await svc.limiter.hit("avatar_upload:account", actor_id)
    webp = await checked_image(data)
    # Random bits as well as the content: the URL is public and names only this upload.
    content_hash = hashlib.sha256(secrets.token_bytes(16) + webp).hexdigest()
    now = svc.clock()
    async with svc.db.session() as s:
        row = await require(svc, s, organization_id, actor_id, MANAGE_PROFILE)
        await lock_organization(s, organization_id)
        await s.exec(
            delete(OrganizationLogoRow).where(
                col(OrganizationLogoRow.organization_id) == organization_id
            )
        )
        s.add(
            OrganizationLogoRow(
                organization_id=organization_id,
                content_hash=content_hash,
                data=webp,
                created_at=now,
            )
        )
        row.image_hash = content_hash
        await _profile_changed(
            svc, s, row, "organization.logo_updated", meta=meta, actor_id=actor_id
        )
        return organization_view(svc, row)


async def remove_logo(
    svc: Services, *, organization_id: str, actor_id: str | None, meta: RequestMeta
) -> bool:
    """Back to initials; False when there was no logo.

    Raises:
        OrganizationNotFound, NotPermitted.
    """
    async with svc.db.session() as s:
        row = await require(svc, s, organization_id, actor_id, MANAGE_PROFILE)
        if row.image_hash is None:
            return False
        await s.exec(
            delete(OrganizationLogoRow).where(
                col(OrganizationLogoRow.organization_id) == organization_id
            )
        )
        row.image_hash = None
        await _profile_changed(
            svc, s, row, "organization.logo_removed", meta=meta, actor_id=actor_id
        )
    return True


async def _profile_changed(
    svc: Services,
    s: AsyncSession,
    row: OrganizationRow,
    event: str,
    *,
    meta: RequestMeta,
    actor_id: str | None,
    **detail: str,
) -> None:
    """The organization's profile changed in `s`: dated, audited as `event`, and told
    to the webhooks as `organization.updated`."""
    row.updated_at = svc.clock()
    s.add(row)
    await s.flush()
    record_event(
        s,
        event,
        at=row.updated_at,
        meta=meta,
        user_id=actor_id,
        organization=row.id,
        **detail,
    )
    await _emit_organization(svc, s, "organization.updated", row)


async def logo_image(svc: Services, organization_id: str, content_hash: str) -> bytes | None:
    """The WebP a logo URL names; None for an older logo or none at all."""
    if len(organization_id) > 40 or len(content_hash) != 64:
        return None
    async with svc.db.session() as s:
        return (
            await s.exec(
                select(OrganizationLogoRow.data).where(
                    col(OrganizationLogoRow.organization_id) == organization_id,
                    col(OrganizationLogoRow.content_hash) == content_hash,
                )
            )
        ).first()


async def delete_organization(
    svc: Services, *, organization_id: str, actor_id: str | None, meta: RequestMeta
) -> None:
    """
    Delete the organization, its memberships, invitations and domains; sessions working
    in it go back to the personal account at their next token.

    Raises:
        OrganizationNotFound, NotPermitted: the actor may not delete it.
    """
    async with svc.db.session() as s:
        row = await require(svc, s, organization_id, actor_id, DELETE_ORGANIZATION)
        await _emit_organization(svc, s, "organization.deleted", row, deleted=True)
        await s.exec(
            update(SessionRow)
            .where(col(SessionRow.active_organization_id) == organization_id)
            .values(active_organization_id=None)
        )
        # Memberships, invitations, domains and the logo go with it (ON DELETE CASCADE).
        await s.exec(delete(OrganizationRow).where(col(OrganizationRow.id) == organization_id))
        record_event(
            s,
            "organization.deleted",
            at=svc.clock(),
            meta=meta,
            user_id=actor_id,
            organization=organization_id,
            slug=row.slug,
        )


async def add_member(
    svc: Services,
    *,
    organization_id: str,
    user_id: str,
    role: str = MEMBER,
    actor_id: str | None,
    meta: RequestMeta,
) -> Membership:
    """
    Put `user_id` in the organization with `role` (the site, or an admin of it).

    Raises:
        OrganizationNotFound, NotPermitted: the actor may not manage its members.
        FieldError: no such user, an unknown role, already a member, or a limit reached.
    """
    check_role(svc, role)
    async with svc.db.session() as s:
        organization = await require(svc, s, organization_id, actor_id, MANAGE_MEMBERS)
        await lock_organization(s, organization_id)
        if await s.get(UserRow, user_id) is None:
            raise FieldError("org_user_unknown", field="user")
        if await membership_in(s, organization_id, user_id) is not None:
            raise FieldError("org_already_member", field="user")
        await check_room(svc, s, organization_id, user_id)
        membership = await add_membership_row(
            svc, s, organization, user_id, role, meta=meta, actor=actor_id
        )
        return member_view(svc, membership, organization)


async def check_room(
    svc: Services, s: AsyncSession, organization_id: str, user_id: str | None
) -> None:
    """
    Raises:
        FieldError: the organization is full (members and pending invitations count), or
            `user_id` is in as many organizations as a user may be.
    """
    members = (
        await s.exec(
            select(func.count())
            .select_from(MembershipRow)
            .where(col(MembershipRow.organization_id) == organization_id)
        )
    ).one()
    pending = (
        await s.exec(
            select(func.count())
            .select_from(OrgInvitationRow)
            .where(
                col(OrgInvitationRow.organization_id) == organization_id,
                col(OrgInvitationRow.status) == "pending",
                col(OrgInvitationRow.expires_at) > svc.clock(),
            )
        )
    ).one()
    if members + pending >= svc.settings.organization_max_members:
        raise FieldError("org_full", field="email", max=svc.settings.organization_max_members)
    if user_id is not None and not await _may_join_another(svc, s, user_id):
        raise FieldError(
            "org_limit_reached", field="email", max=svc.settings.organizations_per_user
        )


async def _may_join_another(svc: Services, s: AsyncSession, user_id: str) -> bool:
    count = (
        await s.exec(
            select(func.count())
            .select_from(MembershipRow)
            .where(col(MembershipRow.user_id) == user_id)
        )
    ).one()
    return bool(count < svc.settings.organizations_per_user)


async def add_membership_row(
    svc: Services,
    s: AsyncSession,
    organization: OrganizationRow,
    user_id: str,
    role: str,
    *,
    meta: RequestMeta,
    actor: str | None,
) -> MembershipRow:
    now = svc.clock()
    membership = MembershipRow(
        id=new_id("orgmem"),
        organization_id=organization.id,
        user_id=user_id,
        role=role,
        created_at=now,
        updated_at=now,
    )
    s.add(membership)
    await s.flush()
    record_event(
        s,
        "organization.member_added",
        at=now,
        meta=meta,
        user_id=user_id,
        organization=organization.id,
        role=role,
        actor=actor,
    )
    await _emit_membership(svc, s, "organizationMembership.created", membership, organization)
    return membership


async def set_role(
    svc: Services,
    *,
    organization_id: str,
    user_id: str,
    role: str,
    actor_id: str | None,
    meta: RequestMeta,
) -> bool:
    """
    Give the member `user_id` another role; mails them. False when they are not a
    member (any more).

    Raises:
        OrganizationNotFound, NotPermitted: the actor may not manage the members.
        FieldError: an unknown role, or the last admin would be left with none
            (`org_last_admin`).
    """
    check_role(svc, role)
    async with svc.db.session() as s:
        organization = await require(svc, s, organization_id, actor_id, MANAGE_MEMBERS)
        await lock_organization(s, organization_id)
        membership = await membership_in(s, organization_id, user_id)
        if membership is None:
            return False
        if membership.role == role:
            return True
        if membership.role == ADMIN and await _admin_count(s, organization_id) <= 1:
            raise FieldError("org_last_admin", field="role")
        previous = membership.role
        membership.role = role
        membership.updated_at = svc.clock()
        s.add(membership)
        await s.flush()
        record_event(
            s,
            "organization.role_changed",
            at=membership.updated_at,
            meta=meta,
            user_id=user_id,
            organization=organization_id,
            role=role,
            previous=previous,
            actor=actor_id,
        )
        await _emit_membership(svc, s, "organizationMembership.updated", membership, organization)
        mail_id = await _notify_member(
            svc,
            s,
            user_id,
            "org_role_changed",
            organization=organization,
            role_name=svc.roles.label_of(role),
        )
    if mail_id is not None:
        svc.outbox.send_soon(mail_id)
    return True


async def remove_member(
    svc: Services,
    *,
    organization_id: str,
    user_id: str,
    actor_id: str | None,
    meta: RequestMeta,
) -> bool:
    """
    Take `user_id` out of the organization; mails them. False when they were not in it.

    Raises:
        OrganizationNotFound, NotPermitted: the actor may not manage the members.
        FieldError: they are its last admin (`org_last_admin`).
    """
    async with svc.db.session() as s:
        organization = await require(svc, s, organization_id, actor_id, MANAGE_MEMBERS)
        removed = await _remove(svc, s, organization, user_id, meta=meta, actor=actor_id)
        mail_id = None
        if removed and user_id != actor_id:
            mail_id = await _notify_member(
                svc, s, user_id, "org_removed", organization=organization
            )
    if mail_id is not None:
        svc.outbox.send_soon(mail_id)
    return removed


async def leave(svc: Services, *, organization_id: str, user_id: str, meta: RequestMeta) -> None:
    """
    Leave the organization.

    Raises:
        OrganizationNotFound: not in it.
        FieldError: the last admin cannot leave (`org_last_admin`).
    """
    async with svc.db.session() as s:
        organization = await require(svc, s, organization_id, user_id, None)
        await _remove(svc, s, organization, user_id, meta=meta, actor=None)


async def _remove(
    svc: Services,
    s: AsyncSession,
    organization: OrganizationRow,
    user_id: str,
    *,
    meta: RequestMeta,
    actor: str | None,
) -> bool:
    await lock_organization(s, organization.id)
    membership = await membership_in(s, organization.id, user_id)
    if membership is None:
        return False
    if membership.role == ADMIN and await _admin_count(s, organization.id) <= 1:
        raise FieldError("org_last_admin", field="user")
    await _emit_membership(svc, s, "organizationMembership.deleted", membership, organization)
    await s.delete(membership)
    # Sessions working in it go back to the personal account at their next token.
    await s.exec(
        update(SessionRow)
        .where(
            col(SessionRow.user_id) == user_id,
            col(SessionRow.active_organization_id) == organization.id,
        )
        .values(active_organization_id=None)
    )
    record_event(
        s,
        "organization.member_removed" if actor is not None else "organization.left",
        at=svc.clock(),
        meta=meta,
        user_id=user_id,
        organization=organization.id,
        actor=actor,
    )
    return True


async def _admin_count(s: AsyncSession, organization_id: str) -> int:
    return int(
        (
            await s.exec(
                select(func.count())
                .select_from(MembershipRow)
                .where(
                    col(MembershipRow.organization_id) == organization_id,
                    col(MembershipRow.role) == ADMIN,
                )
            )
        ).one()
    )


def check_role(svc: Services, role: str) -> None:
    if role not in svc.roles:
        raise FieldError("org_role_unknown", field="role")


async def set_active(
    svc: Services,
    *,
    user_id: str,
    session_id: str,
    organization_id: str | None,
    meta: RequestMeta,
) -> str | None:
    """
    Make `organization_id` (None: the personal account) the session's active
    organization; the new session token carrying it as `o`, or None when the session
    has ended.

    Raises:
        OrganizationNotFound: the user is not in that organization.
    """
    async with svc.db.session() as s:
        if organization_id is not None:
            await require(svc, s, organization_id, user_id, None)
        moved = await s.exec(
            update(SessionRow)
            .where(
                col(SessionRow.id) == session_id,
                col(SessionRow.user_id) == user_id,
                col(SessionRow.revoked_at).is_(None),
            )
            .values(active_organization_id=organization_id)
        )
        row = await s.get(SessionRow, session_id, populate_existing=True)
        if moved.rowcount != 1 or row is None:
            return None
        # Not audited: switching is everyday navigation, not a change to the account.
        return await mint_session(svc, s, row)


async def _notify_member(
    svc: Services,
    s: AsyncSession,
    user_id: str,
    template: str,
    *,
    organization: OrganizationRow,
    **context: Any,
) -> str | None:
    to = await primary_address(s, user_id)
    if to is None:
        return None
    message = compose(
        svc,
        template,
        to,
        organization_name=organization.name,
        organizations_url=site_url(svc, "/organizations"),
        locale=await user_locale(s, user_id),
        **context,
    )
    return await svc.outbox.add(s, message, not_after=svc.clock() + NOTICE_LIFETIME)


async def _emit_organization(
    svc: Services,
    s: AsyncSession,
    event: str,
    row: OrganizationRow,
    *,
    deleted: bool = False,
) -> None:
    if not svc.webhooks.wants(event):
        return
    data = (
        {"object": "organization", "id": row.id, "slug": row.slug, "deleted": True}
        if deleted
        else organization_data(row, base_url=svc.settings.base_url, mount_path=svc.mount_path)
    )
    await svc.webhooks.emit(s, event, data, about=row.id)


async def _emit_membership(
    svc: Services,
    s: AsyncSession,
    event: str,
    membership: MembershipRow,
    organization: OrganizationRow,
) -> None:
    if not svc.webhooks.wants(event):
        return
    user = await s.get(UserRow, membership.user_id)
    identifier = await primary_address(s, membership.user_id)
    data = membership_data(
        membership,
        organization,
        permissions=svc.roles.permissions_of(membership.role),
        identifier=identifier,
        first_name=user.first_name if user else None,
        last_name=user.last_name if user else None,
        base_url=svc.settings.base_url,
        mount_path=svc.mount_path,
    )
    await svc.webhooks.emit(s, event, data, about=organization.id)


def roles_for_forms(svc: Services) -> Sequence[tuple[str, str]]:
    """The roles a member may be given, as (key, name), admin first."""
    return [(role.key, svc.roles.name_of(role.key)) for role in svc.roles]
