"""
The round trip to a provider, through Authlib: the authorization URL (state, nonce and
a PKCE S256 verifier, all made by Authlib), then the code exchanged for tokens and the
id_token verified against the provider's JWKS (signature, issuer, audience, expiry,
nonce). Every call has the provider's timeout; every failure is a `ProviderError`
with a short reason for the audit trail, never an exception a user would see.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth
from joserfc.errors import JoseError

from . import apple
from .presets import MICROSOFT_CONSUMERS_TENANT
from .profiles import discord_claims, github_claims
from .providers import OAuthProvider

__all__ = [
    "Authorization",
    "ProviderClients",
    "ProviderError",
    "ProviderIdentity",
    "microsoft_email_verified",
]

_PLAIN_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
#: Discovery documents and keys are fetched again after this long (keys rotate).
METADATA_MAX_AGE = 3600.0


class ProviderError(Exception):
    """The provider could not be used for this sign-in; `reason` is for the audit log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Authorization:
    """Where to send the browser, and what the callback must find again."""

    url: str
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ProviderIdentity:
    """Who the provider says signed in."""

    #: The provider's stable id for the account (`sub`).
    subject: str
    email: str | None
    #: Only what the provider asserts: an address it did not verify never links accounts.
    email_verified: bool
    first_name: str
    last_name: str
    #: The provider's tokens, for a provider configured to keep them (never in a repr).
    tokens: Mapping[str, Any] = field(repr=False)


