"""
What an OAuth provider is to authkit, and how it is configured:
`AUTHKIT_OAUTH_PROVIDERS=acme,...` and, for each name, `AUTHKIT_OAUTH_<NAME>_CLIENT_ID`,
`..._CLIENT_SECRET`, and optionally `..._SCOPES`, `..._LABEL`, `..._STORE_TOKENS`,
`..._TIMEOUT`; Apple instead of a secret `..._TEAM_ID`, `..._KEY_ID` and
`..._PRIVATE_KEY` (or `..._PRIVATE_KEY_FILE`). A provider named after a preset
(presets.py: google, github, ...) needs nothing more; any other is generic OpenID
Connect and needs `..._ISSUER` (or `..._DISCOVERY_URL`); `..._PRESET` makes a provider
of another name a preset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.datastructures import Secret

from ..errors import ConfigError
from ..hosts import is_loopback_host
from .presets import PRESETS, Preset

__all__ = ["OAuthProvider", "providers_from_env"]

_NAME = re.compile(r"[a-z][a-z0-9]{0,31}")
#: Seconds any one call to a provider may take (discovery, keys, token, userinfo).
DEFAULT_TIMEOUT = 10.0
DEFAULT_SCOPES = ("openid", "email", "profile")
#: The rules of a provider that is no preset: plain OpenID Connect.
GENERIC = Preset(label="")


@dataclass(frozen=True, kw_only=True)
class OAuthProvider:
    """One configured provider."""

    #: Lower-case letters and digits: in URLs (`/oauth/<name>/start`) and the factor
    #: name `oauth_<name>`.
    name: str
    client_id: str
    client_secret: Secret
    #: One of `presets.PRESETS` (google, github, ...): its endpoints, scopes and rules.
    #: A provider named after a preset is that preset unless it says otherwise.
    preset: str | None = None
    #: The OpenID issuer; the discovery document is `<issuer>/.well-known/openid-configuration`.
    issuer: str | None = None
    #: A discovery document elsewhere than under the issuer.
    discovery_url: str | None = None
    #: A plain OAuth 2 preset's endpoints (GitHub, Discord), to point at one's own server.
    authorize_url: str | None = None
    token_url: str | None = None
    api_url: str | None = None
    #: The button's text after "Continue with" (default: the preset's, or the name).
    label: str = ""
    #: Default: the preset's, or `openid email profile`.
    scopes: tuple[str, ...] = ()
    #: Keep the provider's tokens (encrypted) for the host to call its API.
    store_tokens: bool = False
    timeout: float = DEFAULT_TIMEOUT
    #: Apple: the team id, the key's id, and its private key (the .p8 file's PEM text),
    #: from which each token request's client secret is signed.
    team_id: str = ""
    key_id: str = ""
    private_key: Secret | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.client_secret, Secret):
            object.__setattr__(self, "client_secret", Secret(str(self.client_secret)))
        preset_name = self.preset
        if preset_name is None and self.name in PRESETS:
            preset_name = self.name
        object.__setattr__(self, "preset", preset_name)
        preset = PRESETS.get(preset_name) if preset_name else None
        if preset is not None:
            for key in ("authorize_url", "token_url", "api_url"):
                if getattr(self, key) is None:
                    object.__setattr__(self, key, getattr(preset, key))
            if self.issuer is None and self.discovery_url is None:
                object.__setattr__(self, "issuer", preset.issuer)
                object.__setattr__(self, "discovery_url", preset.discovery_url)
        default_label = preset.label if preset is not None else self.name.capitalize()
        object.__setattr__(self, "label", self.label or default_label)
        default_scopes = preset.scopes if preset is not None else DEFAULT_SCOPES
        object.__setattr__(self, "scopes", tuple(self.scopes) or default_scopes)
        for problem in self.problems():
            raise ConfigError(problem)

    @property
    def rules(self) -> Preset:
        """The preset's protocol and rules; a provider of no preset is plain OIDC."""
        return PRESETS.get(self.preset or "", GENERIC)

    @property
    def factor(self) -> str:
        """The sign-in factor it is: `oauth_<name>` (the session's amr, the audit trail)."""
        return f"oauth_{self.name}"

    @property
    def metadata_url(self) -> str:
        if self.discovery_url:
            return self.discovery_url
        return (self.issuer or "").rstrip("/") + "/.well-known/openid-configuration"

    @property
    def origins(self) -> tuple[str, ...]:
        """Where the browser is sent to sign in, as far as the settings tell (the
        authorization endpoint found by discovery adds its own)."""
        if self.rules.protocol != "oidc":
            return (_origin(self.authorize_url),) if self.authorize_url else ()
        return tuple(sorted({_origin(url) for url in (self.issuer, self.discovery_url) if url}))

    def problems(self) -> list[str]:
        prefix = f"AUTHKIT_OAUTH_{self.name.upper()}"
        problems: list[str] = []
        if not _NAME.fullmatch(self.name):
            problems.append(
                "AUTHKIT_OAUTH_PROVIDERS must name each provider with lower-case letters and "
                f"digits (a letter first, at most 32), not {self.name!r}."
            )
            return problems
        if not self.client_id.strip():
            problems.append(f"{prefix}_CLIENT_ID is not set.")
        if self.rules.apple:
            problems.extend(_apple_problems(self, prefix))
        elif not str(self.client_secret).strip():
            problems.append(f"{prefix}_CLIENT_SECRET is not set.")
        if self.preset is not None and self.preset not in PRESETS:
            problems.append(
                f"{prefix}_PRESET must be one of {', '.join(PRESETS)}, not {self.preset!r}."
            )
            return problems
        oidc = self.rules.protocol == "oidc"
        if oidc and not self.issuer and not self.discovery_url:
            problems.append(
                f"{prefix}_ISSUER is not set: {self.name} is not a preset "
                f"({', '.join(PRESETS)}), so it needs its OpenID issuer "
                f"(or {prefix}_DISCOVERY_URL)."
            )
        urls = {
            "ISSUER": self.issuer,
            "DISCOVERY_URL": self.discovery_url,
            "AUTHORIZE_URL": self.authorize_url,
            "TOKEN_URL": self.token_url,
            "API_URL": self.api_url,
        }
        for key, url in urls.items():
            if url and not _is_safe_url(url):
                problems.append(
                    f"{prefix}_{key} must be an https URL (http only on this machine), not {url!r}."
                )
        if oidc and "openid" not in self.scopes:
            problems.append(f"{prefix}_SCOPES must include openid.")
        if not 0 < self.timeout <= 60:
            problems.append(f"{prefix}_TIMEOUT must be between 0 and 60 seconds.")
        return problems


