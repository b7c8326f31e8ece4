"""
A JWT template's own signing key (`signing_key = "env:NAME"` or a file's path), for a
third party that verifies with its own secret (Supabase's HS256 project secret) or needs
an algorithm other than our EdDSA (Convex: RS256 or ES256; Firebase: its service
account's RSA key). An HMAC secret signs HS256/384/512; a PEM private key signs by its
kind (RSA → RS256, P-256 → ES256, Ed25519 → EdDSA), and its public half joins our JWKS
under a `kid` of its RFC 7638 thumbprint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from ..errors import ConfigError
from ..security.tokens import Utf8JsonEncoder

__all__ = ["HMAC_ALGORITHMS", "TemplateKey", "load_template_key"]

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
#: An HMAC secret shorter than this is guessable offline from one token.
MIN_HMAC_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class TemplateKey:
    algorithm: str
    #: The HMAC secret, or the private key object.
    key: Any
    #: For a key pair: its `kid` and its public JWK (published in our JWKS).
    kid: str | None = None
    public_jwk: Mapping[str, str] | None = None
    #: A Firebase service account's address (the custom token's `iss` and `sub`).
    client_email: str | None = None

    def sign(self, claims: Mapping[str, Any]) -> str:
        headers = {"typ": "JWT", **({"kid": self.kid} if self.kid else {})}
        return jwt.encode(
            dict(claims),
            self.key,
            algorithm=self.algorithm,
            headers=headers,
            json_encoder=Utf8JsonEncoder,
        )


def load_template_key(
    spec: str, *, algorithm: str | None, where: str, environ: Mapping[str, str] | None = None
) -> TemplateKey:
    """
    The key `spec` names: `env:NAME` (an environment variable's value) or a file path;
    its text is an HMAC secret, a PEM private key, or a service account's JSON.

    Raises:
        ConfigError: the variable or file is missing, or the key is of no kind we sign
            with, or does not fit `algorithm`.
    """
    text = _read(spec, where=where, environ=os.environ if environ is None else environ)
    stripped = text.strip()
    if stripped.startswith("{"):
        return _service_account(stripped, where=where)
    if stripped.startswith("-----BEGIN"):
        return _key_pair(stripped, algorithm=algorithm, where=where)
    chosen = algorithm or "HS256"
    if chosen not in HMAC_ALGORITHMS:
        raise ConfigError(
            f"JWT template {where}: a secret signs {', '.join(HMAC_ALGORITHMS)}, not {chosen}."
        )
    # A file's final newline is not part of the secret (an editor adds one).
    secret = text.rstrip("\r\n").encode()
    if len(secret) < MIN_HMAC_SECRET_BYTES:
        raise ConfigError(
            f"JWT template {where}: the signing secret must be at least "
            f"{MIN_HMAC_SECRET_BYTES} bytes."
        )
    return TemplateKey(chosen, secret)


def _read(spec: str, *, where: str, environ: Mapping[str, str]) -> str:
    if spec.startswith("env:"):
        name = spec.removeprefix("env:")
        value = environ.get(name)
        if not value:
            raise ConfigError(f"JWT template {where}: the variable {name} is not set.")
        return value
    path = Path(spec).expanduser()
    try:
        return path.read_text()
    except UnicodeDecodeError:
        raise ConfigError(
            f"JWT template {where}: the signing key {spec!r} is not text (a PEM file, a "
            "secret, or a service account's JSON)."
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"JWT template {where}: cannot read the signing key {spec!r} ({exc.strerror})."
        ) from None


def _key_pair(pem: str, *, algorithm: str | None, where: str) -> TemplateKey:
    try:
        private = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError(
            f"JWT template {where}: the signing key is not a PEM private key."
        ) from None
    jwk: dict[str, str]
    if isinstance(private, rsa.RSAPrivateKey):
        natural = "RS256"
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    elif isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(
        private.curve, ec.SECP256R1
    ):
        natural = "ES256"
        jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    elif isinstance(private, ed25519.Ed25519PrivateKey):
        natural = "EdDSA"
        jwk = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        raise ConfigError(
            f"JWT template {where}: the signing key must be RSA, EC P-256 or Ed25519."
        )
    if algorithm is not None and algorithm != natural:
        raise ConfigError(f"JWT template {where}: this key signs {natural}, not {algorithm}.")
    kid = _thumbprint(jwk)
    public = {**{k: str(v) for k, v in jwk.items()}, "kid": kid, "alg": natural, "use": "sig"}
    return TemplateKey(natural, private, kid=kid, public_jwk=public)


def _service_account(text: str, *, where: str) -> TemplateKey:
    """A Google service account's JSON: its RSA key signs, its address is the issuer."""
    try:
        account = json.loads(text)
        pem, email = account["private_key"], account["client_email"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            f"JWT template {where}: the signing key is JSON but not a service account "
            "(private_key and client_email)."
        ) from None
    pair = _key_pair(str(pem), algorithm="RS256", where=where)
    # Google matches `kid` against the account's own key id, and verifies with the keys
    # it publishes for the account: ours neither names nor publishes this one.
    key_id = account.get("private_key_id")
    return TemplateKey(
        pair.algorithm,
        pair.key,
        kid=str(key_id) if key_id else None,
        public_jwk=None,
        client_email=str(email),
    )


def _thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638: SHA-256 of the key's required members, in order, as base64url."""
    members = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
    required = {k: jwk[k] for k in members[str(jwk["kty"])]}
    digest = hashlib.sha256(json.dumps(required, separators=(",", ":")).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
