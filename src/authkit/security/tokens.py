"""
Session JWTs: Ed25519 signing keys (kept in the database, private halves encrypted with
the secret key), minting, verification and the JWKS document.

Verification takes the algorithm from our own key, never from the token: exactly
`EdDSA`, a known `kid`, `typ: JWT`, every required claim, the exact issuer, no audience,
and time checked against the injected clock.
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from ..errors import TokenError
from ..ids import new_id
from ..request_auth import Auth
from ..store.models import SigningKeyRow
from .secrets import fernet_key

__all__ = [
    "ALGORITHM",
    "KEY_RETENTION",
    "MAX_TOKEN_LENGTH",
    "REQUIRED_CLAIMS",
    "KeyRing",
    "SessionClaims",
    "new_signing_key_row",
]

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ("iss", "sub", "sid", "iat", "nbf", "exp")
#: A retired key stays published this long, so tokens it signed (and caches of the JWKS
#: held by third parties) run out before it disappears.
KEY_RETENTION = timedelta(days=1)
#: How long third parties may cache the JWKS.
JWKS_MAX_AGE_SECONDS = 300
#: How often a process re-reads the signing keys (another host may have rotated them).
KEY_RELOAD_INTERVAL = timedelta(seconds=60)
#: A new key is published this long before it signs: every worker has reloaded and every
#: third-party cache of the JWKS has expired by then, so no verifier meets an unknown kid.
KEY_PUBLISH_AHEAD = timedelta(seconds=JWKS_MAX_AGE_SECONDS) + KEY_RELOAD_INTERVAL
#: Clock skew tolerated for `nbf`/`iat` between hosts; `exp` gets none.
NBF_LEEWAY_SECONDS = 5
#: Anything longer is not one of ours; refuse before parsing (cheap DoS guard).
MAX_TOKEN_LENGTH = 4096
_KEY_PURPOSE = "signing-key-encryption"
#: Verified tokens remembered per process: a few MB at most, several minutes of traffic
#: for thousands of concurrent users with 60-second tokens.
DEFAULT_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """The verified claims of a session token."""

    user_id: str
    session_id: str
    expires_at: int
    claims: Mapping[str, Any]
    not_before: int
    #: What `auth(request)` returns for this token, built once: a cache hit allocates nothing.
    auth: Auth


def _session_claims(
    claims: Mapping[str, Any], *, user_id: str, session_id: str, expires_at: int, not_before: int
) -> SessionClaims:
    return SessionClaims(
        user_id=user_id,
        session_id=session_id,
        expires_at=expires_at,
        claims=claims,
        not_before=not_before,
        auth=Auth(user_id, session_id, claims),
    )


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None
    public_jwk: Mapping[str, str]
    created_at: datetime
    retired_at: datetime | None


def new_signing_key_row(secret_key: str, now: datetime) -> SigningKeyRow:
    """A fresh Ed25519 key ready to insert, its private half encrypted."""
    private = Ed25519PrivateKey.generate()
    kid = new_id("key")
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    return SigningKeyRow(
        kid=kid,
        algorithm=ALGORITHM,
        public_jwk=json.dumps(jwk, sort_keys=True),
        private_key_encrypted=Fernet(fernet_key(secret_key, _KEY_PURPOSE)).encrypt(pem).decode(),
        created_at=now,
    )


class KeyRing:
    """
    The signing keys one process knows. Loaded from the database at start-up and on
    refresh; verification never touches the database.
    """

    def __init__(
        self, *, issuer: str, secret_key: str, cache_size: int = DEFAULT_CACHE_SIZE
    ) -> None:
        self._issuer = issuer
        self._fernet = Fernet(fernet_key(secret_key, _KEY_PURPOSE))
        self._keys: dict[str, _Key] = {}
        #: token → its verified claims, least recently used first (bounded LRU).
        self._verified: OrderedDict[str, SessionClaims] = OrderedDict()
        self.cache_size = cache_size
        self._signing: _Key | None = None
        self.loaded_at: datetime | None = None

    @property
    def issuer(self) -> str:
        return self._issuer

    @issuer.setter
    def issuer(self, value: str) -> None:
        # Tokens verified against the old issuer must be checked again.
        self._issuer = value
        self._verified.clear()

    def load(self, rows: Iterable[SigningKeyRow], now: datetime) -> None:
        """
        Replace the known keys with `rows`. The newest key published for at least
        `KEY_PUBLISH_AHEAD` signs (or the oldest, when none is that old);
        a key retires at its `retired_at`, which may lie ahead, and verifies until
        `KEY_RETENTION` after it.

        Raises:
            TokenError: a private key cannot be decrypted (the secret key changed).
        """
        keys: dict[str, _Key] = {}
        for row in rows:
            if row.algorithm != ALGORITHM:
                continue
            if row.retired_at is not None and row.retired_at + KEY_RETENTION < now:
                continue
            keys[row.kid] = self._decode_row(row, now)
        active = [k for k in keys.values() if k.private is not None]
        ready = [k for k in active if k.created_at + KEY_PUBLISH_AHEAD <= now]
        self._keys = keys
        # Tokens verified against the old key set must be checked again.
        self._verified.clear()
        if ready:
            self._signing = max(ready, key=lambda k: (k.created_at, k.kid))
        else:
            # All keys are young (a first key, or a rotation right after it): the one
            # that was signing before the others came goes on signing.
            self._signing = min(active, key=lambda k: (k.created_at, k.kid)) if active else None
        self.loaded_at = now

    def _decode_row(self, row: SigningKeyRow, now: datetime) -> _Key:
        jwk: dict[str, str] = json.loads(row.public_jwk)
        public = OKPAlgorithm.from_jwk(row.public_jwk)
        if not isinstance(public, Ed25519PublicKey):
            raise TokenError(f"signing key {row.kid} is not an Ed25519 public key")
        private: Ed25519PrivateKey | None = None
        if row.retired_at is None or row.retired_at > now:
            try:
                pem = self._fernet.decrypt(row.private_key_encrypted.encode())
            except InvalidToken:
                raise TokenError(
                    f"signing key {row.kid} cannot be decrypted: was AUTHKIT_SECRET_KEY changed?"
                ) from None
            loaded = serialization.load_pem_private_key(pem, password=None)
            if not isinstance(loaded, Ed25519PrivateKey):
                raise TokenError(f"signing key {row.kid} is not an Ed25519 private key")
            private = loaded
        return _Key(row.kid, public, private, jwk, row.created_at, row.retired_at)

    @property
    def has_signing_key(self) -> bool:
        return self._signing is not None

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def mint(self, claims: Mapping[str, Any], *, headers: Mapping[str, str] | None = None) -> str:
        """Sign `claims` with the current key (`kid` and `typ: JWT` in the header)."""
        key = self._signing
        if key is None or key.private is None:
            raise TokenError("no signing key loaded")
        return jwt.encode(
            dict(claims),
            key.private,
            algorithm=ALGORITHM,
            headers={**(headers or {}), "kid": key.kid, "typ": "JWT"},
            json_encoder=Utf8JsonEncoder,
        )

    def mint_session_token(
        self,
        *,
        user_id: str,
        session_id: str,
        now: datetime,
        lifetime_seconds: int,
        extra_claims: Mapping[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """A session token for `user_id`/`session_id`; returns it with its claims."""
        iat = int(now.timestamp())
        exp = iat + lifetime_seconds
        claims = {
            **(extra_claims or {}),
            "iss": self.issuer,
            "sub": user_id,
            "sid": session_id,
            "iat": iat,
            "nbf": iat,
            "exp": exp,
        }
        token = self.mint(claims)
        # Freshly minted (on sign-in or refresh): the next request needs no full check.
        self._remember(
            token,
            _session_claims(
                claims, user_id=user_id, session_id=session_id, expires_at=exp, not_before=iat
            ),
        )
        return token, claims

    def _remember(self, token: str, claims: SessionClaims) -> None:
        self._verified[token] = claims
        if len(self._verified) > self.cache_size:
            self._verified.popitem(last=False)

    def verify_session_token(self, token: str, *, now_timestamp: float) -> SessionClaims:
        """
        Verify a session token and return its claims, from the cache of tokens this
        process already verified when it can.

        The cache changes no decision: a hit is a token this ring minted or fully
        verified, byte for byte; its time claims are checked again on every use; and the
        cache is emptied whenever the keys are reloaded (so a dropped key drops its
        tokens) or the issuer changes.
        Revocation is unaffected: it never depended on this check (DESIGN.md).

        Raises:
            TokenError: for any reason the token is not a valid, current session token.
        """
        hit = self._verified.get(token)
        if hit is not None:
            if now_timestamp >= hit.expires_at:
                self._verified.pop(token, None)
                raise TokenError("expired")
            if now_timestamp + NBF_LEEWAY_SECONDS < hit.not_before:
                raise TokenError("not yet valid")
            self._verified.move_to_end(token)
            return hit
        claims = self._verify_uncached(token, now_timestamp=now_timestamp)
        self._remember(token, claims)
        return claims

    def _verify_uncached(self, token: str, *, now_timestamp: float) -> SessionClaims:
        """
        Verify a session token and return its claims.

        Warning:
            The algorithm comes from our key (`EdDSA` only), never from the token's
            header: `none`, HS256 with our public key, and other keys are all refused.

        Raises:
            TokenError: for any reason the token is not a valid, current session token.
        """
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenError("token too long")
        header = _peek_header(token)
        if header is None:
            raise TokenError("malformed token")
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenError("unknown signing key")
        if header.get("alg") != ALGORITHM or header.get("typ") != "JWT":
            raise TokenError("wrong algorithm or type")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    # Time is checked below against the injected clock.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    # No audience given: a token that carries one (a JWT-template token)
                    # is refused here, so it can never be used as a session.
                    "verify_aud": True,
                },
            )
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"invalid token: {type(exc).__name__}") from None
        sub, sid, exp, nbf = claims["sub"], claims["sid"], claims["exp"], claims["nbf"]
        if "aud" in claims:
            # pyjwt lets an empty audience ("", [], null) pass as absent; a session has none.
            raise TokenError("a session token has no audience")
        if not (isinstance(sub, str) and sub and isinstance(sid, str) and sid):
            raise TokenError("sub and sid must be non-empty strings")
        # type() not isinstance(): JSON true/false are bools, and bool is an int subclass.
        if not all(type(claims[c]) is int for c in ("iat", "nbf", "exp")):
            raise TokenError("time claims must be integers")
        if now_timestamp >= exp:
            raise TokenError("expired")
        if now_timestamp + NBF_LEEWAY_SECONDS < max(nbf, claims["iat"]):
            raise TokenError("not yet valid")
        return _session_claims(
            claims,
            user_id=sub,
            session_id=sid,
            expires_at=exp,
            not_before=max(nbf, claims["iat"]),
        )

    def jwks(self) -> dict[str, list[Mapping[str, str]]]:
        """The public keys, current and recently retired, newest first."""
        keys = sorted(self._keys.values(), key=lambda k: (k.created_at, k.kid), reverse=True)
        return {"keys": [k.public_jwk for k in keys]}


class Utf8JsonEncoder(json.JSONEncoder):
    """JWT payloads as UTF-8 JSON, not ASCII escapes: a name in another script costs
    its bytes, not six or twelve per character (session claims ride in a 4 KB cookie)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**{**options, "ensure_ascii": False})


def _peek_header(token: str) -> dict[str, Any] | None:
    """
    The token's header, read only to pick the key and refuse early; `jwt.decode` then
    parses and checks the same bytes strictly. (PyJWT's own unverified-header read
    validates the segment character by character in Python: a tenth of a cold check.)
    """
    segment, dot, _ = token.partition(".")
    if not dot:
        return None
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        header = json.loads(raw)
    # binascii.Error and UnicodeDecodeError are ValueErrors; "[[[[..." nests too deep.
    except (ValueError, RecursionError):
        return None
    return header if isinstance(header, dict) else None