def providers_from_env(environ: Mapping[str, str], names: str) -> tuple[OAuthProvider, ...]:
    """
    The providers `AUTHKIT_OAUTH_PROVIDERS` (`names`) lists, each from its own variables.

    Raises:
        ConfigError: a name is listed twice, or a provider's settings are missing or wrong.
    """
    listed = [n.strip() for n in names.split(",") if n.strip()]
    if len({n.lower() for n in listed}) < len(listed):
        raise ConfigError("AUTHKIT_OAUTH_PROVIDERS lists a provider twice.")
    return tuple(_from_env(environ, name.lower()) for name in listed)


def check_unique(providers: Sequence[OAuthProvider]) -> list[str]:
    names = [p.name for p in providers]
    if len(set(names)) < len(names):
        return ["oauth_providers names a provider twice."]
    return []


def _from_env(environ: Mapping[str, str], name: str) -> OAuthProvider:
    prefix = f"AUTHKIT_OAUTH_{name.upper()}_"

    def get(key: str) -> str:
        return environ.get(prefix + key, "").strip()

    scopes = tuple(get("SCOPES").replace(",", " ").split())
    timeout_text = get("TIMEOUT")
    try:
        timeout = float(timeout_text) if timeout_text else DEFAULT_TIMEOUT
    except ValueError:
        raise ConfigError(f"{prefix}TIMEOUT must be a number, not {timeout_text!r}.") from None
    key_text = get("PRIVATE_KEY").replace("\\n", "\n")
    key_file = get("PRIVATE_KEY_FILE")
    if key_file and not key_text:
        try:
            key_text = Path(key_file).read_text()
        except OSError as exc:
            raise ConfigError(f"{prefix}PRIVATE_KEY_FILE cannot be read: {exc.strerror}.") from None
    return OAuthProvider(
        name=name,
        team_id=get("TEAM_ID"),
        key_id=get("KEY_ID"),
        private_key=Secret(key_text) if key_text else None,
        client_id=get("CLIENT_ID"),
        client_secret=Secret(get("CLIENT_SECRET")),
        preset=get("PRESET").lower() or None,
        issuer=get("ISSUER") or None,
        discovery_url=get("DISCOVERY_URL") or None,
        authorize_url=get("AUTHORIZE_URL") or None,
        token_url=get("TOKEN_URL") or None,
        api_url=get("API_URL") or None,
        label=get("LABEL"),
        scopes=scopes,
        store_tokens=get("STORE_TOKENS").lower() in ("1", "true", "yes", "on"),
        timeout=timeout,
    )


def _apple_problems(provider: OAuthProvider, prefix: str) -> list[str]:
    """Apple signs in with a client secret made from the team's key, not a fixed one."""
    problems = [
        f"{prefix}_{key} is not set (Apple's client secret is signed with it)."
        for key, value in (("TEAM_ID", provider.team_id), ("KEY_ID", provider.key_id))
        if not value.strip()
    ]
    if provider.private_key is None or not str(provider.private_key).strip():
        problems.append(
            f"{prefix}_PRIVATE_KEY is not set: the .p8 key's text (or {prefix}_PRIVATE_KEY_FILE)."
        )
        return problems
    try:
        key = serialization.load_pem_private_key(str(provider.private_key).encode(), None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        problems.append(f"{prefix}_PRIVATE_KEY must be the P-256 key of a .p8 file from Apple.")
    return problems


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_safe_url(url: str) -> bool:
    """https, or http to this machine (a provider under test): tokens never cross a
    network in clear."""
    parts = urlsplit(url)
    if not parts.netloc or parts.query or parts.fragment:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    return is_loopback_host(parts.hostname or "")
