"""
JWT templates over HTTP and from Python, on SQLite and PostgreSQL: `GET /auth/tokens/<name>`
answers the signed-in user's token (`no-store`; 401 signed out, 404 unknown), verified
here as a third party would: PyJWT through our JWKS for the EdDSA and ES256 templates,
PyJWT with the shared secret for Supabase's HS256. The claims follow the metadata as it
changes; private metadata reaches no token that does not name it; a template token is
never a session, and an HS256 token keyed by a published key is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

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
from .flow_helpers import PASSWORD, csrf_of, start_sign_up
from .jose_helpers import jose_verify
from .pipeline_helpers import EMAIL, sign_in_password

pytestmark = pytest.mark.anyio

SITE = "http://testserver"
ISSUER = f"{SITE}/auth"
SUPABASE_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"


@pytest.fixture
async def kit(make_kit: KitFactory, tmp_path: Path) -> AsyncIterator[AuthKit]:
    secret_file = tmp_path / "supabase.secret"
    secret_file.write_text(SUPABASE_SECRET)
    ec_file = tmp_path / "convex.pem"
    ec_file.write_text(
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    made = make_kit(
        jwt_templates={
            "chat": {
                "lifetime": 300,
                "claims": {
                    "aud": "chat.example.com",
                    "name": "{{user.full_name}}",
                    "email": "{{user.primary_email_address}}",
                    "plan": "{{user.public_metadata.plan || 'free'}}",
                    "greeting": "Hi {{user.first_name}}",
                    "sid_copy": "{{session.id}}",
                },
            },
            "hasura": {"preset": "hasura"},
            "supabase": {"preset": "supabase", "signing_key": str(secret_file)},
            "convex": {"preset": "convex", "signing_key": str(ec_file)},
            "billing": {"claims": {"customer": "{{user.private_metadata.stripe}}"}},
        }
    )
    yield made
    await made.aclose()


@pytest.fixture
async def app(kit: AuthKit) -> Starlette:
    host = make_host_app(kit)

    async def from_python(request: Request) -> Response:
        token = await kit.get_token(request, str(request.path_params["name"]))
        return JSONResponse({"jwt": token})

    host.router.routes.insert(0, Route("/from-python/{name}", from_python))
    return host


@pytest.fixture
async def user_id(kit: AuthKit) -> str:
    await kit.ensure_started()
    user = await kit.users.create(email=EMAIL, password=PASSWORD, first_name="Ada")
    await kit.users.update(user.id, private_metadata={"stripe": "cus_secret_1"})
    return user.id


def browser(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SITE)


async def jwks(client: httpx.AsyncClient) -> jwt.PyJWKSet:
    return jwt.PyJWKSet.from_dict((await client.get("/auth/.well-known/jwks.json")).json())


def verify(token: str, keys: jwt.PyJWKSet, algorithm: str, audience: str | None) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=[algorithm],
        issuer=ISSUER,
        audience=audience,
        options={"require": ["iss", "sub", "iat", "nbf", "exp", "jti"]},
    )
    return claims


async def test_a_template_token_for_the_signed_in_user(
    app: Starlette, kit: AuthKit, user_id: str
) -> None:
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        session_id = (await b.get("/")).json()["session_id"]
        r = await b.get("/auth/tokens/chat")
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        token = r.json()["jwt"]
        assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
        claims = verify(token, await jwks(b), "EdDSA", "chat.example.com")
        assert claims["sub"] == user_id and claims["nbf"] == claims["iat"] - 5
        assert claims["exp"] == claims["iat"] + 300
        assert {k: claims[k] for k in ("name", "email", "plan", "greeting", "sid_copy")} == {
            "name": "Ada",
            "email": EMAIL,
            "plan": "free",
            "greeting": "Hi Ada",
            "sid_copy": session_id,
        }
        assert "cus_secret_1" not in json.dumps(claims)  # private metadata: not named here
        await kit.users.update_metadata(user_id, public_metadata={"plan": "pro"})
        again = verify(
            (await b.get("/auth/tokens/chat")).json()["jwt"],
            await jwks(b),
            "EdDSA",
            "chat.example.com",
        )
        assert again["plan"] == "pro" and again["jti"] != claims["jti"]
        billing = (await b.get("/auth/tokens/billing")).json()["jwt"]
        assert verify(billing, await jwks(b), "EdDSA", None)["customer"] == "cus_secret_1"
        from_python = (await b.get("/from-python/chat")).json()["jwt"]
        assert verify(from_python, await jwks(b), "EdDSA", "chat.example.com")["sub"] == user_id


async def test_signed_out_unknown_and_python_errors(
    app: Starlette, kit: AuthKit, user_id: str
) -> None:
    async with browser(app) as b:
        signed_out = await b.get("/auth/tokens/chat")
        assert signed_out.status_code == 401
        assert signed_out.json() == {"error": "You are signed out. Sign in and try again."}
        assert (await b.get("/from-python/chat")).json() == {"jwt": None}
        assert (await sign_in_password(b)).status_code == 303
        unknown = await b.get("/auth/tokens/nope")
        assert unknown.status_code == 404
        assert unknown.json() == {"error": "There is no token of that name."}
        with pytest.raises(KeyError, match="no JWT template 'nope'"):
            await b.get("/from-python/nope")


async def test_presets_verify_as_their_third_parties_do(
    app: Starlette, kit: AuthKit, user_id: str
) -> None:
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        keys = await jwks(b)
        hasura = verify((await b.get("/auth/tokens/hasura")).json()["jwt"], keys, "EdDSA", None)
        assert hasura["https://hasura.io/jwt/claims"] == {
            "x-hasura-user-id": user_id,
            "x-hasura-default-role": "user",
            "x-hasura-allowed-roles": ["user"],
        }
        supabase_token = (await b.get("/auth/tokens/supabase")).json()["jwt"]
        supabase = jwt.decode(
            supabase_token, SUPABASE_SECRET, algorithms=["HS256"], audience="authenticated"
        )
        assert (supabase["role"], supabase["email"], supabase["sub"]) == (
            "authenticated",
            EMAIL,
            user_id,
        )
        convex_token = (await b.get("/auth/tokens/convex")).json()["jwt"]
        assert jwt.get_unverified_header(convex_token)["alg"] == "ES256"
        assert verify(convex_token, keys, "ES256", "convex")["email"] == EMAIL
        published = (await b.get("/auth/.well-known/jwks.json")).json()["keys"]
        assert {k["kty"] for k in published} == {"OKP", "EC"}
        assert all("d" not in k and "k" not in k for k in published)  # no private or HMAC key


async def test_a_template_token_is_never_a_session(
    app: Starlette, kit: AuthKit, user_id: str
) -> None:
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        tokens = [
            (await b.get(f"/auth/tokens/{n}")).json()["jwt"] for n in ("hasura", "billing", "chat")
        ]
        keys = (await b.get("/auth/.well-known/jwks.json")).json()["keys"]
    names = kit.settings.cookie_names
    # An HS256 token keyed by a published key's JSON, with a session's claims (signed by
    # hand: PyJWT itself refuses to use a JWK as an HMAC secret).
    forged = [
        _hs256(
            {"alg": "HS256", "typ": "JWT", "kid": key["kid"]},
            {"iss": ISSUER, "sub": user_id, "sid": "sess_x", "iat": 0, "nbf": 0, "exp": 2**31},
            json.dumps(key).encode(),
        )
        for key in keys
    ]
    for token in [*tokens, *forged]:
        async with browser(app) as other:
            other.cookies.set(names.session, token)
            assert (await other.get("/")).json()["user_id"] is None


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{part(header)}.{part(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


async def test_npm_jose_verifies_template_tokens_through_the_remote_jwks(
    make_kit: KitFactory, tmp_path: Path, mailbox: Mailbox
) -> None:
    """A third party's own library (npm jose), fetching our JWKS over HTTP, accepts the
    EdDSA and the ES256 templates' tokens."""
    ec_file = tmp_path / "convex.pem"
    ec_file.write_text(
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    live = make_kit(
        base_url=base_url,
        jwt_templates={
            "chat": {"claims": {"aud": "chat", "plan": "{{user.public_metadata.plan || 'free'}}"}},
            "convex": {"preset": "convex", "signing_key": str(ec_file)},
        },
    )
    url, stop = serve(closable(make_host_app(live), live), port=port)
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            # Signed up through the pages: the kit belongs to the server's loop.
            page = await start_sign_up(http, EMAIL)
            with anyio.fail_after(10):
                while not mailbox.to(EMAIL):
                    await anyio.sleep(0.05)
            code = mailbox.last_code(EMAIL)
            done = await http.post(
                "/auth/sign-up/verify", data={"csrf_token": csrf_of(page.text), "code": code}
            )
            assert done.status_code == 303, done.text
            chat = (await http.get("/auth/tokens/chat")).json()["jwt"]
            convex = (await http.get("/auth/tokens/convex")).json()["jwt"]
            await http.post(CLOSE_PATH)
        jwks_url = f"{base_url}/auth/.well-known/jwks.json"
        for token, audience, algorithms in ((chat, "chat", ""), (convex, "convex", "ES256")):
            code, verified, stderr = await jose_verify(
                jwks_url, token, f"{base_url}/auth", audience, algorithms
            )
            assert code == 0, stderr
            assert verified["payload"]["aud"] == audience
        assert verified["protectedHeader"]["alg"] == "ES256"
    finally:
        stop()


async def test_unsafe_metadata_cannot_reach_a_claim_it_should_not(
    make_kit: KitFactory,
) -> None:
    """A user's own unsafe_metadata, read whole by a template, stays inside its claim:
    it cannot set `sub`, `iss`, `exp` or another claim of the token."""
    kit = make_kit(jwt_templates={"t": {"claims": {"profile": "{{user.unsafe_metadata}}"}}})
    try:
        app = make_host_app(kit)
        await kit.ensure_started()
        user = await kit.users.create(email=EMAIL, password=PASSWORD)
        async with browser(app) as b:
            assert (await sign_in_password(b)).status_code == 303
            page = (await b.get("/auth/user")).text
            token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            hostile = {"sub": "user_admin", "iss": "https://evil.example", "exp": 9999999999}
            r = await b.post(
                "/auth/user/metadata",
                json={"unsafe_metadata": hostile},
                headers={"X-CSRF-Token": token},
            )
            assert r.status_code == 200, r.text
            minted = (await b.get("/auth/tokens/t")).json()["jwt"]
            claims = verify(minted, await jwks(b), "EdDSA", None)
        assert claims["profile"] == hostile
        assert (claims["sub"], claims["iss"]) == (user.id, ISSUER)
        assert claims["exp"] == claims["iat"] + 60
    finally:
        await kit.aclose()
