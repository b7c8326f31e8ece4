"""
The providers authkit knows by name, so that a site needs only their client id and
secret: `AUTHKIT_OAUTH_PROVIDERS=google,github` and `AUTHKIT_OAUTH_GOOGLE_CLIENT_ID=...`.
Most speak OpenID Connect and are found through their discovery document; GitHub and
Discord speak plain OAuth 2, and their profile comes from their API. Every endpoint may
be overridden (a GitLab or GitHub of one's own, a stand-in under test).

(ruff's S105/S106 read `token_url` and `token_auth` as passwords: they are endpoints and
method names, hence the file-wide exemption below.)
"""

# ruff: noqa: S105, S106

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["MICROSOFT_CONSUMERS_TENANT", "PRESETS", "Preset", "Protocol"]

#: How the provider says who signed in: an id_token (OpenID Connect), or its API.
Protocol = Literal["oidc", "github", "discord"]

#: Microsoft's tenant of personal accounts, whose addresses Microsoft itself verified.
MICROSOFT_CONSUMERS_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"


@dataclass(frozen=True, kw_only=True)
class Preset:
    label: str
    protocol: Protocol = "oidc"
    issuer: str | None = None
    discovery_url: str | None = None
    #: Plain OAuth 2: where to send the browser, where to trade the code, and the API.
    authorize_url: str | None = None
    token_url: str | None = None
    api_url: str | None = None
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    #: How the token endpoint takes the client's secret.
    token_auth: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    #: Microsoft's multi-tenant endpoint: its discovery document names the issuer as
    #: `.../{tenantid}/v2.0`, which each id_token fills with its own `tid`; and its
    #: `email` is a verified address only for personal accounts (or with `xms_edov`).
    microsoft: bool = False
    #: Apple: the answer comes back as a cross-site POST (`response_mode=form_post`),
    #: the client's secret is a JWT signed with the team's key, and the name comes only
    #: once, beside the code, on the first consent.
    apple: bool = False


PRESETS: Mapping[str, Preset] = {
    "google": Preset(label="Google", issuer="https://accounts.google.com"),
    "github": Preset(
        label="GitHub",
        protocol="github",
        authorize_url="https://github.com/login/oauth/authorize",
        token_url="https://github.com/login/oauth/access_token",
        api_url="https://api.github.com/",
        # The verified primary address comes from /user/emails, which needs user:email.
        scopes=("read:user", "user:email"),
    ),
    "microsoft": Preset(
        label="Microsoft",
        discovery_url=(
            "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
        ),
        microsoft=True,
    ),
    "apple": Preset(
        label="Apple",
        issuer="https://appleid.apple.com",
        scopes=("openid", "email", "name"),
        token_auth="client_secret_post",
        apple=True,
    ),
    "gitlab": Preset(label="GitLab", issuer="https://gitlab.com"),
    "discord": Preset(
        label="Discord",
        protocol="discord",
        authorize_url="https://discord.com/oauth2/authorize",
        token_url="https://discord.com/api/oauth2/token",
        api_url="https://discord.com/api/",
        scopes=("identify", "email"),
    ),
    "linkedin": Preset(
        label="LinkedIn",
        issuer="https://www.linkedin.com/oauth",
        token_auth="client_secret_post",
    ),
    "slack": Preset(label="Slack", issuer="https://slack.com", token_auth="client_secret_post"),
}
