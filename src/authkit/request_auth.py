"""
`Auth`: who made a request, as the middleware found it from the verified session token.

Its own module, importing nothing of authkit's, so that the verified-token cache
(security/tokens.py) can keep one `Auth` per token: a signed-in request then reuses it
instead of building a new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ANONYMOUS", "AUTH_KEY", "USER_KEY", "Actor", "Auth", "FactorAge"]

#: Where the middleware puts the request's `Auth`, and `current_user()` its `User`.
AUTH_KEY = "authkit.auth"
USER_KEY = "authkit.user"


@dataclass(frozen=True, slots=True)
class FactorAge:
    """
    Minutes since this session last verified a first factor (password, email code, ...)
    and a second one (authenticator app, recovery code), as the session token's `fva`
    claim (Clerk's) carries them when it was minted; None where there was none.
    """

    first: int | None
    second: int | None


_NO_FACTOR = FactorAge(None, None)


@dataclass(frozen=True, slots=True)
class Actor:
    """An admin signed in as the user (impersonation), from Clerk's `act` claim: the
    admin's user id and the admin's own session."""

    user_id: str
    session_id: str | None


@dataclass(frozen=True, slots=True)
class Auth:
    """Who made this request, from the verified session token. No I/O to get it."""

    user_id: str | None = None
    session_id: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_signed_in(self) -> bool:
        return self.user_id is not None

    @property
    def factor_age(self) -> FactorAge:
        """How long ago (minutes, at the token's `iat`) each factor was verified."""
        fva = self.claims.get("fva")
        if not isinstance(fva, list | tuple) or len(fva) != 2:
            return _NO_FACTOR
        first, second = (v if isinstance(v, int) and v >= 0 else None for v in fva)
        return FactorAge(first, second)

    @property
    def actor(self) -> Actor | None:
        """The admin signed in as this user, when this is an impersonation session."""
        act = self.claims.get("act")
        if not isinstance(act, Mapping) or not isinstance(act.get("sub"), str):
            return None
        sid = act.get("sid")
        return Actor(act["sub"], sid if isinstance(sid, str) else None)

    @property
    def org_id(self) -> str | None:
        """The session's active organization (None: the personal account)."""
        return self._organization.get("id")

    @property
    def org_slug(self) -> str | None:
        return self._organization.get("slg")

    @property
    def org_role(self) -> str | None:
        """The user's role in the active organization, as `org:admin`."""
        role = self._organization.get("rol")
        return f"org:{role}" if role else None

    @property
    def org_permissions(self) -> frozenset[str]:
        """The role's permissions in the active organization (`org:<feature>:<action>`)."""
        listed = self._organization.get("per") or ""
        return frozenset(f"org:{p}" for p in listed.split(",") if p)

    def has(self, *, permission: str | None = None, role: str | None = None) -> bool:
        """Whether the active organization gives this session `permission` and/or
        `role` (both must hold when both are given); False with no active organization.

        Raises:
            TypeError: neither was given.
        """
        if permission is None and role is None:
            raise TypeError("has() needs permission=... or role=...")
        if self.org_id is None:
            return False
        if permission is not None and permission not in self.org_permissions:
            return False
        return role is None or role == self.org_role

    @property
    def _organization(self) -> Mapping[str, str]:
        o = self.claims.get("o")
        if not isinstance(o, Mapping) or not isinstance(o.get("id"), str):
            return {}
        return {k: v for k, v in o.items() if isinstance(v, str)}


ANONYMOUS = Auth()
