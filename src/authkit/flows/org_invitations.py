"""
Invitations to an organization, and its verified domains.

An admin invites an address with a role; the email carries a link whose token is stored
only as a hash. Accepting needs the invited address verified on the account that
accepts (signed in with it, or added to the profile), and happens once: two tabs
accepting at the same moment make one membership. A pending invitation expires after
`organization_invitation_lifetime`; inviting the address again sends a new link (the old
one stops working), as does "Resend".

A verified domain (the admin holds a verified address there) enrolls people whose
verified address is at it, when they sign up or verify that address: `invite` leaves
them an invitation on their organizations page, `join` makes them members at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import idna
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..addresses import comparison_form, normalize_email
from ..audit import RequestMeta, audited_in, record_event
from ..clock import as_utc
from ..errors import FieldError, FlowError
from ..ids import new_id
from ..organizations.roles import MANAGE_DOMAINS, MANAGE_MEMBERS, MEMBER, READ_DOMAINS
from ..security.secrets import token_hash
from ..services import Services
from ..store.models import (
    EMAIL_MAX_LENGTH,
    EmailAddressRow,
    MembershipRow,
    OrganizationRow,
    OrgDomainRow,
    OrgInvitationRow,
    UserRow,
)
from ..webhooks.payloads import invitation_data
from .locks import lock_organization
from .notices import compose, site_url
from .organizations import (
    Membership,
    add_membership_row,
    check_role,
    check_room,
    member_view,
    membership_in,
    require,
)

__all__ = [
    "ENROLLMENTS",
    "Domain",
    "Invitation",
    "InvitationGone",
    "accept_invitation",
    "add_domain",
    "domain_enrollment_hook",
    "domains_of",
    "enroll_by_domain",
    "invitation_by_token",
    "invitations_for_user",
    "invitations_of",
    "invite",
    "may_accept",
    "remove_domain",
    "resend_invitation",
    "revoke_invitation",
]

#: What a verified domain does for a matching address.
ENROLLMENTS = ("invite", "join")
#: Free mail providers: an address there says nothing about an employer.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "yandex.com",
        "yandex.ru",
        "mail.com",
        "mail.ru",
        "zoho.com",
        "fastmail.com",
        "hey.com",
        "qq.com",
        "163.com",
    }
)
_TOKEN_BYTES = 32
_MAX_TOKEN_LENGTH = 64
MAX_DOMAINS = 20


class InvitationGone(FlowError):
    """The link is unknown, revoked, used or expired."""

    code = "org_invitation_gone"


@dataclass(frozen=True, slots=True)
class Invitation:
    id: str
    organization_id: str
    organization_name: str
    organization_slug: str
    email: str
    role: str
    role_name: str
    #: pending, accepted, revoked or expired.
    status: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Domain:
    id: str
    domain: str
    enrollment: str
    verified: bool
    created_at: datetime


def _status(row: OrgInvitationRow, now: datetime) -> str:
    if row.status == "pending" and as_utc(row.expires_at) <= now:
        return "expired"
    return row.status


def _view(
    svc: Services, row: OrgInvitationRow, organization: OrganizationRow, now: datetime
) -> Invitation:
    return Invitation(
        id=row.id,
        organization_id=organization.id,
        organization_name=organization.name,
        organization_slug=organization.slug,
        email=row.email,
        role=row.role,
        role_name=svc.roles.name_of(row.role),
        status=_status(row, now),
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


async def invite(
    svc: Services,
    *,
    organization_id: str,
    email: str,
    role: str = MEMBER,
    actor_id: str | None,
    meta: RequestMeta,
) -> Invitation:
    """
    Invite `email` with `role` and mail the link. Inviting an address already invited
    sends a new link (with this role) in place of the old one.

    Raises:
        OrganizationNotFound, NotPermitted: the actor may not manage the members.
        FieldError: the address is wrong or already a member's, an unknown role, the
            organization is full.
        RateLimited: the organization sent too many invitations lately.
    """
    address = normalize_email(email)
    check_role(svc, role)
    now = svc.clock()
    async with svc.db.session() as s:
        organization = await require(svc, s, organization_id, actor_id, MANAGE_MEMBERS)
        await lock_organization(s, organization_id)
        member = (
            await s.exec(
                select(MembershipRow.id)
                .join(EmailAddressRow, col(EmailAddressRow.user_id) == col(MembershipRow.user_id))
                .where(
                    col(MembershipRow.organization_id) == organization_id,
                    col(EmailAddressRow.normalized) == address.normalized,
                )
            )
        ).first()
        if member is not None:
            raise FieldError("org_already_member", field="email")
        # An earlier invitation to this address gives way to this one.
        await s.exec(
            update(OrgInvitationRow)
            .where(
                col(OrgInvitationRow.organization_id) == organization_id,
                col(OrgInvitationRow.normalized) == address.normalized,
                col(OrgInvitationRow.status) == "pending",
            )
            .values(status="revoked", updated_at=now)
        )
        await check_room(svc, s, organization_id, None)
        await svc.limiter.hit("org_invite:account", organization_id, within=s)
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        row = OrgInvitationRow(
            id=new_id("orginv"),
            organization_id=organization_id,
            email=address.email,
            normalized=address.normalized,
            role=role,
            status="pending",
            token_hash=token_hash(token),
            inviter_id=actor_id,
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(seconds=svc.settings.organization_invitation_lifetime),
        )
        s.add(row)
        await s.flush()
        record_event(
            s,
            "organization.invitation_sent",
            at=now,
            meta=meta,
            user_id=actor_id,
            organization=organization_id,
            invitation=row.id,
            role=role,
        )
        await _emit(svc, s, "organizationInvitation.created", row)
        mail_id = await _mail_invitation(svc, s, row, organization, token, inviter_id=actor_id)
        view = _view(svc, row, organization, now)
    svc.outbox.send_soon(mail_id)
    return view


async def resend_invitation(
    svc: Services,
    *,
    organization_id: str,
    invitation_id: str,
    actor_id: str | None,
    meta: RequestMeta,
) -> bool:
    """
    Mail a pending (or expired) invitation again with a new link and a new expiry;
    False when it is not this organization's or was accepted or revoked.

    Raises:
        OrganizationNotFound, NotPermitted, RateLimited.
    """
    now = svc.clock()
    async with svc.db.session() as s:
        organization = await require(svc, s, organization_id, actor_id, MANAGE_MEMBERS)
        row = await _invitation_of(s, organization_id, invitation_id)
        if row is None or row.status != "pending":
            return False
        await svc.limiter.hit("org_invite:account", organization_id, within=s)
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        row.token_hash = token_hash(token)
        row.expires_at = now + timedelta(seconds=svc.settings.organization_invitation_lifetime)
        row.updated_at = now
        s.add(row)
        record_event(
            s,
            "organization.invitation_resent",
            at=now,
            meta=meta,
            user_id=actor_id,
            organization=organization_id,
            invitation=row.id,
        )
        mail_id = await _mail_invitation(svc, s, row, organization, token, inviter_id=actor_id)
    svc.outbox.send_soon(mail_id)
    return True


async def revoke_invitation(
    svc: Services,
    *,
    organization_id: str,
    invitation_id: str,
    actor_id: str | None,
    meta: RequestMeta,
) -> bool:
    """
    Revoke a pending invitation: its link stops working. False when it is not this
    organization's or no longer pending.

    Raises:
        OrganizationNotFound, NotPermitted.
    """
    now = svc.clock()
    async with svc.db.session() as s:
        await require(svc, s, organization_id, actor_id, MANAGE_MEMBERS)
        row = await _invitation_of(s, organization_id, invitation_id)
        if row is None or row.status != "pending":
            return False
        row.status = "revoked"
        row.updated_at = now
        s.add(row)
        record_event(
            s,
            "organization.invitation_revoked",
            at=now,
            meta=meta,
            user_id=actor_id,
            organization=organization_id,
            invitation=row.id,
        )
        await _emit(svc, s, "organizationInvitation.revoked", row)
    return True


async def invitations_of(
    svc: Services, *, organization_id: str, actor_id: str | None
) -> list[Invitation]:
    """The organization's pending and expired invitations, newest first.

    Raises:
        OrganizationNotFound, NotPermitted: the actor may not manage the members.
    """
    now = svc.clock()
    async with svc.db.session() as s:
        organization = await require(svc, s, organization_id, actor_id, MANAGE_MEMBERS)
        rows = (
            await s.exec(
                select(OrgInvitationRow)
                .where(
                    col(OrgInvitationRow.organization_id) == organization_id,
                    col(OrgInvitationRow.status) == "pending",
                )
                .order_by(col(OrgInvitationRow.created_at).desc(), col(OrgInvitationRow.id))
            )
        ).all()
    return [_view(svc, row, organization, now) for row in rows]


async def invitations_for_user(svc: Services, user_id: str) -> list[Invitation]:
    """Pending invitations to any of the user's verified addresses, newest first."""
    now = svc.clock()
    async with svc.db.session() as s:
        rows = (
            await s.exec(
                select(OrgInvitationRow, OrganizationRow)
                .join(
                    OrganizationRow,
                    col(OrganizationRow.id) == col(OrgInvitationRow.organization_id),
                )
                .join(
                    EmailAddressRow,
                    col(EmailAddressRow.normalized) == col(OrgInvitationRow.normalized),
                )
                .where(
                    col(EmailAddressRow.user_id) == user_id,
                    col(EmailAddressRow.verified_at).is_not(None),
                    col(OrgInvitationRow.status) == "pending",
                    col(OrgInvitationRow.expires_at) > now,
                )
                .order_by(col(OrgInvitationRow.created_at).desc())
            )
        ).all()
        member_of = set(
            (
                await s.exec(
                    select(MembershipRow.organization_id).where(
                        col(MembershipRow.user_id) == user_id
                    )
                )
            ).all()
        )
    return [
        _view(svc, row, organization, now)
        for row, organization in rows
        if organization.id not in member_of
    ]


