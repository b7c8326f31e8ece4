"""Public documents: the JWKS, a minimal OpenID configuration, and the theme stylesheet."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..context import context_of
from ..security.tokens import JWKS_MAX_AGE_SECONDS
from ..sessions import reload_keys_if_stale

__all__ = ["jwks_endpoint", "openid_configuration_endpoint", "theme_css_endpoint"]

#: Third parties may cache these briefly: a rotated key is published KEY_PUBLISH_AHEAD
#: (longer than this plus a worker's key reload) before it signs.
CACHE_CONTROL = f"public, max-age={JWKS_MAX_AGE_SECONDS}"


async def jwks_endpoint(request: Request) -> Response:
    svc = context_of(request).services
    # Every worker publishes what the database holds, give or take one reload interval.
    await reload_keys_if_stale(svc)
    keys = svc.keyring.jwks()["keys"]
    # A template's own key pair verifies through the same JWKS (Convex, Firebase).
    own = [t.key.public_jwk for t in svc.jwt_templates.values() if t.key and t.key.public_jwk]
    unique = list({jwk["kid"]: jwk for jwk in [*keys, *own]}.values())
    return JSONResponse({"keys": unique}, headers={"Cache-Control": CACHE_CONTROL})


async def openid_configuration_endpoint(request: Request) -> Response:
    issuer = context_of(request).services.keyring.issuer
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
    theme = context_of(request).theme
    # Versioned URL (?v=<hash of the content>): safe to cache for long.
    cache = "public, max-age=31536000, immutable" if request.query_params.get("v") else "no-cache"
    return Response(
        theme.css,
        media_type="text/css",
        headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"},
    )
