"""
Password hashes brought along by `authkit users import`: bcrypt (Clerk, Auth0, PHP's
`$2y$`), and Django's `pbkdf2_sha256`, `bcrypt_sha256`, `bcrypt` and `argon2`. A user
signing in with one is checked against it as the old site did (the password exactly as
typed, never normalised), then moved to argon2id (`PasswordHasher.needs_rehash` says yes
to anything but our own argon2id).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

import argon2
import bcrypt

__all__ = ["is_legacy", "legacy_scheme", "verify_legacy"]

_BCRYPT = ("$2a$", "$2b$", "$2y$")
#: bcrypt reads at most 72 bytes of a password; the old site's did the same.
_BCRYPT_MAX_BYTES = 72
#: Django's PBKDF2 work factor has only grown; refuse absurd values (a DoS by import).
_MAX_PBKDF2_ITERATIONS = 10_000_000
_argon2 = argon2.PasswordHasher()


def legacy_scheme(password_hash: str) -> str | None:
    """The scheme of an imported hash (`bcrypt`, `django_pbkdf2_sha256`, ...), or None
    for anything else (our own argon2id included)."""
    if password_hash.startswith(_BCRYPT):
        return "bcrypt"
    for prefix in ("pbkdf2_sha256$", "bcrypt_sha256$", "bcrypt$", "argon2$"):
        if password_hash.startswith(prefix):
            return "django_" + prefix[:-1]
    return None


def is_legacy(password_hash: str) -> bool:
    return legacy_scheme(password_hash) is not None


def verify_legacy(password_hash: str, password: str) -> bool:
    """Whether `password` matches the imported `password_hash`; False (never raises)
    for a wrong password or a malformed hash. CPU-bound: call it in a thread."""
    try:
        return _verify(password_hash, password.encode())
    except (ValueError, TypeError, binascii.Error, argon2.exceptions.VerificationError):
        return False


def _verify(password_hash: str, password: bytes) -> bool:
    scheme = legacy_scheme(password_hash)
    if scheme == "bcrypt":
        return _bcrypt(password_hash, password)
    _, rest = password_hash.split("$", 1)
    if scheme == "django_bcrypt":
        return _bcrypt(rest, password)
    if scheme == "django_bcrypt_sha256":
        # Django hashes the password with SHA-256 first, as hex, so bcrypt sees it whole.
        return _bcrypt(rest, binascii.hexlify(hashlib.sha256(password).digest()))
    if scheme == "django_pbkdf2_sha256":
        iterations, salt, expected = rest.split("$", 2)
        rounds = int(iterations)
        if not 0 < rounds <= _MAX_PBKDF2_ITERATIONS:
            return False
        derived = hashlib.pbkdf2_hmac("sha256", password, salt.encode(), rounds)
        return hmac.compare_digest(base64.b64encode(derived), expected.encode())
    if scheme == "django_argon2":
        # Django keeps argon2-cffi's own string after "argon2".
        return bool(_argon2.verify("$" + rest, password))
    return False


def _bcrypt(stored: str, password: bytes) -> bool:
    return bcrypt.checkpw(password[:_BCRYPT_MAX_BYTES], stored.encode())
