"""
Six-digit codes sent by email: drawn from the CSPRNG, stored only as a keyed hash bound to
the attempt they belong to, compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets

from .secrets import keyed_hash

__all__ = [
    "CODE_DIGITS",
    "MAX_CODE_ATTEMPTS",
    "hash_code",
    "is_code_shaped",
    "new_code",
    "verify_code",
]

CODE_DIGITS = 6
#: A code dies after this many wrong tries (NIST 800-63B: rate-limit codes under 64 bits).
MAX_CODE_ATTEMPTS = 5


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def is_code_shaped(code: str) -> bool:
    return len(code) == CODE_DIGITS and code.isascii() and code.isdigit()


def hash_code(key: bytes, attempt_id: str, code: str) -> str:
    # Keyed and bound to the attempt: a leaked table row cannot be brute-forced offline
    # without the secret key, and a code cannot be replayed against another attempt.
    return keyed_hash(key, attempt_id, code)


def verify_code(key: bytes, attempt_id: str, code: str, expected_hash: str) -> bool:
    return hmac.compare_digest(hash_code(key, attempt_id, code), expected_hash)
