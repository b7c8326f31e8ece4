"""
Keys derived from the one secret key, each for one purpose, so a key used to hash codes
can never be confused with the key that encrypts signing keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["derive_key", "fernet_key", "keyed_hash", "token_hash"]


def derive_key(secret_key: str, purpose: str) -> bytes:
    """32 bytes for `purpose`, derived from the secret key with HKDF-SHA-256."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"authkit:{purpose}".encode()
    ).derive(secret_key.encode())


def keyed_hash(key: bytes, *parts: str) -> str:
    """HMAC-SHA-256 over the parts (separated unambiguously), as hex."""
    message = b"\x1f".join(part.encode() for part in parts)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    """SHA-256 of a high-entropy token, as hex: enough for ≥128-bit random secrets."""
    return hashlib.sha256(token.encode()).hexdigest()


def fernet_key(secret_key: str, purpose: str) -> bytes:
    return base64.urlsafe_b64encode(derive_key(secret_key, purpose))
