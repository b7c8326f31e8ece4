"""
A software WebAuthn authenticator and client, for web tests of the passkey JSON endpoints.

It answers the options a relying party sends (the WebAuthn JSON form, as
`webauthn.options_to_json` writes it) with what a browser's `PublicKeyCredential.toJSON()`
would post back: binary fields as base64url without padding, a "none" attestation, ES256
(P-256) keys. Keyword overrides (origin, rp_id, challenge, user verification, counter, user
handle) forge the wrong answers a server has to refuse, without hand-editing CBOR in tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["SoftAuthenticator", "SoftCredential", "b64url", "unb64url"]

# Authenticator data flags (WebAuthn §6.1).
FLAG_UP = 0x01  # user present
FLAG_UV = 0x04  # user verified
FLAG_BE = 0x08  # backup eligible
FLAG_BS = 0x10  # backed up
FLAG_AT = 0x40  # attested credential data follows

ES256 = -7  # COSE algorithm: ECDSA with SHA-256 on P-256


def b64url(data: bytes) -> str:
    """Base64url without padding: how WebAuthn JSON carries every binary field."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Decode base64url with or without padding (servers and browsers differ)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftCredential:
    """One passkey held by the soft authenticator; the private key lets tests sign anything."""

    id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        """The public key as a COSE_Key (EC2, ES256), as it appears in attested data."""
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: ES256,  # alg
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def spki_public_key(self) -> bytes:
        """The public key as DER SubjectPublicKeyInfo, as `getPublicKey()` returns it."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def _public_key_options(options: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept both the bare options and the `{"publicKey": {...}}` that JS code passes along."""
    inner = options.get("publicKey")
    return inner if isinstance(inner, Mapping) else options


def _descriptor_ids(descriptors: Any) -> list[bytes]:
    """The credential ids of an allowCredentials / excludeCredentials list."""
    if not descriptors:
        return []
    return [unb64url(str(d["id"])) for d in descriptors]


def _client_data(
    kind: str, challenge: str, origin: str, extra: Mapping[str, Any] | None = None
) -> bytes:
    """CollectedClientData serialised compactly, in the key order browsers use; `extra`
    changes or adds members (a forged type, `crossOrigin: true`)."""
    data: dict[str, Any] = {
        "type": kind,
        "challenge": challenge,
        "origin": origin,
        "crossOrigin": False,
    }
    data.update(extra or {})
    return json.dumps(data, separators=(",", ":")).encode()


