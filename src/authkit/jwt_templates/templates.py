"""
JWT templates: named sets of claims for third parties, from `AuthKit(jwt_templates=...)`
or `AUTHKIT_JWT_TEMPLATES` (a TOML or JSON file), each checked when authkit starts.

    [supabase]
    preset = "supabase"
    signing_key = "env:SUPABASE_JWT_SECRET"
    [chat]
    lifetime = 300
    claims = { plan = "{{user.public_metadata.plan || 'free'}}", aud = "chat.example.com" }

A template may set `claims`, `lifetime` (seconds, default 60), `allowed_clock_skew`
(`nbf` is that much before `iat`, default 5), `preset` (whose claims it starts from),
`signing_key` (`env:NAME` or a file; else our EdDSA key and JWKS) and `algorithm`. The
claims every token gets (`iss sub iat nbf exp jti`) cannot be set, nor `sid`: a template
token must never pass for a session token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config_files import read_table
from ..errors import ConfigError
from .keys import HMAC_ALGORITHMS, TemplateKey, load_template_key
from .shortcodes import Compiled, compile_claims

__all__ = [
    "AUTOMATIC_CLAIMS",
    "PRESETS",
    "RESERVED_CLAIMS",
    "JwtTemplate",
    "Preset",
    "load_templates",
]

#: Every token gets these, from the template's settings and the moment it is minted.
AUTOMATIC_CLAIMS = ("iss", "sub", "iat", "nbf", "exp", "jti")
#: ... and a template may set none of them, nor the session's own `sid`.
RESERVED_CLAIMS = frozenset({*AUTOMATIC_CLAIMS, "sid"})
_SETTINGS = frozenset(
    {"claims", "lifetime", "allowed_clock_skew", "preset", "signing_key", "algorithm"}
)
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MAX_LIFETIME = 24 * 3600
MAX_SKEW = 300
FIREBASE_AUDIENCE = (
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit"
)


@dataclass(frozen=True, slots=True)
class Preset:
    """A third party's shape: its claims, and what key it verifies with."""

    claims: Mapping[str, Any]
    #: The algorithms it verifies; None: our EdDSA key (through the JWKS) will do.
    algorithms: tuple[str, ...] | None = None
    #: The longest token it accepts.
    max_lifetime: int = MAX_LIFETIME


_HASURA_CLAIMS = {
    "https://hasura.io/jwt/claims": {
        "x-hasura-user-id": "{{user.id}}",
        "x-hasura-default-role": "user",
        "x-hasura-allowed-roles": ["user"],
    }
}

PRESETS: Mapping[str, Preset] = {
    # Hasura: HASURA_GRAPHQL_JWT_SECRET={"jwk_url": ".../auth/.well-known/jwks.json"}.
    "hasura": Preset(_HASURA_CLAIMS),
    # Supabase: signed with the project's JWT secret; RLS reads auth.jwt().
    "supabase": Preset(
        {
            "aud": "authenticated",
            "role": "authenticated",
            "email": "{{user.primary_email_address}}",
            "user_metadata": "{{user.public_metadata}}",
        },
        algorithms=HMAC_ALGORITHMS,
    ),
    # Convex: a custom JWT provider (its algorithms are RS256 and ES256) with our JWKS.
    "convex": Preset(
        {"aud": "convex", "name": "{{user.full_name}}", "email": "{{user.primary_email_address}}"},
        algorithms=("RS256", "ES256"),
    ),
    # Firebase: a custom token, signed by the service account, for signInWithCustomToken.
    "firebase": Preset({"uid": "{{user.id}}"}, algorithms=("RS256",), max_lifetime=3600),
    # Nhost: Hasura's claims, with the `me` role its permissions use.
    "nhost": Preset(
        {
            "https://hasura.io/jwt/claims": {
                "x-hasura-user-id": "{{user.id}}",
                "x-hasura-default-role": "user",
                "x-hasura-allowed-roles": ["user", "me"],
            }
        }
    ),
    # Grafbase: a JWT provider (issuer and JWKS); `groups` drive its @auth rules.
    "grafbase": Preset({"groups": ["user"], "email": "{{user.primary_email_address}}"}),
}


@dataclass(frozen=True, slots=True)
class JwtTemplate:
    name: str
    compiled: Compiled
    lifetime: int = 60
    allowed_clock_skew: int = 5
    preset: str | None = None
    #: None: our EdDSA signing key (with `kid`, verified through our JWKS).
    key: TemplateKey | None = None
    #: Claims the preset fixes after everything else (Firebase's iss, sub and aud).
    fixed: Mapping[str, Any] = field(default_factory=dict)


