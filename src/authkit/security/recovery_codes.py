"""
Recovery codes: ten single-use codes `xxxxx-xxxxx` in lower-case Crockford base32
(50 bits each), shown once, stored only as a keyed hash bound to their user. Typing is
forgiving: case, spaces and the dash do not matter, and Crockford's look-alikes (i, l, o)
read as the digits they resemble.
"""

from __future__ import annotations

import secrets

from .secrets import keyed_hash

__all__ = [
    "RECOVERY_CODE_COUNT",
    "hash_recovery_code",
    "new_recovery_codes",
    "normalize_recovery_code",
]

RECOVERY_CODE_COUNT = 10
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_HALF = 5
_LOOK_ALIKES = str.maketrans({"i": "1", "l": "1", "o": "0"})


def new_recovery_codes() -> list[str]:
    """Ten fresh codes, as shown to the user."""
    return [_new_code() for _ in range(RECOVERY_CODE_COUNT)]


def _new_code() -> str:
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(2 * _HALF))
    return f"{chars[:_HALF]}-{chars[_HALF:]}"


def normalize_recovery_code(raw: str) -> str | None:
    """The code in its stored form, or None when it cannot be one (wrong length or
    characters)."""
    text = "".join(raw.split()).replace("-", "").lower().translate(_LOOK_ALIKES)
    if len(text) != 2 * _HALF or any(ch not in _ALPHABET for ch in text):
        return None
    return f"{text[:_HALF]}-{text[_HALF:]}"


def hash_recovery_code(key: bytes, user_id: str, code: str) -> str:
    # Keyed and bound to the user: a leaked table cannot be brute-forced offline without
    # the secret key, and one user's code never works for another.
    return keyed_hash(key, "recovery-code", user_id, code)
