"""
shared/SECURITY.md §4, JWT attack classes: each test forges a `__session` cookie a
different way and sends it, without a refresh token, to the real host app. Every one
must leave the request signed out: GET / says `is_signed_in: False`, /dashboard
redirects to sign-in, /api/me answers 401, and nothing ever answers 500.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from authkit import AuthKit
from authkit.cookies import SESSION_COOKIE
from authkit.security.tokens import NBF_LEEWAY_SECONDS, REQUIRED_CLAIMS

from ..conftest import FakeClock, Mailbox
from ..web.flow_helpers import sign_up

pytestmark = pytest.mark.anyio


@dataclass
class Victim:
    """A real signed-in session and what an attacker can read from its cookie."""

    client: httpx.AsyncClient
    kit: AuthKit
    token: str
    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def kid(self) -> str:
        kid = self.header["kid"]
        assert isinstance(kid, str)
        return kid

    def private_key(self) -> Ed25519PrivateKey:
        """The kit's own signing key, to mint tokens only the server could have made."""
        signing = self.kit.services.keyring._signing
        assert signing is not None and signing.private is not None
        return signing.private

    def public_jwk(self) -> Mapping[str, str]:
        signing = self.kit.services.keyring._signing
        assert signing is not None
        return signing.public_jwk

    def claims_with(self, **changes: Any) -> dict[str, Any]:
        return {**self.claims, **changes}


