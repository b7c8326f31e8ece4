"""Public documents: the JWKS, a minimal OpenID configuration, and the theme stylesheet."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .helpers import kit_of

__all__ = ["jwks_endpoint", "openid_configuration_endpoint", "theme_css_endpoint"]

#: Third parties may cache these briefly; a rotated key is published a day ahead of need.
CACHE_CONTROL = "public, max-age=300"


async def jwks_endpoint(request: Request) -> Response:
    keyring = kit_of(request).services.keyring
    return JSONResponse(keyring.jwks(), headers={"Cache-Control": CACHE_CONTROL})


async def openid_configuration_endpoint(request: Request) -> Response:
    issuer = kit_of(request).issuer
    document = {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "token_endpoint_auth_signing_alg_values_supported": ["EdDSA"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["id_token"],
        "claims_supported": ["iss", "sub", "sid", "iat", "nbf", "exp"],
    }
    return JSONResponse(document, headers={"Cache-Control": CACHE_CONTROL})


async def theme_css_endpoint(request: Request) -> Response:
    theme = kit_of(request).theme
    # Versioned URL (?v=<hash of the content>): safe to cache for long.
    cache = "public, max-age=31536000, immutable" if request.query_params.get("v") else "no-cache"
    return Response(
        theme.css,
        media_type="text/css",
        headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"},
    )