class ProviderClients:
    """One Authlib client per configured provider, made once and kept (it caches the
    discovery document and the provider's keys)."""

    def __init__(self, providers: tuple[OAuthProvider, ...]) -> None:
        self._registry = OAuth()
        self._providers = {p.name: p for p in providers}
        for provider in providers:
            client_kwargs = {
                "scope": " ".join(provider.scopes),
                "code_challenge_method": "S256",
                "timeout": provider.timeout,
                "token_endpoint_auth_method": provider.rules.token_auth,
            }
            if provider.rules.protocol == "oidc":
                endpoints: dict[str, str | None] = {"server_metadata_url": provider.metadata_url}
            else:
                endpoints = {
                    "authorize_url": provider.authorize_url,
                    "access_token_url": provider.token_url,
                    "api_base_url": provider.api_url,
                }
            self._registry.register(
                provider.name,
                client_id=provider.client_id,
                client_secret=str(provider.client_secret),
                client_kwargs=client_kwargs,
                **endpoints,
            )

    def form_origins(self) -> tuple[str, ...]:
        """Every origin a sign-in form may be redirected to: the providers' issuers and
        the authorization endpoints their discovery documents named."""
        origins: set[str] = set()
        for provider in self._providers.values():
            origins.update(provider.origins)
            endpoint = self._app(provider.name).server_metadata.get("authorization_endpoint")
            if isinstance(endpoint, str) and endpoint.startswith(("https://", "http://")):
                parts = urlsplit(endpoint)
                origins.add(f"{parts.scheme}://{parts.netloc}")
        # A provider's document is not ours: nothing but a plain origin enters the CSP.
        return tuple(sorted(o for o in origins if _PLAIN_ORIGIN.fullmatch(o)))

    async def names_issuer(self, name: str, value: str) -> bool:
        """Whether `value` (a callback's `iss`, RFC 9207) is the provider's issuer as its
        discovery document names it (read now if it was not yet).

        Raises:
            ProviderError: the discovery document could not be had.
        """
        app = self._app(name)
        await self._fresh_metadata(app)
        issuer = app.server_metadata.get("issuer")
        if not isinstance(issuer, str):
            return False
        if "{tenantid}" in issuer:
            head, _, tail = issuer.partition("{tenantid}")
            middle = value[len(head) : len(value) - len(tail)] if tail else value[len(head) :]
            return value.startswith(head) and value.endswith(tail) and "/" not in middle
        return value == issuer

    async def authorize(self, name: str, redirect_uri: str) -> Authorization:
        """A fresh authorization URL for provider `name`.

        Raises:
            ProviderError: the discovery document could not be had.
        """
        app = self._app(name)
        extra = {"response_mode": "form_post"} if self._providers[name].rules.apple else {}
        with _deadline(self._providers[name], "discovery"):
            await self._fresh_metadata(app)
            try:
                made = await app.create_authorization_url(redirect_uri, **extra)
            except _FAILURES as exc:
                raise ProviderError(_reason(exc, "discovery")) from exc
        return Authorization(
            url=str(made["url"]),
            state=str(made["state"]),
            nonce=str(made.get("nonce", "")),  # plain OAuth 2 has none
            code_verifier=str(made["code_verifier"]),
        )

    async def identify(
        self,
        name: str,
        *,
        code: str,
        code_verifier: str,
        nonce: str,
        redirect_uri: str,
        apple_user: str | None = None,
    ) -> ProviderIdentity:
        """Exchange the callback's `code` and verify the id_token it brings.

        Raises:
            ProviderError: the exchange failed, or the id_token is missing or wrong.
        """
        provider = self._providers[name]
        with _deadline(provider, "callback"):
            return await self._identify(
                provider, code, code_verifier, nonce, redirect_uri, apple_user
            )

    async def _identify(
        self,
        provider: OAuthProvider,
        code: str,
        code_verifier: str,
        nonce: str,
        redirect_uri: str,
        apple_user: str | None,
    ) -> ProviderIdentity:
        name = provider.name
        app = self._app(name)
        await self._fresh_metadata(app)
        if provider.rules.apple:
            app.client_secret = apple.client_secret(provider)
        try:
            token = await app.fetch_access_token(
                redirect_uri=redirect_uri, code=code, code_verifier=code_verifier
            )
        except _FAILURES as exc:
            raise ProviderError(_reason(exc, "token")) from exc
        if not isinstance(token, dict) or "access_token" not in token:
            raise ProviderError("no_token")
        protocol = provider.rules.protocol
        if protocol == "oidc":
            claims = await self._oidc_claims(provider, app, token, nonce)
        else:
            reader = github_claims if protocol == "github" else discord_claims
            try:
                claims = await reader(app, token)
            except _FAILURES as exc:
                raise ProviderError(_reason(exc, "profile")) from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise ProviderError("no_subject")
        if provider.rules.apple and not claims.get("given_name"):
            claims["given_name"], claims["family_name"] = apple.names_from_user_field(apple_user)
        return _identity(subject, claims, token)

    async def _oidc_claims(
        self, provider: OAuthProvider, app: Any, token: dict[str, Any], nonce: str
    ) -> dict[str, Any]:
        """The id_token's claims, verified, with userinfo's address when it has none."""
        if "id_token" not in token:
            raise ProviderError("no_id_token")
        options = _claims_options(app, provider)
        try:
            claims = dict(
                await app.parse_id_token(token, nonce=nonce, claims_options=options, leeway=60)
            )
        except _FAILURES as exc:
            raise ProviderError(_reason(exc, "id_token")) from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise ProviderError("id_token_invalid")
        if not claims.get("email"):
            # Many providers put the address only in userinfo (OpenID Connect 5.4).
            claims.update(await self._userinfo(app, token, subject))
        if provider.rules.microsoft:
            claims["email_verified"] = microsoft_email_verified(claims)
        return claims

    async def _userinfo(self, app: Any, token: Mapping[str, Any], subject: str) -> dict[str, Any]:
        if not app.server_metadata.get("userinfo_endpoint"):
            return {}
        try:
            info = dict(await app.userinfo(token=token))
        except _FAILURES as exc:
            raise ProviderError(_reason(exc, "userinfo")) from exc
        # Userinfo about someone else than the id_token's subject is not believed.
        if info.get("sub") != subject:
            raise ProviderError("userinfo_subject")
        return {k: v for k, v in info.items() if k != "sub"}

    def _app(self, name: str) -> Any:
        return self._registry.create_client(name)

    async def _fresh_metadata(self, app: Any) -> None:
        loaded_at = app.server_metadata.get("_loaded_at")
        if isinstance(loaded_at, float) and time.time() - loaded_at > METADATA_MAX_AGE:
            app.server_metadata.clear()
        try:
            await app.load_server_metadata()
        except _FAILURES as exc:
            app.server_metadata.clear()
            raise ProviderError(_reason(exc, "discovery")) from exc
        _keep_only_what_we_read(app.server_metadata)


#: The discovery fields authkit uses. Authlib passes the whole document on to its HTTP
#: client as settings, so a document saying `"timeout": null` or `"verify": false`
#: would loosen them: everything else is dropped.
_METADATA_FIELDS = frozenset(
    {
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "jwks",
        "id_token_signing_alg_values_supported",
        "_loaded_at",
    }
)
#: Signature algorithms an id_token may use, whatever a provider's document lists
#: (never `none`, never a MAC keyed by something public).
_ID_TOKEN_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)


