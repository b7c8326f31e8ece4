"""
`Auth`: who made a request, as the middleware found it from the verified session token.

Its own module so that the verified-token cache (security/tokens.py) can keep one `Auth`
per token: a signed-in request then reuses it instead of building a new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ANONYMOUS", "Auth"]


@dataclass(frozen=True, slots=True)
class Auth:
    """Who made this request, from the verified session token. No I/O to get it."""

    user_id: str | None = None
    session_id: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_signed_in(self) -> bool:
        return self.user_id is not None


ANONYMOUS = Auth()
