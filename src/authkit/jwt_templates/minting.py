"""
Minting a template's token for a signed-in user: the template's claims rendered for the
user and session, then the automatic ones (`iss sub iat nbf exp jti`), then what the
preset fixes; signed with the template's own key or else the site's EdDSA key (its
`kid` in our JWKS). Signing is microseconds (bench/template_tokens.py).
"""

from __future__ import annotations

import secrets
from typing import Any

from ..services import Services
from ..users import User
from .templates import JwtTemplate

__all__ = ["mint_template_token", "template_context"]


def template_context(
    user: User, *, session_id: str | None, base_url: str
) -> dict[str, dict[str, Any]]:
    """What the shortcodes read: `user.*` (Clerk's names) and `session.*`."""
    image = base_url.rstrip("/") + user.image_url if user.image_url else None
    return {
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
    svc: Services, template: JwtTemplate, user: User, *, session_id: str | None
) -> str:
    """A signed token of `template` for `user`."""
    context = template_context(user, session_id=session_id, base_url=svc.settings.base_url)
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
