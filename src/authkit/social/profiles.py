"""
Who signed in, for the presets without OpenID Connect: their API's answers put in the
words of an id_token (`sub`, `email`, `email_verified`, `given_name`, `family_name`), so
the account rules read every provider the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["discord_claims", "github_claims", "split_name"]


async def github_claims(app: Any, token: Mapping[str, Any]) -> dict[str, Any]:
    """GitHub: `/user` for the id and name; the address is the primary one of
    `/user/emails` with GitHub's own `verified` (the profile's public `email` is
    whatever the user typed, never believed)."""
    user = await _json(app, "user", token)
    emails = await _json(app, "user/emails", token)
    primary = (
        next((e for e in emails if isinstance(e, dict) and e.get("primary") is True), None)
        if isinstance(emails, list)
        else None
    )
    given, family = split_name(user.get("name") or user.get("login"))
    return {
        "sub": str(user["id"]) if isinstance(user.get("id"), int) else None,
        "email": primary.get("email") if primary else None,
        "email_verified": bool(primary and primary.get("verified") is True),
        "given_name": given,
        "family_name": family,
    }


async def discord_claims(app: Any, token: Mapping[str, Any]) -> dict[str, Any]:
    """Discord: `/users/@me`, whose `verified` says whether Discord checked the address."""
    me = await _json(app, "users/@me", token)
    given, family = split_name(me.get("global_name") or me.get("username"))
    identifier = me.get("id")
    return {
        "sub": identifier if isinstance(identifier, str) else None,
        "email": me.get("email"),
        "email_verified": me.get("verified") is True,
        "given_name": given,
        "family_name": family,
    }


def split_name(full: object) -> tuple[str, str]:
    """ "Ada King Lovelace" → ("Ada", "King Lovelace"): the first word, and the rest."""
    if not isinstance(full, str):
        return "", ""
    first, _, rest = full.strip().partition(" ")
    return first, rest.strip()


async def _json(app: Any, path: str, token: Mapping[str, Any]) -> Any:
    response = await app.get(path, token=dict(token))
    response.raise_for_status()
    data = response.json()
    if path == "user/emails":
        return data
    if not isinstance(data, dict):
        raise ValueError(f"{path} did not answer an object")
    return data
