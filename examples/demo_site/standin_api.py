"""
A stand-in for a third party that trusts Jotter's users: a tiny "greeting service" that
accepts a JWT template's token (`stats`) in `Authorization: Bearer ...` and verifies it
the way any API would, through authkit's JWKS over HTTP (issuer, audience, expiry,
EdDSA), never through authkit's own code. In a real deployment it runs elsewhere; it is
mounted at /standin-api here so the demo needs nothing else.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["AUDIENCE", "DEMO_JWT_TEMPLATES", "StandInApi"]

AUDIENCE = "jotter-greetings"
#: The template the demo's page asks authkit for.
DEMO_JWT_TEMPLATES: dict[str, Any] = {
    "greetings": {
        "lifetime": 60,
        "claims": {
            "aud": AUDIENCE,
            "name": "{{user.first_name || user.primary_email_address}}",
            "plan": "{{user.public_metadata.plan || 'free'}}",
        },
    }
}


class StandInApi:
    def __init__(self, base_url: str) -> None:
        self.issuer = base_url.rstrip("/") + "/auth"
        self.jwks_url = self.issuer + "/.well-known/jwks.json"
        self._keys: jwt.PyJWKSet | None = None

    async def _jwks(self, refresh: bool = False) -> jwt.PyJWKSet:
        if self._keys is None or refresh:
            async with httpx.AsyncClient(timeout=5) as client:
                self._keys = jwt.PyJWKSet.from_dict((await client.get(self.jwks_url)).json())
        return self._keys

    async def greet(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip()
        if not token or token == header:
            return JSONResponse({"error": "missing bearer token"}, status_code=401)
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            keys = await self._jwks()
            if kid not in {k.key_id for k in keys.keys}:
                keys = await self._jwks(refresh=True)  # keys rotate: fetch them again
            key = next(k for k in keys.keys if k.key_id == kid)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["EdDSA"],
                issuer=self.issuer,
                audience=AUDIENCE,
                options={"require": ["iss", "sub", "exp", "aud"]},
            )
        except (jwt.InvalidTokenError, StopIteration, httpx.HTTPError) as exc:
            return JSONResponse({"error": f"token refused: {type(exc).__name__}"}, status_code=401)
        return JSONResponse(
            {
                "greeting": f"Hello, {claims['name']}! Your plan: {claims['plan']}.",
                "user_id": claims["sub"],
                "expires_in": int(claims["exp"] - time.time()),
            }
        )
