"""
Opaque prefixed identifiers (`user_...`, `sess_...`): random, URL-safe, safe to use as a
foreign key in the host's own tables, and telling nothing about order or count.
"""

from __future__ import annotations

import secrets

__all__ = ["new_id"]

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_ID_CHARS = 26  # 26 base-36 characters: about 134 bits of randomness


def new_id(prefix: str) -> str:
    """Return `prefix_` followed by 26 random base-36 characters."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(_ID_CHARS))
