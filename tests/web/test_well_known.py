"""
The discovery documents third parties read: the JWKS (public halves only) and the
OpenID configuration, and proof that another stack, npm `jose`, verifies authkit's
session tokens through the published JWKS over real HTTP (shared/TESTING.md §4).
"""

from __future__ import annotations

import base64
import json

import httpx
import jwt
import pytest

from authkit import AuthKit

from ..conftest import (
    CLOSE_PATH,
    KitFactory,
    Mailbox,
    closable,
    free_port,
    serve,
)
from ..hostapp import make_host_app
from .flow_helpers import sign_up
from .jose_helpers import jose_verify

pytestmark = pytest.mark.anyio

JWKS_PATH = "/auth/.well-known/jwks.json"
OPENID_PATH = "/auth/.well-known/openid-configuration"
PUBLIC_MEMBERS = {"kty", "crv", "x", "kid", "alg", "use"}


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- the JWKS ------------------------------------------------------------------------------


async def test_jwks_lists_public_ed25519_keys_only(client: httpx.AsyncClient, kit: AuthKit) -> None:
    """Each published key is an Ed25519 verification key with no private member."""
    r = await client.get(JWKS_PATH)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    keys = r.json()["keys"]
    assert len(keys) == 1
    for key in keys:
        assert set(key) == PUBLIC_MEMBERS, key
        assert "d" not in key
        assert key["kty"] == "OKP"
        assert key["crv"] == "Ed25519"
        assert key["alg"] == "EdDSA"
        assert key["use"] == "sig"
        assert key["kid"].startswith("key_")
        assert len(b64decode(key["x"])) == 32
    assert keys[0]["kid"] in kit.services.keyring.kids


async def test_jwks_may_be_cached_briefly(client: httpx.AsyncClient) -> None:
    """The JWKS is public and cacheable for minutes, so verifiers do not hammer the site."""
    r = await client.get(JWKS_PATH)
    assert r.headers["cache-control"] == "public, max-age=300"


async def test_jwks_verifies_a_real_session_token(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """The session cookie of a real sign-up verifies with the key the JWKS publishes."""
    await sign_up(client, kit, mailbox, "ada@example.com")
    token = client.cookies["__session"]
    jwks = jwt.PyJWKSet.from_dict((await client.get(JWKS_PATH)).json())
    key = jwks[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(
        token,
        key,
        algorithms=["EdDSA"],
        issuer="http://testserver/auth",
        options={"require": ["exp", "iat", "nbf", "iss", "sub", "sid"]},
    )
    assert claims["sub"] == (await client.get("/")).json()["user_id"]


async def test_jwks_is_public_to_signed_out_visitors(client: httpx.AsyncClient) -> None:
    """No cookie, no session: the keys are served anyway (third parties have none)."""
    client.cookies.clear()
    r = await client.get(JWKS_PATH, headers={"accept": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["keys"]
    assert not [v for v in r.headers.get_list("set-cookie") if "__session" in v]


# -- the OpenID configuration --------------------------------------------------------------


async def test_openid_configuration_names_issuer_and_jwks(client: httpx.AsyncClient) -> None:
    """The issuer is the mount URL and jwks_uri points to the JWKS beneath it."""
    r = await client.get(OPENID_PATH)
    assert r.status_code == 200, r.text
    document = r.json()
    assert document["issuer"] == "http://testserver/auth"
    assert document["jwks_uri"] == document["issuer"] + "/.well-known/jwks.json"
    assert document["id_token_signing_alg_values_supported"] == ["EdDSA"]


async def test_openid_configuration_issuer_matches_session_tokens(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Tokens carry exactly the issuer the discovery document announces."""
    await sign_up(client, kit, mailbox, "grace@example.com")
    issuer = (await client.get(OPENID_PATH)).json()["issuer"]
    claims = jwt.decode(client.cookies["__session"], options={"verify_signature": False})
    assert claims["iss"] == issuer


async def test_openid_configuration_follows_the_mount_path(make_kit: KitFactory) -> None:
    """Mounted elsewhere, the issuer and jwks_uri follow the mount, and the JWKS is there."""
    kit = make_kit()
    app = make_host_app(kit, mount_path="/accounts")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        document = (await c.get("/accounts/.well-known/openid-configuration")).json()
        assert document["issuer"] == "http://testserver/accounts"
        assert document["jwks_uri"] == "http://testserver/accounts/.well-known/jwks.json"
        r = await c.get("/accounts/.well-known/jwks.json")
        assert r.status_code == 200, r.text
    await kit.aclose()


# -- interoperability: npm jose through the remote JWKS -------------------------------------


async def test_jose_verifies_session_tokens_through_the_remote_jwks(
    make_kit: KitFactory,
) -> None:
    """npm jose, fetching our JWKS over HTTP, accepts a session token and refuses forgeries."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    kit = make_kit(base_url=base_url)
    url, stop = serve(closable(make_host_app(kit), kit), port=port)
    try:
        assert url == base_url
        async with httpx.AsyncClient(base_url=url) as http:
            # The first request starts the kit (migrations, keys) on the server's loop.
            document = (await http.get(OPENID_PATH)).json()
            assert (await http.get(document["jwks_uri"])).status_code == 200
        issuer, jwks_url = document["issuer"], document["jwks_uri"]
        assert issuer == f"{base_url}/auth"
        # Minting is pure computation with the loaded key: the same call sign-in makes.
        token, claims = kit.services.keyring.mint_session_token(
            user_id="user_interop",
            session_id="sess_interop",
            now=kit.services.clock(),
            lifetime_seconds=kit.settings.session_token_lifetime,
        )

        code, verified, stderr = await jose_verify(jwks_url, token, issuer)
        assert code == 0, stderr
        assert verified["payload"] == claims
        assert verified["protectedHeader"] == jwt.get_unverified_header(token)
        assert verified["protectedHeader"]["alg"] == "EdDSA"

        # Negative controls, so the success above means something.
        head, payload, signature = token.split(".")
        forged = json.loads(b64decode(payload))
        forged["sub"] = "user_admin"
        tampered = ".".join(
            [
                head,
                base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode(),
                signature,
            ]
        )
        code, _, stderr = await jose_verify(jwks_url, tampered, issuer)
        assert code == 1
        assert stderr.startswith("ERR_JWS_SIGNATURE_VERIFICATION_FAILED"), stderr
        code, _, stderr = await jose_verify(jwks_url, token, "https://evil.example/auth")
        assert code == 1
        assert stderr.startswith("ERR_JWT_CLAIM_VALIDATION_FAILED"), stderr
        # Session tokens carry no audience: a verifier demanding one refuses them.
        code, _, stderr = await jose_verify(jwks_url, token, issuer, "convex")
        assert code == 1
        assert stderr.startswith("ERR_JWT_CLAIM_VALIDATION_FAILED"), stderr
    finally:
        async with httpx.AsyncClient(base_url=url) as http:
            await http.post(CLOSE_PATH)
        stop()