async def invitation_by_token(svc: Services, token: str) -> Invitation | None:
    """The invitation a link carries (any status), or None for an unknown token."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    async with svc.db.session() as s:
        found = (
            await s.exec(
                select(OrgInvitationRow, OrganizationRow)
                .join(
                    OrganizationRow,
                    col(OrganizationRow.id) == col(OrgInvitationRow.organization_id),
                )
                .where(col(OrgInvitationRow.token_hash) == token_hash(token))
            )
        ).first()
    return None if found is None else _view(svc, found[0], found[1], svc.clock())


async def may_accept(svc: Services, user_id: str, invitation: Invitation) -> bool:
    """Whether the invited address is one of the user's, verified."""
    async with svc.db.session() as s:
        return await _holds_verified(s, user_id, comparison_form(invitation.email))


async def _holds_verified(s: AsyncSession, user_id: str, normalized: str) -> bool:
    """Whether the account holds the address (comparison form), verified."""
    found = (
        await s.exec(
            select(EmailAddressRow.id).where(
                col(EmailAddressRow.user_id) == user_id,
                col(EmailAddressRow.normalized) == normalized,
                col(EmailAddressRow.verified_at).is_not(None),
            )
        )
    ).first()
    return found is not None


async def accept_invitation(
    svc: Services,
    *,
    user_id: str,
    meta: RequestMeta,
    token: str | None = None,
    invitation_id: str | None = None,
) -> Membership:
    """
    Accept an invitation, by its link's `token` or by its id (from the user's own list);
    the invited address must be one of the user's, verified. Accepting twice, or an
    invitation to an organization the user is already in, ends with one membership.

    Raises:
        InvitationGone: unknown, revoked, expired or already used.
        FlowError: `org_invitation_other_address` (the invited address is not this
            account's, verified), or the organization is full.
    """
    now = svc.clock()
    async with svc.db.session() as s:
        row = await _pending(s, token=token, invitation_id=invitation_id, now=now)
        if not await _holds_verified(s, user_id, row.normalized):
            raise FlowError("org_invitation_other_address", email=row.email)
        await lock_organization(s, row.organization_id)
        # Only one acceptance moves it on: a second, racing, finds it no longer pending.
        taken = await s.exec(
            update(OrgInvitationRow)
            .where(col(OrgInvitationRow.id) == row.id, col(OrgInvitationRow.status) == "pending")
            .values(status="accepted", updated_at=now)
        )
        organization = await s.get(OrganizationRow, row.organization_id)
        if taken.rowcount != 1 or organization is None:
            raise InvitationGone()
        existing = await membership_in(s, organization.id, user_id)
        if existing is not None:
            return member_view(svc, existing, organization)
        await check_room(svc, s, organization.id, user_id)
        record_event(
            s,
            "organization.invitation_accepted",
            at=now,
            meta=meta,
            user_id=user_id,
            organization=organization.id,
            invitation=row.id,
        )
        await _emit(svc, s, "organizationInvitation.accepted", row, status="accepted")
        membership = await add_membership_row(
            svc, s, organization, user_id, row.role, meta=meta, actor=None
        )
        return member_view(svc, membership, organization)


