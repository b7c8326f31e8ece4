"""
`AUTHKIT_SESSION_CLAIMS`: claims added to the session token itself, in the JWT
templates' grammar (`{"plan": "{{user.public_metadata.plan || 'free'}}"}`), so a host's
own code and its other services read them from `__session` without a query.

The session token lives in a cookie, and a browser drops a cookie over 4 KB, which
would sign everyone out. So the claims are sized when authkit starts, for the largest
values they could ever hold: names and addresses at their length limits in characters
of four UTF-8 bytes, and each metadata object they read at its size cap. When that does not
fit, start-up stops with a sentence; when it fits only with a smaller cap, the metadata
objects read here get that smaller cap (a write past it is refused with a sentence), so
no user's data can ever push the cookie over.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config_files import read_table
from ..errors import ConfigError
from ..metadata import MAX_METADATA_BYTES, METADATA_KINDS, MetadataKind
from ..organizations.roles import PERMISSIONS_CLAIM_BUDGET
from ..store.models import (
    EMAIL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    ORG_NAME_MAX_LENGTH,
    ORG_SLUG_MAX_LENGTH,
    ROLE_MAX_LENGTH,
)
from .shortcodes import Compiled, compile_claims

__all__ = ["SESSION_RESERVED", "SessionClaims", "plan_session_claims"]

logger = logging.getLogger("authkit.session_claims")

#: The session token's own claims (and those a later issue gives it): never set here.
SESSION_RESERVED = frozenset(
    {"iss", "sub", "sid", "iat", "nbf", "exp", "fva", "aud", "jti", "azp", "act", "o"}
)
#: What the session cookie's value may weigh: 4096 bytes for name, value and
#: attributes, less room for `__Host-session=` and `; Path=/; Secure; HttpOnly;
#: SameSite=Lax`.
COOKIE_VALUE_BUDGET = 3900
#: The token's header ({"alg":"EdDSA","kid":<43>,"typ":"JWT"}) and signature, encoded.
_HEADER_AND_SIGNATURE = 100 + 88
#: The session's own claims at their widest (ids, times, fva, and an admin's `act` of
#: two ids when impersonating), the issuer apart.
_OWN_CLAIMS_BYTES = 200 + 100
#: The active organization's `o` at its widest, counted when organizations are on.
_ORGANIZATION_CLAIM_BYTES = 180 + PERMISSIONS_CLAIM_BUDGET
#: Room for the mount path in the issuer (`/auth`, or a host's longer one).
_MOUNT_PATH_ALLOWANCE = 64
#: Tokens are UTF-8 JSON (security/tokens.py), as metadata is measured: a metadata
#: object read as a claim's value costs the token what it costs its cap; read inside a
#: string, its JSON text is escaped again (every quote and backslash doubles).
_AS_VALUE, _IN_TEXT = 1, 2
#: A metadata cap smaller than this makes the claims pointless: refuse the setting.
_SMALLEST_USEFUL_CAP = 256


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """The compiled claims, and the metadata caps they need (kind → bytes)."""

    compiled: Compiled | None = None
    metadata_caps: Mapping[MetadataKind, int] = field(default_factory=dict)
    #: The JSON bytes the claims may take in the token.
    payload_room: int = 0

    def cap(self, kind: MetadataKind) -> int:
        return self.metadata_caps.get(kind, MAX_METADATA_BYTES)

    def render(self, context: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """The claims for this user; those that read metadata are null when the user's
        metadata is over today's cap (stored before the claims were configured), so the
        cookie still fits. Logged once per render that had to."""
        assert self.compiled is not None
        claims = self.compiled.render(context)
        size = len(json.dumps(claims, ensure_ascii=False).encode())
        if size <= self.payload_room:
            return claims
        logger.warning(
            "AUTHKIT_SESSION_CLAIMS: user %s has metadata over its cap (%d bytes of claims, "
            "room for %d); the claims that read metadata are left empty",
            context.get("user", {}).get("id"),
            size,
            self.payload_room,
        )
        reading = self.compiled.claims_reading(*(f"user.{k}" for k in METADATA_KINDS))
        return {k: (None if k in reading else v) for k, v in claims.items()}


def plan_session_claims(
    source: Mapping[str, Any] | str | None, *, base_url: str, organizations: bool = False
) -> SessionClaims:
    """
    Compile `source` (a mapping, inline JSON, or a .json/.toml path) and size it.

    Raises:
        ConfigError: a claim is reserved or does not compile, or the claims cannot fit
            the session cookie.
    """
    if source is None or source == "":
        return SessionClaims()
    claims = _read(source) if isinstance(source, str) else source
    if not isinstance(claims, Mapping):
        raise ConfigError("AUTHKIT_SESSION_CLAIMS must be a JSON object of claims.")
    reserved = sorted(set(claims) & SESSION_RESERVED)
    if reserved:
        raise ConfigError(
            f"AUTHKIT_SESSION_CLAIMS: the claim {reserved[0]!r} is the session token's own "
            "and cannot be set."
        )
    compiled = compile_claims(claims, where="AUTHKIT_SESSION_CLAIMS")
    if "org.public_metadata" in compiled.reads:
        raise ConfigError(
            "AUTHKIT_SESSION_CLAIMS cannot read org.public_metadata: it has no size cap "
            "the session cookie could hold (use a JWT template instead)."
        )
    if "user.private_metadata" in compiled.reads:
        raise ConfigError(
            "AUTHKIT_SESSION_CLAIMS cannot read private_metadata: the session cookie is "
            "readable by its user (use a JWT template for a third party instead)."
        )
    # The payload's room once the header, the signature and the session's own claims
    # are counted, in JSON bytes (base64 makes 3 bytes 4 characters).
    room = (COOKIE_VALUE_BUDGET - _HEADER_AND_SIGNATURE) * 3 // 4
    # The issuer is the base URL and the sub-app's mount path (known only once mounted).
    room -= _OWN_CLAIMS_BYTES + len(base_url.encode()) + _MOUNT_PATH_ALLOWANCE
    if organizations:
        room -= _ORGANIZATION_CLAIM_BYTES
    fixed = len(json.dumps(compiled.render(_widest_context()), ensure_ascii=False).encode())
    reads = {kind: compiled.reads_count(f"user.{kind}") for kind in METADATA_KINDS}
    total_reads = sum(reads.values())
    weight = sum(
        _IN_TEXT * compiled.reads_count(f"user.{kind}", in_text=True)
        + _AS_VALUE * compiled.reads_count(f"user.{kind}", in_text=False)
        for kind in METADATA_KINDS
    )
    if fixed > room:
        raise ConfigError(
            f"AUTHKIT_SESSION_CLAIMS could make the session cookie larger than 4 KB "
            f"({fixed} bytes of claims at their widest, with room for {room})."
        )
    if not total_reads:
        return SessionClaims(compiled, payload_room=room)
    cap = min(MAX_METADATA_BYTES, (room - fixed) // weight)
    if cap < _SMALLEST_USEFUL_CAP:
        raise ConfigError(
            "AUTHKIT_SESSION_CLAIMS reads metadata more often than the session cookie has "
            f"room for (each read would allow only {max(cap, 0)} bytes of metadata)."
        )
    caps = {kind: cap for kind, count in reads.items() if count}
    return SessionClaims(compiled, caps, payload_room=room)


def _read(source: str) -> Any:
    text = source.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"AUTHKIT_SESSION_CLAIMS is not JSON: {exc}.") from None
    return read_table(text, setting="AUTHKIT_SESSION_CLAIMS")


def _widest_context() -> dict[str, dict[str, Any]]:
    """Every field at its widest, metadata empty (its share is counted per read)."""
    widest_name = "\U0001f600" * NAME_MAX_LENGTH
    return {
        "user": {
            "id": "user_" + "x" * 26,
            "first_name": widest_name,
            "last_name": widest_name,
            "full_name": widest_name + " " + widest_name,
            "primary_email_address": "\U0001f600" * EMAIL_MAX_LENGTH,
            "email_verified": False,
            "image_url": "https://" + "x" * 200,
            "created_at": 10**10,
            "public_metadata": {},
            "unsafe_metadata": {},
            "private_metadata": {},
        },
        "session": {"id": "sess_" + "x" * 26},
        "org": {
            "id": "org_" + "x" * 26,
            "name": "\U0001f600" * ORG_NAME_MAX_LENGTH,
            "slug": "x" * ORG_SLUG_MAX_LENGTH,
            "image_url": "https://" + "x" * 200,
            "role": "x" * ROLE_MAX_LENGTH,
            # As many short permissions as the role's budget holds.
            "permissions": ["org:a:b"] * (PERMISSIONS_CLAIM_BUDGET // 4),
            "public_metadata": {},
        },
    }
