"""
Minting a template's token for a signed-in user: the template's claims rendered for the
user and session, then the automatic ones (`iss sub iat nbf exp jti`), then what the
preset fixes; signed with the template's own key or else the site's EdDSA key (its
`kid` in our JWKS). Signing is microseconds (bench/template_tokens.py).
"""

from __future__ import annotations

import secrets
from typing import Any

from ..organizations.claims import active_membership
from ..organizations.logos import logo_path
from ..request_auth import Auth
from ..services import Services
from ..store.models import MembershipRow, OrganizationRow
from ..users import User
from .shortcodes import ORG_FIELDS
from .templates import JwtTemplate

__all__ = [
    "NO_ORGANIZATION",
    "mint_for_session",
    "mint_template_token",
    "organization_context",
    "template_context",
]


#: `{{org.*}}` for a session working in the personal account: every field null.
NO_ORGANIZATION: dict[str, Any] = dict.fromkeys(ORG_FIELDS)


def organization_context(
    membership: tuple[OrganizationRow, MembershipRow] | None, svc: Services
) -> dict[str, Any]:
    """What `{{org.*}}` reads for the session's active organization and membership."""
    if membership is None:
        return NO_ORGANIZATION
    organization, member = membership
    image = (
        svc.settings.base_url.rstrip("/")
        + logo_path(svc.mount_path, organization.id, organization.image_hash)
        if organization.image_hash
        else None
    )
    return {
        "id": organization.id,
        "name": organization.name,
        "slug": organization.slug,
        "image_url": image,
        "role": member.role,
        "permissions": sorted(svc.roles.permissions_of(member.role)),
        "public_metadata": dict(organization.public_metadata),
    }


def template_context(
    user: User,
    *,
    session_id: str | None,
    base_url: str,
    organization: dict[str, Any] = NO_ORGANIZATION,
) -> dict[str, dict[str, Any]]:
    """What the shortcodes read: `user.*` (Clerk's names), `session.*` and `org.*`."""
    image = base_url.rstrip("/") + user.image_url if user.image_url else None
    return {
        "org": organization,
        "user": {
            "id": user.id,
            "first_name": user.first_name or None,
            "last_name": user.last_name or None,
            "full_name": user.full_name or None,
            "primary_email_address": user.email,
            "email_verified": user.email_verified,
            "image_url": image,
            "created_at": int(user.created_at.timestamp()),
            "public_metadata": dict(user.public_metadata),
            "unsafe_metadata": dict(user.unsafe_metadata),
            "private_metadata": dict(user.private_metadata),
        },
        "session": {"id": session_id},
    }


def mint_template_token(
    svc: Services,
    template: JwtTemplate,
    user: User,
    *,
    session_id: str | None,
    membership: tuple[OrganizationRow, MembershipRow] | None = None,
) -> str:
    """A signed token of `template` for `user` (in the active organization of
    `membership`, for `{{org.*}}`)."""
    context = template_context(
        user,
        session_id=session_id,
        base_url=svc.settings.base_url,
        organization=organization_context(membership, svc),
    )
    claims = template.compiled.render(context)
    now = int(svc.clock().timestamp())
    claims.update(
        iss=svc.keyring.issuer,
        sub=user.id,
        iat=now,
        nbf=now - template.allowed_clock_skew,
        exp=now + template.lifetime,
        jti=secrets.token_urlsafe(16),
    )
    claims.update(template.fixed)
    if template.key is not None:
        return template.key.sign(claims)
    return svc.keyring.mint(claims)


async def mint_for_session(svc: Services, template: JwtTemplate, user: User, session: Auth) -> str:
    """A token of `template` for the signed-in `user` in `session`: `{{org.*}}` reads
    the session's active organization (one query, only when the template reads it)."""
    membership = None
    if session.org_id is not None and any(r.startswith("org.") for r in template.compiled.reads):
        async with svc.db.session() as s:
            membership = await active_membership(s, user.id, session.org_id)
    return mint_template_token(
        svc, template, user, session_id=session.session_id, membership=membership
    )