@pytest.fixture
async def victim(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> AsyncIterator[Victim]:
    r = await sign_up(client, kit, mailbox, "victim@example.com")
    assert r.status_code == 303, r.text
    token = client.cookies[SESSION_COOKIE]
    yield Victim(
        client=client,
        kit=kit,
        token=token,
        header=jwt.get_unverified_header(token),
        claims=jwt.decode(token, options={"verify_signature": False}),
    )


# -- building tokens by hand ---------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def unsigned(header: Mapping[str, Any], claims: Any) -> str:
    return f"{segment(header)}.{segment(claims)}"


def ed25519_token(key: Ed25519PrivateKey, header: Mapping[str, Any], claims: Any) -> str:
    signing_input = unsigned(header, claims)
    return f"{signing_input}.{b64(key.sign(signing_input.encode()))}"


def our_header(victim: Victim, **changes: Any) -> dict[str, Any]:
    return {**{"alg": "EdDSA", "kid": victim.kid, "typ": "JWT"}, **changes}


# -- sending a forged cookie ---------------------------------------------------------------


async def send_cookie(
    client: httpx.AsyncClient, path: str, value: bytes, *, accept: str = "*/*"
) -> httpx.Response:
    # The whole Cookie header, as raw bytes: the jar (and with it __refresh) is left out.
    cookie = SESSION_COOKIE.encode() + b"=" + value
    return await client.get(path, headers={b"accept": accept.encode(), b"cookie": cookie})


async def assert_signed_out(
    victim: Victim, token: str | bytes, *, expect_cleared: bool = True
) -> None:
    """The forged session gives nobody access, on every kind of endpoint."""
    client = victim.client
    client.cookies.clear()
    value = token.encode() if isinstance(token, str) else token
    r = await send_cookie(client, "/", value)
    assert r.status_code == 200, r.text
    assert r.json()["is_signed_in"] is False, r.text
    assert r.json()["user_id"] is None
    if value and expect_cleared:
        # A refused token is also cleared from the browser.
        assert f"{SESSION_COOKIE}=;" in r.headers.get("set-cookie", ""), r.headers
    r = await send_cookie(client, "/dashboard", value)
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/auth/sign-in")
    r = await send_cookie(client, "/api/me", value, accept="application/json")
    assert r.status_code == 401, r.text


async def test_real_session_token_is_accepted_by_the_same_probe(victim: Victim) -> None:
    """Control: the genuine token sent the same way signs in, so the probes are not vacuous."""
    victim.client.cookies.clear()
    r = await send_cookie(victim.client, "/", victim.token.encode())
    assert r.json()["is_signed_in"] is True, r.text
    r = await send_cookie(
        victim.client, "/api/me", victim.token.encode(), accept="application/json"
    )
    assert r.status_code == 200, r.text
    # And a token re-signed by hand with our key is accepted: the forgery helpers are sound.
    rebuilt = ed25519_token(victim.private_key(), our_header(victim), victim.claims)
    r = await send_cookie(victim.client, "/", rebuilt.encode())
    assert r.json()["is_signed_in"] is True, r.text
    minted = victim.kit.services.keyring.mint(victim.claims)
    r = await send_cookie(victim.client, "/", minted.encode())
    assert r.json()["is_signed_in"] is True, r.text


# -- time ----------------------------------------------------------------------------------


async def test_expired_token_is_refused(victim: Victim, clock: FakeClock) -> None:
    """Replay of a stolen session token after its expiry."""
    clock.advance(victim.kit.settings.session_token_lifetime)
    await assert_signed_out(victim, victim.token)


async def test_token_with_far_future_exp_but_old_signature_is_refused_when_expired(
    victim: Victim, clock: FakeClock
) -> None:
    """Replay much later (a token captured from logs days ago)."""
    clock.advance(7 * 24 * 3600)
    await assert_signed_out(victim, victim.token)


async def test_not_yet_valid_token_beyond_the_leeway_is_refused(victim: Victim) -> None:
    """A pre-minted token (nbf in the future) must not work early."""
    nbf = victim.claims["nbf"] + NBF_LEEWAY_SECONDS + 1
    token = victim.kit.services.keyring.mint(victim.claims_with(nbf=nbf, exp=nbf + 60))
    await assert_signed_out(victim, token)


async def test_token_issued_in_the_future_is_refused(victim: Victim) -> None:
    """A token whose iat lies beyond the clock-skew leeway (SECURITY.md: iat in future ⇒ reject)."""
    iat = victim.claims["iat"] + 3600
    token = victim.kit.services.keyring.mint(victim.claims_with(iat=iat))
    await assert_signed_out(victim, token)


@pytest.mark.parametrize("value", ["9999999999", 9999999999.5, None, [9999999999], True])
async def test_exp_not_an_integer_is_refused(victim: Victim, value: Any) -> None:
    """exp as a string (accepted by pyjwt via int()), float, null, list or boolean."""
    token = victim.kit.services.keyring.mint(victim.claims_with(exp=value))
    await assert_signed_out(victim, token)


@pytest.mark.parametrize("claim", ["iat", "nbf"])
async def test_other_time_claims_not_integers_are_refused(victim: Victim, claim: str) -> None:
    """iat/nbf as strings must not slip past the time checks."""
    token = victim.kit.services.keyring.mint(victim.claims_with(**{claim: "0"}))
    await assert_signed_out(victim, token)


# -- keys and algorithms -------------------------------------------------------------------


async def test_token_signed_by_another_ed25519_key_with_our_kid_is_refused(
    victim: Victim,
) -> None:
    """Attacker signs with their own Ed25519 key and claims our kid."""
    attacker = Ed25519PrivateKey.generate()
    await assert_signed_out(victim, ed25519_token(attacker, our_header(victim), victim.claims))


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", "keep"])
async def test_alg_none_is_refused(victim: Victim, alg: str, signature: str) -> None:
    """Unsigned token (alg none, any case), with an empty or a leftover signature."""
    sig = victim.token.rsplit(".", 1)[1] if signature == "keep" else ""
    token = f"{unsigned(our_header(victim, alg=alg), victim.claims)}.{sig}"
    await assert_signed_out(victim, token)


def _public_key_secrets(victim: Victim) -> dict[str, bytes]:
    public = victim.private_key().public_key()
    return {
        "raw": public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        "pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "openssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
        "jwk-json": OKPAlgorithm.to_jwk(public).encode(),
        "jwk-json-as-published": json.dumps(victim.public_jwk(), sort_keys=True).encode(),
        "x-member": victim.public_jwk()["x"].encode(),
    }


@pytest.mark.parametrize(
    "secret_form",
    ["raw", "pem", "der", "openssh", "jwk-json", "jwk-json-as-published", "x-member"],
)
@pytest.mark.parametrize("alg", ["HS256", "HS512"])
async def test_hmac_signed_with_our_public_key_is_refused(
    victim: Victim, secret_form: str, alg: str
) -> None:
    """Algorithm confusion: HS256 keyed with our public key (CVE-2017-11424, CVE-2022-29217)."""
    secret = _public_key_secrets(victim)[secret_form]
    signing_input = unsigned(our_header(victim, alg=alg), victim.claims)
    digest = hashlib.sha256 if alg == "HS256" else hashlib.sha512
    signature = hmac.new(secret, signing_input.encode(), digest).digest()
    await assert_signed_out(victim, f"{signing_input}.{b64(signature)}")


async def test_es256_token_is_refused(victim: Victim) -> None:
    """A token in another asymmetric algorithm (ES256, attacker's P-256 key, our kid)."""
    attacker = generate_private_key(SECP256R1())
    token = jwt.encode(victim.claims, attacker, algorithm="ES256", headers={"kid": victim.kid})
    await assert_signed_out(victim, token)


async def test_eddsa_signature_under_es256_header_is_refused(victim: Victim) -> None:
    """Our genuine Ed25519 signature relabelled with another alg must not verify."""
    token = ed25519_token(victim.private_key(), our_header(victim, alg="ES256"), victim.claims)
    await assert_signed_out(victim, token)


async def test_all_zero_signature_is_refused(victim: Victim) -> None:
    """Psychic signature (CVE-2022-21449) regression: a 64-byte all-zero signature."""
    token = f"{unsigned(our_header(victim), victim.claims)}.{b64(bytes(64))}"
    await assert_signed_out(victim, token)


async def test_es256_psychic_signature_is_refused(victim: Victim) -> None:
    """Psychic signature in its original form: ES256 with r = s = 0."""
    token = f"{unsigned(our_header(victim, alg='ES256'), victim.claims)}.{b64(bytes(64))}"
    await assert_signed_out(victim, token)


@pytest.mark.parametrize(
    "kid",
    ["key_unknown0000000000000000", "", "../../../../dev/null", "' OR '1'='1", 1, ["x"], {"a": 1}],
)
async def test_unknown_kid_is_refused(victim: Victim, kid: Any) -> None:
    """Hostile or unknown kid, even with our real signature: only the in-memory key map counts."""
    token = ed25519_token(victim.private_key(), our_header(victim, kid=kid), victim.claims)
    await assert_signed_out(victim, token)


async def test_missing_kid_is_refused(victim: Victim) -> None:
    """A token without kid is never tried against all our keys."""
    header = {"alg": "EdDSA", "typ": "JWT"}
    await assert_signed_out(victim, ed25519_token(victim.private_key(), header, victim.claims))


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c"])
@pytest.mark.parametrize("kid", ["ours", "theirs"])
async def test_attacker_key_in_header_is_refused(victim: Victim, member: str, kid: str) -> None:
    """Embedded or referenced attacker key (jwk/jku/x5u/x5c): header keys are never used."""
    attacker = Ed25519PrivateKey.generate()
    jwk = {**json.loads(OKPAlgorithm.to_jwk(attacker.public_key())), "kid": "attacker"}
    values: dict[str, Any] = {
        "jwk": jwk,
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": ["MIIBattacker"],
    }
    header = our_header(victim, **{member: values[member]})
    if kid == "theirs":
        header["kid"] = "attacker"
    await assert_signed_out(victim, ed25519_token(attacker, header, victim.claims))


# -- header checks -------------------------------------------------------------------------


@pytest.mark.parametrize("typ", ["at+jwt", "JOSE", "", None, 1, "__absent__"])
async def test_typ_other_than_jwt_is_refused(victim: Victim, typ: Any) -> None:
    """Cross-JWT confusion: an access-token or other typed JWT signed by us is not a session."""
    header = our_header(victim, typ=typ)
    if typ == "__absent__":
        del header["typ"]
    await assert_signed_out(victim, ed25519_token(victim.private_key(), header, victim.claims))


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["urn:example:unknown"], "urn:example:unknown": True},
        {"crit": ["exp"]},
        {"crit": ["b64"], "b64": False},
        {"crit": "urn:example:unknown"},
        {"crit": []},
    ],
)
async def test_crit_header_with_unknown_extension_is_refused(
    victim: Victim, extra: dict[str, Any]
) -> None:
    """crit naming an extension we do not understand (CVE-2026-32597) must fail closed."""
    header = our_header(victim, **extra)
    await assert_signed_out(victim, ed25519_token(victim.private_key(), header, victim.claims))