def _keep_only_what_we_read(metadata: dict[str, Any]) -> None:
    for key in [k for k in metadata if k not in _METADATA_FIELDS]:
        del metadata[key]
    listed = metadata.get("id_token_signing_alg_values_supported")
    allowed = [a for a in listed if a in _ID_TOKEN_ALGORITHMS] if isinstance(listed, list) else []
    metadata["id_token_signing_alg_values_supported"] = allowed or ["RS256"]


def _claims_options(app: Any, provider: OAuthProvider) -> dict[str, Any]:
    """What the id_token must say, made anew for each check (Authlib consumes the
    `validate` hooks): our client id in `aud` (Authlib itself checks only `azp`), and
    the discovery document's issuer in `iss`. Microsoft's multi-tenant document names
    the issuer `.../{tenantid}/v2.0`, which each token must fill with its own `tid`; a
    tenant's own document names it plainly."""
    template = str(app.server_metadata.get("issuer", ""))

    def same_issuer(claims: Mapping[str, Any], value: object) -> bool:
        if "{tenantid}" not in template:
            return value == template
        tenant = claims.get("tid")
        if not isinstance(tenant, str) or not tenant:
            return False
        return value == template.replace("{tenantid}", tenant)

    return {
        "iss": {"essential": True, "validate": same_issuer},
        "aud": {"essential": True, "value": provider.client_id},
    }


def microsoft_email_verified(claims: Mapping[str, Any]) -> bool:
    """Microsoft's `email` is whatever a tenant's admin typed, unless the account is a
    personal one (Microsoft verified it) or the token says the domain's owner did
    (`xms_edov`): only then may it link an account here (the "nOAuth" takeover)."""
    return claims.get("tid") == MICROSOFT_CONSUMERS_TENANT or claims.get("xms_edov") is True


@contextmanager
def _deadline(provider: OAuthProvider, step: str) -> Iterator[None]:
    """The whole step at most twice the provider's timeout: httpx's own timeouts are per
    read, so a provider trickling bytes would hold the request for ever."""
    try:
        with anyio.fail_after(provider.timeout * 2):
            yield
    except TimeoutError:
        raise ProviderError(f"{step}_timeout") from None


def _http_errors() -> tuple[
    tuple[type[Exception], ...], tuple[type[Exception], ...], tuple[type[Exception], ...]
]:
    """(every HTTP failure, the timeouts, the error statuses) of httpx and of httpx2,
    which Authlib uses instead when it is installed."""
    modules: list[Any] = [httpx]
    try:
        import httpx2  # type: ignore[import-not-found, unused-ignore]

        modules.append(httpx2)
    except ImportError:
        pass
    return (
        tuple(m.HTTPError for m in modules),
        tuple(m.TimeoutException for m in modules),
        tuple(m.HTTPStatusError for m in modules),
    )


_HTTP_ERRORS, _TIMEOUTS, _STATUSES = _http_errors()
_FAILURES = (
    *_HTTP_ERRORS,
    AuthlibBaseError,
    JoseError,
    ValueError,  # a body that is not JSON, a claim of the wrong type
    KeyError,
    TypeError,
    RuntimeError,  # Authlib: a discovery document without jwks_uri
)


def _reason(exc: BaseException, step: str) -> str:
    if isinstance(exc, _TIMEOUTS):
        return f"{step}_timeout"
    if isinstance(exc, _STATUSES):
        return f"{step}_status"  # the provider answered with an error page (a 5xx)
    if isinstance(exc, _HTTP_ERRORS):
        return f"{step}_unreachable"
    return f"{step}_refused" if isinstance(exc, AuthlibBaseError) else f"{step}_invalid"


def _identity(
    subject: str, claims: Mapping[str, Any], token: Mapping[str, Any]
) -> ProviderIdentity:
    email = claims.get("email")
    verified = claims.get("email_verified")
    return ProviderIdentity(
        subject=subject,
        email=email if isinstance(email, str) and 3 <= len(email) <= 254 else None,
        # Some providers send "true" as a string; anything else is not a yes.
        email_verified=verified is True or verified == "true",
        first_name=_text(claims.get("given_name")),
        last_name=_text(claims.get("family_name")),
        tokens={k: v for k, v in token.items() if k != "userinfo"},
    )


def _text(value: object) -> str:
    return value.strip()[:100] if isinstance(value, str) else ""
