"""
What an event says: the payload `{"type", "timestamp", "data"}` as Clerk sends it, with
`data` the user, the session or the email in Clerk's shape (times in milliseconds since
the epoch), read inside the transaction of the change so it shows the state it commits.
"""

from __future__ import annotations

import json
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from ..account_facts import account_facts
from ..organizations.logos import logo_path
from ..store.models import MembershipRow, OrganizationRow, OrgInvitationRow, SessionRow
from ..users import avatar_path

__all__ = [
    "email_data",
    "envelope",
    "invitation_data",
    "membership_data",
    "millis",
    "organization_data",
    "session_data",
    "user_data",
]


def millis(at: datetime | None) -> int | None:
    return None if at is None else int(at.timestamp() * 1000)


def envelope(event_type: str, data: dict[str, Any], at: datetime) -> str:
    """The body sent: compact JSON, UTF-8 as it is (the signature covers these bytes)."""
    body = {"type": event_type, "timestamp": millis(at), "data": data}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


async def user_data(
    s: AsyncSession, user_id: str, *, base_url: str, mount_path: str
) -> dict[str, Any] | None:
    """The user as Clerk's user object (None when the row is gone)."""
    facts = await account_facts(s, user_id)
    if facts is None:
        return None
    user, addresses, accounts = facts.user, facts.addresses, facts.connected
    primary = facts.primary
    image = (
        base_url.rstrip("/") + avatar_path(mount_path, user.id, user.image_hash)
        if user.image_hash
        else None
    )
    return {
        "object": "user",
        "id": user.id,
        "first_name": user.first_name or None,
        "last_name": user.last_name or None,
        "image_url": image,
        "has_image": image is not None,
        "primary_email_address_id": primary.id if primary else None,
        "email_addresses": [
            {
                "object": "email_address",
                "id": a.id,
                "email_address": a.email,
                "verification": {"status": "verified" if a.verified_at else "unverified"},
            }
            for a in addresses
        ],
        "external_accounts": [
            {
                "object": "external_account",
                "id": a.id,
                "provider": a.provider,
                "provider_user_id": a.subject,
                "email_address": a.email,
            }
            for a in accounts
        ],
        "password_enabled": facts.has_password,
        "two_factor_enabled": facts.has_totp,
        "totp_enabled": facts.has_totp,
        "passkeys": facts.passkeys,
        "banned": user.banned_at is not None and not user.locked,
        "locked": user.banned_at is not None and user.locked,
        "public_metadata": user.public_metadata,
        "private_metadata": user.private_metadata,
        "unsafe_metadata": user.unsafe_metadata,
        "created_at": millis(user.created_at),
        "updated_at": millis(user.updated_at),
    }


def session_data(row: SessionRow, status: str) -> dict[str, Any]:
    """The session as Clerk's session object; `status` is active, ended or revoked."""
    return {
        "object": "session",
        "id": row.id,
        "user_id": row.user_id,
        "status": status,
        "created_at": millis(row.created_at),
        "last_active_at": millis(row.last_active_at),
        "expire_at": millis(row.expires_at),
    }


def email_data(message: EmailMessage, *, message_id: str, user_id: str | None) -> dict[str, Any]:
    """An email authkit sends, as Clerk's email object (for sites that deliver their own
    mail from `email.created`)."""
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return {
        "object": "email",
        "id": message_id,
        "user_id": user_id,
        "to_email_address": str(message["To"]),
        "from_email_address": str(message["From"]),
        "subject": str(message["Subject"]),
        "body_plain": str(plain.get_content()) if plain is not None else None,
        "body": str(html.get_content()) if html is not None else None,
        "status": "queued",
    }


def organization_data(
    organization: OrganizationRow, *, base_url: str, mount_path: str
) -> dict[str, Any]:
    """The organization as Clerk's organization object."""
    image = (
        base_url.rstrip("/") + logo_path(mount_path, organization.id, organization.image_hash)
        if organization.image_hash
        else None
    )
    return {
        "object": "organization",
        "id": organization.id,
        "name": organization.name,
        "slug": organization.slug,
        "image_url": image,
        "has_image": image is not None,
        "public_metadata": dict(organization.public_metadata),
        "private_metadata": dict(organization.private_metadata),
        "created_by": organization.created_by,
        "created_at": millis(organization.created_at),
        "updated_at": millis(organization.updated_at),
    }


def membership_data(
    membership: MembershipRow,
    organization: OrganizationRow,
    *,
    permissions: frozenset[str],
    identifier: str | None,
    first_name: str | None,
    last_name: str | None,
    base_url: str,
    mount_path: str,
) -> dict[str, Any]:
    """A membership as Clerk's organization_membership object."""
    return {
        "object": "organization_membership",
        "id": membership.id,
        "role": membership.role,
        "permissions": sorted(permissions),
        "organization": organization_data(organization, base_url=base_url, mount_path=mount_path),
        "public_user_data": {
            "user_id": membership.user_id,
            "identifier": identifier,
            "first_name": first_name or None,
            "last_name": last_name or None,
        },
        "created_at": millis(membership.created_at),
        "updated_at": millis(membership.updated_at),
    }


def invitation_data(invitation: OrgInvitationRow, status: str | None = None) -> dict[str, Any]:
    """An invitation as Clerk's organization_invitation object."""
    return {
        "object": "organization_invitation",
        "id": invitation.id,
        "email_address": invitation.email,
        "role": invitation.role,
        "status": status or invitation.status,
        "organization_id": invitation.organization_id,
        "created_at": millis(invitation.created_at),
        "updated_at": millis(invitation.updated_at),
        "expires_at": millis(invitation.expires_at),
    }