def load_templates(
    source: Mapping[str, Any] | str | None, *, environ: Mapping[str, str] | None = None
) -> dict[str, JwtTemplate]:
    """
    The templates of `source` (a mapping of name → settings, or a .toml/.json path),
    compiled and checked.

    Raises:
        ConfigError: one sentence naming the template and what is wrong with it.
    """
    if source is None:
        return {}
    raw = read_table(source, setting="AUTHKIT_JWT_TEMPLATES") if isinstance(source, str) else source
    if not isinstance(raw, Mapping):
        raise ConfigError("AUTHKIT_JWT_TEMPLATES must hold a table of named templates.")
    return {
        str(name): _template(str(name), settings, environ=environ) for name, settings in raw.items()
    }


def _template(name: str, settings: Any, *, environ: Mapping[str, str] | None) -> JwtTemplate:
    where = repr(name)
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"JWT template {where}: a name is lowercase letters, digits, - and _ (at most 64)."
        )
    if not isinstance(settings, Mapping):
        raise ConfigError(f"JWT template {where} must be a table of settings.")
    unknown = sorted(set(settings) - _SETTINGS)
    if unknown:
        raise ConfigError(
            f"JWT template {where}: unknown setting {unknown[0]!r} "
            f"(the settings are {', '.join(sorted(_SETTINGS))})."
        )
    preset = _preset(settings.get("preset"), where=where)
    claims = settings.get("claims", {})
    if not isinstance(claims, Mapping):
        raise ConfigError(f"JWT template {where}: claims must be a table.")
    reserved = sorted(set(claims) & RESERVED_CLAIMS)
    if reserved:
        raise ConfigError(
            f"JWT template {where}: the claim {reserved[0]!r} is set by authkit and cannot "
            "be overridden."
        )
    lifetime = _whole(settings.get("lifetime", 60), "lifetime", 1, MAX_LIFETIME, where=where)
    skew = _whole(
        settings.get("allowed_clock_skew", 5), "allowed_clock_skew", 0, MAX_SKEW, where=where
    )
    key = _key(settings, preset, where=where, environ=environ)
    merged = {**(PRESETS[preset].claims if preset else {}), **claims}
    fixed: dict[str, Any] = {}
    if preset is not None:
        if lifetime > PRESETS[preset].max_lifetime:
            raise ConfigError(
                f"JWT template {where}: {preset} accepts tokens of at most "
                f"{PRESETS[preset].max_lifetime} seconds."
            )
        if preset == "firebase":
            assert key is not None and key.client_email is not None  # checked by _key
            fixed = {"iss": key.client_email, "sub": key.client_email, "aud": FIREBASE_AUDIENCE}
    return JwtTemplate(
        name=name,
        compiled=compile_claims(merged, where=where),
        lifetime=lifetime,
        allowed_clock_skew=skew,
        preset=preset,
        key=key,
        fixed=fixed,
    )


def _preset(value: Any, *, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in PRESETS:
        raise ConfigError(
            f"JWT template {where}: unknown preset {value!r} "
            f"(the presets are {', '.join(sorted(PRESETS))})."
        )
    return str(value)


def _key(
    settings: Mapping[str, Any],
    preset: str | None,
    *,
    where: str,
    environ: Mapping[str, str] | None,
) -> TemplateKey | None:
    spec = settings.get("signing_key")
    algorithm = settings.get("algorithm")
    if algorithm is not None and not isinstance(algorithm, str):
        raise ConfigError(f"JWT template {where}: algorithm must be text.")
    wanted = PRESETS[preset].algorithms if preset else None
    if spec is None:
        if algorithm is not None and algorithm != "EdDSA":
            raise ConfigError(
                f"JWT template {where}: algorithm {algorithm} needs a signing_key "
                "(without one, tokens are signed EdDSA with the site's key)."
            )
        if wanted is not None:
            raise ConfigError(
                f"JWT template {where}: the {preset} preset needs a signing_key "
                f"({' or '.join(wanted)})."
            )
        return None
    if not isinstance(spec, str):
        raise ConfigError(f"JWT template {where}: signing_key must be text (env:NAME or a path).")
    key = load_template_key(spec, algorithm=algorithm, where=where, environ=environ)
    if wanted is not None and key.algorithm not in wanted:
        raise ConfigError(
            f"JWT template {where}: {preset} verifies {' or '.join(wanted)}, and this key "
            f"signs {key.algorithm}."
        )
    if preset == "firebase" and key.client_email is None:
        raise ConfigError(
            f"JWT template {where}: the firebase preset signs with a service account's JSON "
            "key file (private_key and client_email)."
        )
    return key


def _whole(value: Any, name: str, low: int, high: int, *, where: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ConfigError(
            f"JWT template {where}: {name} must be a whole number from {low} to {high}."
        )
    return value