# -- payload checks ------------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["sub", "sid"])
async def test_tampered_payload_with_kept_signature_is_refused(victim: Victim, claim: str) -> None:
    """Privilege escalation by editing sub/sid while keeping the original signature."""
    header_segment, _, signature = victim.token.split(".")
    forged = victim.claims_with(**{claim: "user_admin" if claim == "sub" else "sess_other"})
    await assert_signed_out(victim, f"{header_segment}.{segment(forged)}.{signature}")


async def test_payload_with_extended_exp_and_kept_signature_is_refused(
    victim: Victim, clock: FakeClock
) -> None:
    """Extending one's own expired token by editing exp keeps nothing valid."""
    header_segment, _, signature = victim.token.split(".")
    forged = victim.claims_with(exp=victim.claims["exp"] + 10**6)
    clock.advance(victim.kit.settings.session_token_lifetime + 1)
    await assert_signed_out(victim, f"{header_segment}.{segment(forged)}.{signature}")


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
async def test_token_missing_a_required_claim_is_refused(victim: Victim, claim: str) -> None:
    """A token we signed but without one required claim (pyjwt accepts a missing exp by default)."""
    claims = {k: v for k, v in victim.claims.items() if k != claim}
    await assert_signed_out(victim, victim.kit.services.keyring.mint(claims))


