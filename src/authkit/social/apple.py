"""
Sign in with Apple's own ways: the client secret is a short-lived ES256 JWT signed with
the team's key (iss = team id, sub = the client id, aud = Apple, kid = the key's id),
made afresh for each token request; and the user's name comes once, on the first
consent, as a JSON `user` field posted beside the code (never in the id_token).
"""

from __future__ import annotations

import json
import time

import jwt

from .providers import OAuthProvider

__all__ = ["client_secret", "names_from_user_field"]

#: Apple allows up to six months; one token request needs a minute.
SECRET_LIFETIME = 300
MAX_USER_FIELD = 2048


def client_secret(provider: OAuthProvider, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    assert provider.private_key is not None  # checked by the provider's settings
    return jwt.encode(
        {
            "iss": provider.team_id,
            "iat": issued,
            "exp": issued + SECRET_LIFETIME,
            "aud": provider.issuer,
            "sub": provider.client_id,
        },
        str(provider.private_key),
        algorithm="ES256",
        headers={"kid": provider.key_id},
    )


def names_from_user_field(raw: str | None) -> tuple[str, str]:
    """(first, last) from Apple's `user` field, `{"name": {"firstName", "lastName"}}`;
    empty when absent or not that shape."""
    if not raw or len(raw) > MAX_USER_FIELD:
        return "", ""
    try:
        data = json.loads(raw)
    except ValueError:
        return "", ""
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, dict):
        return "", ""
    first, last = name.get("firstName"), name.get("lastName")
    return (
        first.strip()[:100] if isinstance(first, str) else "",
        last.strip()[:100] if isinstance(last, str) else "",
    )
