"""
Authenticator-app codes (TOTP, RFC 6238) with pyotp: 160-bit secrets from the CSPRNG,
kept only encrypted; codes of 6 digits, 30-second steps, one step of drift either way;
and the time step a code belongs to, so the caller can refuse a step used before
(each code works once).
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken

__all__ = [
    "TOTP_DIGITS",
    "TOTP_PERIOD_SECONDS",
    "decrypt_secret",
    "encrypt_secret",
    "matching_step",
    "new_secret",
    "provisioning_uri",
    "qr_svg",
]

TOTP_DIGITS = 6
TOTP_PERIOD_SECONDS = 30
#: Steps accepted either side of now: clocks drift, people type slowly (NIST: ±1).
TOTP_DRIFT_STEPS = 1
#: 32 base32 characters: 160 bits (SECURITY.md: TOTP secret ≥ 160 bits).
_SECRET_LENGTH = 32


def new_secret() -> str:
    """A fresh base32 secret (pyotp draws it from `secrets`)."""
    return pyotp.random_base32(_SECRET_LENGTH)


def encrypt_secret(key: bytes, secret: str) -> str:
    return Fernet(key).encrypt(secret.encode()).decode()


def decrypt_secret(key: bytes, encrypted: str) -> str | None:
    """The secret, or None when it cannot be decrypted (the secret key changed)."""
    try:
        return Fernet(key).decrypt(encrypted.encode()).decode()
    except InvalidToken:
        return None


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """
    The time step whose code `code` is, within the allowed drift, or None. Every
    candidate is compared in constant time, and all of them are compared.
    """
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD_SECONDS)
    current = totp.timecode(now)
    found = None
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        expected = totp.generate_otp(step)
        if hmac.compare_digest(expected.encode(), code.encode()) and found is None:
            found = step
    return found


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The `otpauth://` URI phones and authenticator apps read from the QR code."""
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD_SECONDS)
    return totp.provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str, *, title: str) -> str:
    """The URI as an inline SVG QR code (dark on white, as scanners like it)."""
    qr = segno.make(uri, error="m")
    return str(qr.svg_inline(scale=4, border=2, dark="#000", light="#fff", title=title))