@pytest.mark.parametrize(
    "issuer",
    [
        "https://evil.example/auth",
        "http://testserver",
        "http://testserver/auth/",
        "http://testserver/auth/x",
        "HTTP://TESTSERVER/auth",
        "ttp://testserver/aut",
        "",
        ["http://testserver/auth"],
        None,
    ],
)
async def test_wrong_issuer_is_refused(victim: Victim, issuer: Any) -> None:
    """Only the exact issuer string counts (no prefix, partial or list match, CVE-2024-53861)."""
    # By hand: pyjwt refuses to encode a non-string iss.
    claims = victim.claims_with(iss=issuer)
    token = ed25519_token(victim.private_key(), our_header(victim), claims)
    await assert_signed_out(victim, token)


@pytest.mark.parametrize(
    "audience",
    [
        "http://testserver/auth",
        "convex",
        ["convex", "http://testserver/auth"],
        ["supabase"],
        # pyjwt treats an empty aud as absent: these must be refused all the same.
        *(
            pytest.param(value, id=f"empty-{name}")
            for name, value in [("string", ""), ("list", []), ("null", None)]
        ),
    ],
)
async def test_token_with_an_audience_is_not_a_session(victim: Victim, audience: Any) -> None:
    """A JWT-template token (it carries aud) signed by our key must not work as a session."""
    token = victim.kit.services.keyring.mint(victim.claims_with(aud=audience))
    await assert_signed_out(victim, token)


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("sub", 12345),
        ("sub", None),
        ("sub", ["user_x"]),
        ("sub", {"id": "user_x"}),
        ("sid", 12345),
        ("sid", None),
        ("sid", ["sess_x"]),
        ("sid", True),
    ],
)
async def test_sub_or_sid_not_a_string_is_refused(victim: Victim, claim: str, value: Any) -> None:
    """Type confusion in sub/sid (a number or list where an id string is expected)."""
    token = victim.kit.services.keyring.mint(victim.claims_with(**{claim: value}))
    await assert_signed_out(victim, token)


@pytest.mark.parametrize("payload", [[], "a string", 42, None])
async def test_payload_that_is_not_an_object_is_refused(victim: Victim, payload: Any) -> None:
    """A signed JSON payload that is not an object is malformed, not a 500."""
    token = ed25519_token(victim.private_key(), our_header(victim), payload)
    await assert_signed_out(victim, token)


# -- garbage -------------------------------------------------------------------------------


def _garbage() -> list[tuple[str, bytes]]:
    header = segment({"alg": "EdDSA", "kid": "k", "typ": "JWT"})
    return [
        ("empty", b""),
        ("a.b.c", b"a.b.c"),
        ("dots", b".."),
        ("two-segments", b"a.b"),
        ("four-segments", b"a.b.c.d"),
        ("10KB", b"x" * 10_240),
        ("10KB-of-segments", b".".join([b"x" * 3400] * 3)),
        ("non-ascii", "ünïcødé.☃.✓".encode()),
        ("non-ascii-header", b64('{"alg":"EdDSA","kid":"☃"}'.encode()).encode() + b".e30.AA"),
        ("random-base64", b"Zm9vYmFy.cXV1eCBiYXo.c2lnbmF0dXJl"),
        (
            "random-bytes-base64",
            b64(bytes(range(48))).encode() + b"." + b64(bytes(range(200, 250))).encode() + b".AAAA",
        ),
        ("header-only", header.encode() + b".."),
        ("header-not-json", b64(b"not json").encode() + b".e30.AA"),
        ("header-json-list", segment(["EdDSA"]).encode() + b".e30.AA"),
        ("header-json-number", segment(1).encode() + b".e30.AA"),
        ("payload-not-json", header.encode() + b"." + b64(b"{").encode() + b".AA"),
        ("bad-padding", header.encode() + b".e30=.A"),
        ("json-serialization", b'{"payload":"e30","signatures":[]}'),
        ("whitespace", b" . . "),
        ("nul", b"\x00.\x00.\x00"),
        ("latin-1", b"\xff\xfe.\xff.\xff"),
    ]


@pytest.mark.parametrize(("name", "value"), _garbage(), ids=[n for n, _ in _garbage()])
async def test_garbage_session_cookie_is_refused(victim: Victim, name: str, value: bytes) -> None:
    """Malformed cookies of every shape end as signed-out, never as a 500."""
    await assert_signed_out(victim, value)


async def test_oversized_cookie_header_is_ignored(victim: Victim) -> None:
    """A 20 KB cookie header (a parser DoS attempt) is dropped, not parsed or answered 500."""
    value = victim.token.encode() + b"; pad=" + b"x" * 20_000
    await assert_signed_out(victim, value, expect_cleared=False)
