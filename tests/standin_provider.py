"""
A stand-in OpenID provider written for the tests, for what a real one never does on
request: an id_token for another audience, from another issuer, with an old nonce,
expired, or signed by a key not in its JWKS. It speaks the real protocol (discovery,
JWKS, authorization code with PKCE S256 checked, token, userinfo) over HTTP, in a
uvicorn thread; `next_id_token` bends the next token it issues.

It also stands in for the presets' own ways, never the real internet: GitHub's API
(`/api/user`, `/api/user/emails`), Discord's (`/api/users/@me`), and Microsoft's
multi-tenant issuer (`microsoft_tenant`: the discovery document's issuer is
`.../{tenantid}/v2.0` and each token names its tenant). It records how the client
authenticated at the token endpoint (`client_auth`).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .conftest import serve

CLIENT_ID = "standin-client"
CLIENT_SECRET = "standin-secret"


@dataclass
class StandinProvider:
    issuer: str = ""
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    #: Claims the next id_token gets on top of the right ones (or "-name" to drop one).
    next_id_token: dict[str, Any] = field(default_factory=dict)
    #: Sign the next id_token with a key the JWKS does not hold.
    sign_with_stranger: bool = False
    #: The address and subject the sign-in is for.
    subject: str = "standin-user"
    email: str = "standin@example.org"
    #: Every nonce the provider was asked to put in a token (the last one last).
    nonces: list[str] = field(default_factory=list)
    #: code -> (nonce, code_challenge, redirect_uri)
    codes: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    #: Code verifiers that failed the PKCE check.
    pkce_failures: int = 0
    #: Answer the next token request with this HTML page and a 500 (a provider in trouble).
    token_breaks: bool = False
    #: How each token request authenticated the client: "basic" or "post".
    client_auth: list[str] = field(default_factory=list)
    #: Access tokens issued: the API answers only to them.
    access_tokens: set[str] = field(default_factory=set)
    #: GitHub's API: the user and their addresses.
    github_user: dict[str, Any] = field(default_factory=dict)
    github_emails: list[dict[str, Any]] = field(default_factory=list)
    #: Discord's API: the user.
    discord_me: dict[str, Any] = field(default_factory=dict)
    #: Microsoft: the tenant the tokens name (None: a plain OpenID provider); with
    #: `single_tenant` the discovery document names that tenant's issuer plainly.
    microsoft_tenant: str | None = None
    single_tenant: bool = False
    #: Sign the next id_token with alg "none" (and list "none" in the discovery document).
    unsigned: bool = False
    #: Apple: the team's public key checks each client secret (a JWT); `apple_user` is
    #: posted beside the code (the name, on the first consent).
    apple_key: Any = None
    apple_team: str = ""
    apple_user: str | None = None
    #: The client secrets Apple's way received (their claims), or why one was refused.
    apple_secrets: list[dict[str, Any] | str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/userinfo", self.userinfo),
                Route("/api/user", self.github_user_endpoint),
                Route("/api/user/emails", self.github_emails_endpoint),
                Route("/api/users/@me", self.discord_me_endpoint),
            ]
        )

    async def discovery(self, request: Request) -> Response:
        issuer = self.issuer
        if self.microsoft_tenant:
            tenant = self.microsoft_tenant if self.single_tenant else "{tenantid}"
            issuer = f"{self.issuer}/{tenant}/v2.0"
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["none", "RS256"]
                if self.unsigned
                else ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return JSONResponse({"keys": [{**jwk, "kid": "standin", "use": "sig", "alg": "RS256"}]})

    async def authorize(self, request: Request) -> Response:
        """Signs in at once (no login page) and sends the browser back with a code."""
        q = request.query_params
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = (q.get("nonce", ""), q["code_challenge"], q["redirect_uri"])
        self.nonces.append(q.get("nonce", ""))
        back = {"code": code, "state": q.get("state", "")}
        if q.get("response_mode") == "form_post":
            # Apple's way: a page whose form posts the answer to the site (cross-site).
            if self.apple_user is not None:
                back["user"] = self.apple_user
            inputs = "".join(
                f'<input type="hidden" name="{k}" value="{html.escape(v)}">'
                for k, v in back.items()
            )
            return HTMLResponse(
                f'<form method="post" action="{html.escape(q["redirect_uri"])}">{inputs}'
                "<button>Continue</button></form>"
            )
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode(back)}", status_code=302)

    async def token(self, request: Request) -> Response:
        if self.token_breaks:
            self.token_breaks = False
            return Response("<html><body>Oops</body></html>", status_code=500)
        form = await request.form()
        basic = request.headers.get("authorization", "").startswith("Basic ")
        self.client_auth.append("basic" if basic else "post")
        if self.apple_key is not None:
            if not self._apple_secret_ok(str(form.get("client_secret", ""))):
                return JSONResponse({"error": "invalid_client"}, status_code=400)
        elif not basic and (
            form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        code = str(form.get("code", ""))
        if code not in self.codes:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        nonce, challenge, redirect_uri = self.codes.pop(code)
        verifier = str(form.get("code_verifier", ""))
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != challenge:
            self.pkce_failures += 1
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if form.get("redirect_uri") != redirect_uri:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "email": self.email,
            "email_verified": True,
        }
        if self.microsoft_tenant:
            claims["tid"] = self.microsoft_tenant
            claims["iss"] = f"{self.issuer}/{self.microsoft_tenant}/v2.0"
        for name, value in self.next_id_token.items():
            if name.startswith("-"):
                claims.pop(name[1:], None)
            else:
                claims[name] = value
        self.next_id_token = {}
        key: Any = self.key
        if self.sign_with_stranger:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.sign_with_stranger = False
        if self.unsigned:
            self.unsigned = False
            id_token = jwt.encode(claims, None, algorithm="none")
        else:
            id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "standin"})
        access_token = secrets.token_urlsafe(16)
        self.access_tokens.add(access_token)
        return JSONResponse(
            {"access_token": access_token, "token_type": "Bearer", "id_token": id_token}
        )

    async def userinfo(self, request: Request) -> Response:
        return JSONResponse({"sub": self.subject, "email": self.email, "email_verified": True})

    def _apple_secret_ok(self, secret: str) -> bool:
        try:
            header = jwt.get_unverified_header(secret)
            claims = jwt.decode(
                secret,
                self.apple_key,
                algorithms=["ES256"],
                audience=self.issuer,
                issuer=self.apple_team,
                options={"require": ["iss", "iat", "exp", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            self.apple_secrets.append(f"refused: {exc}")
            return False
        if header.get("kid") != "APPLEKEY01" or claims.get("sub") != CLIENT_ID:
            self.apple_secrets.append("refused: kid or sub")
            return False
        self.apple_secrets.append(claims)
        return True

    def _bearer_ok(self, request: Request) -> bool:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return token in self.access_tokens

    async def github_user_endpoint(self, request: Request) -> Response:
        if not self._bearer_ok(request):
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse(self.github_user)

    async def github_emails_endpoint(self, request: Request) -> Response:
        if not self._bearer_ok(request):
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse(self.github_emails)

    async def discord_me_endpoint(self, request: Request) -> Response:
        if not self._bearer_ok(request):
            return JSONResponse({"message": "401: Unauthorized"}, status_code=401)
        return JSONResponse(self.discord_me)


def start_standin() -> Iterator[StandinProvider]:
    provider = StandinProvider()
    url, stop = serve(provider.app())
    provider.issuer = url
    try:
        yield provider
    finally:
        stop()