async def _pending(
    s: AsyncSession, *, token: str | None, invitation_id: str | None, now: datetime
) -> OrgInvitationRow:
    if token is not None:
        if not token or len(token) > _MAX_TOKEN_LENGTH:
            raise InvitationGone()
        where = col(OrgInvitationRow.token_hash) == token_hash(token)
    elif invitation_id is not None:
        where = col(OrgInvitationRow.id) == invitation_id
    else:
        raise InvitationGone()
    row = (await s.exec(select(OrgInvitationRow).where(where))).first()
    if row is None or _status(row, now) != "pending":
        raise InvitationGone()
    return row


async def _invitation_of(
    s: AsyncSession, organization_id: str, invitation_id: str
) -> OrgInvitationRow | None:
    """The invitation, only when it is this organization's (an id from a form)."""
    return (
        await s.exec(
            select(OrgInvitationRow).where(
                col(OrgInvitationRow.id) == invitation_id,
                col(OrgInvitationRow.organization_id) == organization_id,
            )
        )
    ).first()


async def _mail_invitation(
    svc: Services,
    s: AsyncSession,
    row: OrgInvitationRow,
    organization: OrganizationRow,
    token: str,
    *,
    inviter_id: str | None,
) -> str:
    inviter = await s.get(UserRow, inviter_id) if inviter_id else None
    inviter_name = f"{inviter.first_name} {inviter.last_name}".strip() if inviter else ""
    message = compose(
        svc,
        "org_invitation",
        row.email,
        organization_name=organization.name,
        role_name=svc.roles.label_of(row.role),
        inviter_name=inviter_name,
        accept_url=site_url(svc, f"/organizations/invitations/{token}"),
        days=max(1, svc.settings.organization_invitation_lifetime // 86400),
    )
    # One pending link per invitation: a resend replaces the unsent older one.
    return await svc.outbox.add(s, message, not_after=row.expires_at, about=f"orginv:{row.id}")


async def _emit(
    svc: Services, s: AsyncSession, event: str, row: OrgInvitationRow, status: str | None = None
) -> None:
    if svc.webhooks.wants(event):
        await svc.webhooks.emit(s, event, invitation_data(row, status), about=row.organization_id)


# Verified domains


def clean_domain(value: str) -> str:
    """
    Raises:
        FieldError: `org_domain_invalid` or `org_domain_public` on `domain`.
    """
    raw = value.strip().lower().removeprefix("@").rstrip(".")
    if not raw or len(raw) > EMAIL_MAX_LENGTH:
        raise FieldError("org_domain_invalid", field="domain")
    try:
        domain = idna.encode(raw, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise FieldError("org_domain_invalid", field="domain") from None
    if "." not in domain or len(domain) > 253:
        raise FieldError("org_domain_invalid", field="domain")
    if domain in PUBLIC_MAIL_DOMAINS:
        raise FieldError("org_domain_public", field="domain")
    return domain


def _domain_of(normalized_address: str) -> str:
    return normalized_address.rpartition("@")[2]


async def domains_of(svc: Services, *, organization_id: str, actor_id: str | None) -> list[Domain]:
    """
    Raises:
        OrganizationNotFound, NotPermitted.
    """
    async with svc.db.session() as s:
        await require(svc, s, organization_id, actor_id, READ_DOMAINS)
        rows = (
            await s.exec(
                select(OrgDomainRow)
                .where(col(OrgDomainRow.organization_id) == organization_id)
                .order_by(col(OrgDomainRow.domain))
            )
        ).all()
    return [
        Domain(r.id, r.domain, r.enrollment, r.verified_at is not None, r.created_at) for r in rows
    ]


async def add_domain(
    svc: Services,
    *,
    organization_id: str,
    domain: str,
    enrollment: str = "invite",
    actor_id: str | None,
    meta: RequestMeta,
) -> Domain:
    """
    Add a verified domain. An admin proves it by holding a verified address there; the
    site (`actor_id` None) vouches for it.

    Raises:
        OrganizationNotFound, NotPermitted.
        FieldError: a malformed or public-mail domain, one the admin holds no verified
            address at (`org_domain_unverified`), one another organization has.
    """
    name = clean_domain(domain)
    if enrollment not in ENROLLMENTS:
        raise FieldError("invalid", field="enrollment")
    now = svc.clock()
    async with svc.db.session() as s:
        await require(svc, s, organization_id, actor_id, MANAGE_DOMAINS)
        await lock_organization(s, organization_id)
        if actor_id is not None:
            addresses = (
                await s.exec(
                    select(EmailAddressRow.normalized).where(
                        col(EmailAddressRow.user_id) == actor_id,
                        col(EmailAddressRow.verified_at).is_not(None),
                    )
                )
            ).all()
            if not any(_domain_of(a) == name for a in addresses):
                raise FieldError("org_domain_unverified", field="domain", domain=name)
        existing = (
            await s.exec(select(OrgDomainRow).where(col(OrgDomainRow.domain) == name))
        ).first()
        if existing is not None:
            raise FieldError("org_domain_taken", field="domain")
        count = len(
            (
                await s.exec(
                    select(OrgDomainRow.id).where(
                        col(OrgDomainRow.organization_id) == organization_id
                    )
                )
            ).all()
        )
        if count >= MAX_DOMAINS:
            raise FieldError("org_domain_limit", field="domain", max=MAX_DOMAINS)
        row = OrgDomainRow(
            id=new_id("orgdmn"),
            organization_id=organization_id,
            domain=name,
            enrollment=enrollment,
            verified_at=now,
            created_at=now,
        )
        s.add(row)
        record_event(
            s,
            "organization.domain_added",
            at=now,
            meta=meta,
            user_id=actor_id,
            organization=organization_id,
            domain=name,
            enrollment=enrollment,
        )
    return Domain(row.id, row.domain, row.enrollment, True, row.created_at)


async def remove_domain(
    svc: Services, *, organization_id: str, domain_id: str, actor_id: str | None, meta: RequestMeta
) -> bool:
    """False when the domain is not this organization's.

    Raises:
        OrganizationNotFound, NotPermitted.
    """
    async with svc.db.session() as s:
        await require(svc, s, organization_id, actor_id, MANAGE_DOMAINS)
        row = (
            await s.exec(
                select(OrgDomainRow).where(
                    col(OrgDomainRow.id) == domain_id,
                    col(OrgDomainRow.organization_id) == organization_id,
                )
            )
        ).first()
        if row is None:
            return False
        await s.delete(row)
        record_event(
            s,
            "organization.domain_removed",
            at=svc.clock(),
            meta=meta,
            user_id=actor_id,
            organization=organization_id,
            domain=row.domain,
        )
    return True


async def enroll_by_domain(svc: Services, s: AsyncSession, user_ids: Iterable[str]) -> None:
    """
    In the open transaction `s`: for each verified domain at which one of `user_ids` has
    a verified address, an invitation (`invite`) or a membership (`join`), unless they
    are in that organization already or it is full. Called when accounts are made or an
    address verified: two queries for the lot when no domain matches (an import of
    thousands of users costs two queries a batch).
    """
    ids = sorted(set(user_ids))
    if not ids:
        return
    addresses = (
        await s.exec(
            select(EmailAddressRow).where(
                col(EmailAddressRow.user_id).in_(ids),
                col(EmailAddressRow.verified_at).is_not(None),
            )
        )
    ).all()
    held: dict[str, dict[str, EmailAddressRow]] = {}
    for address in addresses:
        held.setdefault(_domain_of(address.normalized), {})[address.user_id] = address
    if not held:
        return
    domains = (
        await s.exec(
            select(OrgDomainRow, OrganizationRow)
            .join(OrganizationRow, col(OrganizationRow.id) == col(OrgDomainRow.organization_id))
            .where(
                col(OrgDomainRow.domain).in_(sorted(held)),
                col(OrgDomainRow.verified_at).is_not(None),
            )
        )
    ).all()
    for domain, organization in domains:
        for user_id, address in sorted(held[domain.domain].items()):
            await _enroll(svc, s, domain, organization, user_id, address)


async def _enroll(
    svc: Services,
    s: AsyncSession,
    domain: OrgDomainRow,
    organization: OrganizationRow,
    user_id: str,
    address: EmailAddressRow,
) -> None:
    if await membership_in(s, organization.id, user_id) is not None:
        return
    try:
        await check_room(svc, s, organization.id, user_id)
    except FieldError:
        return
    if domain.enrollment == "join":
        await add_membership_row(
            svc, s, organization, user_id, MEMBER, meta=RequestMeta(), actor=None
        )
        return
    now = svc.clock()
    already = (
        await s.exec(
            select(OrgInvitationRow.id).where(
                col(OrgInvitationRow.organization_id) == organization.id,
                col(OrgInvitationRow.normalized) == address.normalized,
                col(OrgInvitationRow.status) == "pending",
                col(OrgInvitationRow.expires_at) > now,
            )
        )
    ).first()
    if already is not None:
        return
    row = OrgInvitationRow(
        id=new_id("orginv"),
        organization_id=organization.id,
        email=address.email,
        normalized=address.normalized,
        role=MEMBER,
        status="pending",
        # Nobody is mailed this one: it waits on the user's organizations page.
        token_hash=token_hash(secrets.token_urlsafe(_TOKEN_BYTES)),
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=svc.settings.organization_invitation_lifetime),
    )
    s.add(row)
    await _emit(svc, s, "organizationInvitation.created", row)


#: Audited events after which a user holds a newly verified address.
ADDRESS_VERIFIED_EVENTS = frozenset(
    {"sign_up.completed", "user.created", "user.imported", "email.added", "email.verified"}
)


def domain_enrollment_hook(svc: Services) -> Callable[[AsyncSession], Awaitable[None]]:
    """A before-commit hook: a transaction that gave someone a verified address (they
    signed up, added or verified one) enrolls them by domain in the same commit."""

    async def before_commit(s: AsyncSession) -> None:
        if not svc.settings.organizations:
            return
        users = {
            change.user_id
            for change in audited_in(s)
            if change.event in ADDRESS_VERIFIED_EVENTS and change.user_id is not None
        }
        if users:
            await s.flush()
            await enroll_by_domain(svc, s, users)

    return before_commit
