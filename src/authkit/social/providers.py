"""
What an OAuth provider is to authkit, and how it is configured:
`AUTHKIT_OAUTH_PROVIDERS=acme,...` and, for each name, `AUTHKIT_OAUTH_<NAME>_CLIENT_ID`,
`..._CLIENT_SECRET`, `..._ISSUER` (or `..._DISCOVERY_URL`), and optionally `..._SCOPES`,
`..._LABEL`, `..._STORE_TOKENS`. A provider with an issuer is generic OpenID Connect,
found through its discovery document.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Secret

from ..errors import ConfigError

__all__ = ["OAuthProvider", "providers_from_env"]

_NAME = re.compile(r"[a-z][a-z0-9]{0,31}")
#: Seconds any one call to a provider may take (discovery, keys, token, userinfo).
DEFAULT_TIMEOUT = 10.0
DEFAULT_SCOPES = ("openid", "email", "profile")


@dataclass(frozen=True, kw_only=True)
class OAuthProvider:
    """One configured provider."""

    #: Lower-case letters and digits: in URLs (`/oauth/<name>/start`) and the factor
    #: name `oauth_<name>`.
    name: str
    client_id: str
    client_secret: Secret
    #: The OpenID issuer; the discovery document is `<issuer>/.well-known/openid-configuration`.
    issuer: str | None = None
    #: A discovery document elsewhere than under the issuer.
    discovery_url: str | None = None
    #: The button's text after "Continue with" (default: the name, capitalised).
    label: str = ""
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    #: Keep the provider's tokens (encrypted) for the host to call its API.
    store_tokens: bool = False
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if not isinstance(self.client_secret, Secret):
            object.__setattr__(self, "client_secret", Secret(str(self.client_secret)))
        if not self.label:
            object.__setattr__(self, "label", self.name.capitalize())
        object.__setattr__(self, "scopes", tuple(self.scopes))
        for problem in self.problems():
            raise ConfigError(problem)

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
        if not str(self.client_secret).strip():
            problems.append(f"{prefix}_CLIENT_SECRET is not set.")
        if not self.issuer and not self.discovery_url:
            problems.append(
                f"{prefix}_ISSUER is not set: a provider needs its OpenID issuer "
                f"(or {prefix}_DISCOVERY_URL)."
            )
        for key, url in (("ISSUER", self.issuer), ("DISCOVERY_URL", self.discovery_url)):
            if url and not _is_safe_url(url):
                problems.append(
                    f"{prefix}_{key} must be an https URL (http only on this machine), not {url!r}."
                )
        if "openid" not in self.scopes:
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

    scopes = tuple(get("SCOPES").replace(",", " ").split()) or DEFAULT_SCOPES
    timeout_text = get("TIMEOUT")
    try:
        timeout = float(timeout_text) if timeout_text else DEFAULT_TIMEOUT
    except ValueError:
        raise ConfigError(f"{prefix}TIMEOUT must be a number, not {timeout_text!r}.") from None
    return OAuthProvider(
        name=name,
        client_id=get("CLIENT_ID"),
        client_secret=Secret(get("CLIENT_SECRET")),
        issuer=get("ISSUER") or None,
        discovery_url=get("DISCOVERY_URL") or None,
        label=get("LABEL"),
        scopes=scopes,
        store_tokens=get("STORE_TOKENS").lower() in ("1", "true", "yes", "on"),
        timeout=timeout,
    )


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
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