class SoftAuthenticator:
    """A platform authenticator plus the browser around it, with overridable misbehaviour.

    `counts=False` keeps every signature counter at 0, as synced passkeys (iCloud, Google
    Password Manager) report, so servers must not treat a 0 counter as a clone.
    """

    def __init__(
        self,
        *,
        origin: str,
        aaguid: bytes = bytes(16),
        user_verified: bool = True,
        backup_eligible: bool = False,
        backed_up: bool = False,
        counts: bool = True,
    ) -> None:
        if len(aaguid) != 16:
            raise ValueError("aaguid must be 16 bytes")
        self.origin = origin
        self.aaguid = aaguid
        self.user_verified = user_verified
        self.backup_eligible = backup_eligible
        self.backed_up = backed_up
        self.counts = counts
        self.credentials: dict[bytes, SoftCredential] = {}

    def _flags(self, user_verified: bool | None, *, attested: bool = False) -> int:
        """The flags byte; BS without BE is allowed on purpose, for tests of that refusal."""
        flags = FLAG_UP
        if self.user_verified if user_verified is None else user_verified:
            flags |= FLAG_UV
        if self.backup_eligible:
            flags |= FLAG_BE
        if self.backed_up:
            flags |= FLAG_BS
        if attested:
            flags |= FLAG_AT
        return flags

    def _default_rp_id(self, origin: str) -> str:
        """What a browser uses when the options name no RP id: the origin's host."""
        return urlsplit(origin).hostname or ""

    def create(
        self,
        options: Mapping[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        user_verified: bool | None = None,
        transports: Sequence[str] = ("internal", "hybrid"),
        credential_id: bytes | None = None,
    ) -> dict[str, Any]:
        """Make a credential, as `navigator.credentials.create()` then `.toJSON()` would;
        `credential_id` forces its id (a forged copy of someone else's).

        Raises ValueError where a browser rejects: an excluded credential of ours
        (InvalidStateError) or no ES256 among pubKeyCredParams (NotSupportedError).
        """
        opts = _public_key_options(options)
        origin = origin or self.origin
        rp = opts.get("rp") or {}
        rp_id = rp_id or rp.get("id") or self._default_rp_id(origin)
        challenge = challenge if challenge is not None else str(opts["challenge"])

        params = opts.get("pubKeyCredParams") or []
        if params and not any(p.get("alg") == ES256 for p in params):
            raise ValueError("NotSupportedError: ES256 (-7) not in pubKeyCredParams")
        for excluded in _descriptor_ids(opts.get("excludeCredentials")):
            if excluded in self.credentials:
                raise ValueError("InvalidStateError: an excluded credential is registered here")

        credential = SoftCredential(
            id=credential_id if credential_id is not None else secrets.token_bytes(32),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=rp_id,
            user_handle=unb64url(str(opts["user"]["id"])),
        )
        self.credentials[credential.id] = credential

        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([self._flags(user_verified, attested=True)])
            + credential.sign_count.to_bytes(4, "big")
            + self.aaguid
            + len(credential.id).to_bytes(2, "big")
            + credential.id
            + credential.cose_public_key()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = _client_data("webauthn.create", challenge, origin)
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": list(transports),
                # The rest of AuthenticatorAttestationResponseJSON, as browsers send it.
                "authenticatorData": b64url(auth_data),
                "publicKey": b64url(credential.spki_public_key()),
                "publicKeyAlgorithm": ES256,
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def _pick(
        self, opts: Mapping[str, Any], credential_id: bytes | None, rp_ids: set[str]
    ) -> SoftCredential:
        """The credential a browser would offer; ValueError (NotAllowedError) when none."""
        if credential_id is not None:
            if credential_id not in self.credentials:
                raise ValueError("NotAllowedError: no such credential here")
            return self.credentials[credential_id]
        allowed = _descriptor_ids(opts.get("allowCredentials"))
        if allowed:
            for cred_id in allowed:
                if cred_id in self.credentials:
                    return self.credentials[cred_id]
        else:
            for credential in self.credentials.values():
                if credential.rp_id in rp_ids:
                    return credential
        raise ValueError("NotAllowedError: no matching credential here")

    def get(
        self,
        options: Mapping[str, Any],
        *,
        credential_id: bytes | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        user_verified: bool | None = None,
        sign_count: int | None = None,
        user_handle: bytes | None = None,
        client_data: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Sign an assertion, as `navigator.credentials.get()` then `.toJSON()` would.

        A discoverable request (no allowCredentials) takes the first credential of the
        options' RP id (or of `rp_id`, so a forged RP id still finds one).
        """
        opts = _public_key_options(options)
        origin = origin or self.origin
        options_rp_id = opts.get("rpId") or self._default_rp_id(origin)
        rp_id = rp_id or options_rp_id
        challenge = challenge if challenge is not None else str(opts["challenge"])
        credential = self._pick(opts, credential_id, {options_rp_id, rp_id})

        if self.counts:
            credential.sign_count += 1
        count = credential.sign_count if sign_count is None else sign_count
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([self._flags(user_verified)])
            + count.to_bytes(4, "big")
        )
        collected = _client_data("webauthn.get", challenge, origin, client_data)
        signature = credential.private_key.sign(
            auth_data + hashlib.sha256(collected).digest(), ec.ECDSA(hashes.SHA256())
        )
        handle = credential.user_handle if user_handle is None else user_handle
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(collected),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }
