"""
Settings: one frozen object built from keyword arguments or `AUTHKIT_*` variables and
validated at construction, so a bad setting stops the process at start-up with one clear
sentence instead of failing at the first request.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, TypedDict, get_args
from urllib.parse import urlsplit

from starlette.datastructures import Secret

from .cookies import CookieNames, cookie_names
from .errors import ConfigError
from .i18n.locales import normalize_locale
from .social.providers import OAuthProvider, check_unique, providers_from_env

__all__ = ["ENV_PREFIX", "NameFields", "Settings"]

ENV_PREFIX = "AUTHKIT_"
MIN_SECRET_KEY_LENGTH = 32
DEFAULT_SESSION_TOKEN_LIFETIME_SECONDS = 60
DEFAULT_SESSION_LIFETIME_SECONDS = 30 * 24 * 3600
#: NIST 800-63B-4 asks AAL1 sessions to end within 30 days, however busy.
DEFAULT_SESSION_MAX_LIFETIME_SECONDS = 30 * 24 * 3600
DEFAULT_CODE_LIFETIME_SECONDS = 10 * 60
EMAIL_SCHEMES = ("console", "file", "smtp", "smtp+starttls", "smtps")
HASH_PROFILES = ("RFC_9106_LOW_MEMORY", "RFC_9106_HIGH_MEMORY", "CHEAPEST")
CLEAR_SITE_DATA_TYPES = ('"cache"', '"cookies"', '"storage"', '"executionContexts"', '"*"')

NameFields = Literal["off", "optional", "required"]
MfaPolicy = Literal["optional", "required"]
SignUpMode = Literal["open", "invite", "waitlist", "closed"]
SIGN_UP_MODES: tuple[SignUpMode, ...] = ("open", "invite", "waitlist", "closed")
#: The first factors `AUTHKIT_SIGN_IN_METHODS` may list, in the order the sign-in page
#: offers them.
SIGN_IN_METHODS = ("password", "email_code", "email_link")
DEFAULT_REVERIFICATION_WINDOW_SECONDS = 600


@dataclass(frozen=True, kw_only=True)
class Settings:
    """
    Every authkit setting. Each keyword has an `AUTHKIT_<NAME>` variable read by
    `Settings.from_env()`; durations are whole seconds.
    """

    secret_key: Secret
    database_url: str = "sqlite+aiosqlite:///authkit.db"
    #: PostgreSQL schema holding authkit's tables (search_path); None keeps the default.
    database_schema: str | None = None
    email_url: str = "console://"
    email_from: str = "authkit <no-reply@localhost>"
    #: The public address of the site; mailed links and the token issuer are built from it,
    #: never from the Host header.
    base_url: str = "http://127.0.0.1:8000"
    session_token_lifetime: int = DEFAULT_SESSION_TOKEN_LIFETIME_SECONDS
    #: A session ends after this long without use (each refresh pushes it back) ...
    session_lifetime: int = DEFAULT_SESSION_LIFETIME_SECONDS
    #: ... and this long after sign-in at the latest, even when in constant use.
    session_max_lifetime: int = DEFAULT_SESSION_MAX_LIFETIME_SECONDS
    code_lifetime: int = DEFAULT_CODE_LIFETIME_SECONDS
    redis_url: str | None = None
    app_name: str = "authkit"
    after_sign_in_url: str = "/"
    after_sign_out_url: str = "/"
    #: The site's own home: every sub-app page links back to it.
    home_url: str = "/"
    #: NIST 800-63B-4: at least 15 when the password is the only factor (it is, until
    #: MFA exists); never below 8.
    password_min_length: int = 15
    password_max_length: int = 256
    #: The least zxcvbn score (0 to 4) a new password must reach: 3 is "safely
    #: unguessable: moderate protection from an offline slow-hash scenario".
    password_min_score: int = 3
    #: Refuse new passwords seen in data breaches, by Have I Been Pwned's k-anonymity
    #: range API (only 5 hex digits of the SHA-1 leave the server); slow or down, the
    #: check is skipped, never blocking a sign-up.
    breached_password_check: bool = False
    #: The range API (Have I Been Pwned's, or a mirror of it).
    breached_password_api: str = "https://api.pwnedpasswords.com/range"  # noqa: S105 (a URL)
    password_hash_profile: str = "RFC_9106_LOW_MEMORY"  # noqa: S105 (a profile name, not a secret)
    #: How many argon2 hashes may run at once; 0 means one per CPU core.
    password_hash_concurrency: int = 0
    name_fields: NameFields = "optional"
    #: Run the Alembic migrations at start-up. None (the default): on for SQLite (the
    #: embedded store needs no step), off for PostgreSQL (`authkit db upgrade` at deploy).
    auto_migrate: bool | None = None
    email_timeout: float = 10.0
    #: Comma-separated IPs or networks of reverse proxies whose X-Forwarded-For is
    #: believed; empty means the header is ignored.
    trusted_proxies: str = ""
    #: The Clear-Site-Data header of a sign-out: the browser drops its cached copies of
    #: this origin's pages, so Back cannot show the last user's. Cookies and storage stay
    #: (they belong to the host too); "" sends no header.
    sign_out_clear_site_data: str = '"cache"'
    #: The first factors the sign-in page offers, comma-separated, the default first.
    sign_in_methods: str = "password,email_code,email_link"
    #: `required`: a user without a second factor sets one up before their session exists.
    mfa: MfaPolicy = "optional"
    #: Sensitive actions need a factor verified this recently ("Confirm it's you").
    reverification_window: int = DEFAULT_REVERIFICATION_WINDOW_SECONDS
    #: A magic link signs in only the browser that asked for it (the others are told to
    #: open it there).
    email_link_same_browser: bool = True
    #: Social login: the providers whose buttons the sign-in and sign-up pages show
    #: (`AUTHKIT_OAUTH_PROVIDERS=acme,...`, each with its `AUTHKIT_OAUTH_<NAME>_*`).
    oauth_providers: tuple[OAuthProvider, ...] = ()
    #: Passkeys: the "Sign in with a passkey" button, autofill on the address field and
    #: the profile's list. They need a domain name in `base_url` (not an IP address).
    passkeys: bool = True
    #: JWT templates: a mapping of name → settings, or (`AUTHKIT_JWT_TEMPLATES`) the path
    #: of a .toml or .json file of them (jwt_templates/templates.py).
    jwt_templates: Mapping[str, Any] | str | None = None
    #: Claims added to the session token, in the templates' grammar: a mapping, or
    #: (`AUTHKIT_SESSION_CLAIMS`) inline JSON or a .json/.toml path (session_claims.py).
    session_claims: Mapping[str, Any] | str | None = None
    #: Webhook endpoints: a list of `{url, secret, events}`, or (`AUTHKIT_WEBHOOKS`)
    #: inline JSON or a .toml/.json path (webhooks/endpoints.py).
    webhooks: Sequence[Mapping[str, Any]] | str | None = None
    #: Who may use the admin console besides users whose public_metadata.role is
    #: "admin": addresses or user ids, comma-separated.
    admins: str = ""
    #: Who may make an account: `open` (anyone), `invite` (only with an invitation: from
    #: an admin, the host's code or the CLI, or to an organization), `waitlist` (people
    #: ask on a waitlist form and an admin lets them in), `closed` (sign-in only).
    #: Social sign-up follows it too.
    sign_up: SignUpMode = "open"
    #: Addresses and domains (a domain covers its subdomains) that alone may sign up,
    #: comma-separated; empty: every address.
    sign_up_allowlist: str = ""
    #: Addresses and domains that may not sign up, comma-separated.
    sign_up_blocklist: str = ""
    #: Refuse the throwaway-mail domains the `disposable-email-domains` package lists
    #: (updated by upgrading it); an allowlisted one is let through.
    block_disposable_emails: bool = True
    #: Bot protection on sign-up, and on sign-in after failures from an IP: a honeypot
    #: field and an ALTCHA proof of work solved in the browser; forms sent without the
    #: proof (JavaScript off) meet tighter per-IP limits.
    bot_protection: bool = True
    #: How long an invitation to sign up can be used.
    sign_up_invitation_lifetime: int = 7 * 24 * 3600
    #: Organizations (teams with roles, invitations and an active organization in the
    #: session token): their pages, components and the token's `o` claim. Off by default,
    #: as at Clerk: a site without teams shows nothing of them.
    organizations: bool = False
    #: Organization roles beyond `org:admin` and `org:member`: a mapping of role key →
    #: `{name, description, permissions}`, or (`AUTHKIT_ORGANIZATION_ROLES`) inline JSON
    #: or a .toml/.json path (organizations/roles.py).
    organization_roles: Mapping[str, Any] | str | None = None
    #: The most members (invitations pending included) one organization may have.
    organization_max_members: int = 500
    #: The most organizations one user may belong to.
    organizations_per_user: int = 100
    #: How long an emailed invitation to an organization can be accepted.
    organization_invitation_lifetime: int = 7 * 24 * 3600
    #: One language for every page and email (`de`, `pt-BR`); unset, each request's is
    #: chosen: the host's locale_selector, else the browser's Accept-Language.
    locale: str | None = None
    #: The languages offered, comma-separated (`en,de,fr`), the first being the fallback;
    #: empty: every language authkit ships (and any a host's translation_dirs add).
    languages: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.secret_key, Secret):
            object.__setattr__(self, "secret_key", Secret(str(self.secret_key)))
        object.__setattr__(self, "oauth_providers", tuple(self.oauth_providers))
        for problem in self._problems():
            raise ConfigError(problem)

    def _problems(self) -> list[str]:
        problems: list[str] = []
        if len(str(self.secret_key)) < MIN_SECRET_KEY_LENGTH:
            problems.append(
                f"AUTHKIT_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters long "
                f"({MAKE_A_SECRET})."
            )
        if not self.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            problems.append(
                "AUTHKIT_DATABASE_URL must start with sqlite+aiosqlite:// or "
                f"postgresql+asyncpg://, not {_redact(self.database_url)!r}."
            )
        if self.database_schema is not None and not self.database_schema.isidentifier():
            problems.append("AUTHKIT_DATABASE_SCHEMA must be a plain identifier.")
        if urlsplit(self.email_url).scheme not in EMAIL_SCHEMES:
            problems.append(
                f"AUTHKIT_EMAIL_URL must use one of {', '.join(EMAIL_SCHEMES)}, "
                f"not {_redact(self.email_url)!r}."
            )
        base = urlsplit(self.base_url)
        if base.scheme not in ("http", "https") or not base.netloc or base.query:
            problems.append(
                f"AUTHKIT_BASE_URL must be an absolute http(s) URL such as "
                f"https://example.com, not {self.base_url!r}."
            )
        if not 1 <= self.session_token_lifetime <= 3600:
            problems.append("AUTHKIT_SESSION_TOKEN_LIFETIME must be between 1 and 3600 seconds.")
        if not self.session_token_lifetime < self.session_lifetime <= 400 * 24 * 3600:
            problems.append(
                "AUTHKIT_SESSION_LIFETIME must be longer than the session token lifetime "
                "and at most 400 days."
            )
        if self.sign_up not in SIGN_UP_MODES:
            problems.append(
                f"AUTHKIT_SIGN_UP must be one of {', '.join(SIGN_UP_MODES)}, not {self.sign_up!r}."
            )
        if not 3600 <= self.sign_up_invitation_lifetime <= 90 * 24 * 3600:
            problems.append(
                "AUTHKIT_SIGN_UP_INVITATION_LIFETIME must be between 3600 seconds and 90 days."
            )
        if not 1 <= self.organization_max_members <= 100_000:
            problems.append("AUTHKIT_ORGANIZATION_MAX_MEMBERS must be between 1 and 100000.")
        if not 1 <= self.organizations_per_user <= 10_000:
            problems.append("AUTHKIT_ORGANIZATIONS_PER_USER must be between 1 and 10000.")
        if not 3600 <= self.organization_invitation_lifetime <= 90 * 24 * 3600:
            problems.append(
                "AUTHKIT_ORGANIZATION_INVITATION_LIFETIME must be between 3600 seconds and 90 days."
            )
        if not self.session_token_lifetime < self.session_max_lifetime <= 400 * 24 * 3600:
            problems.append(
                "AUTHKIT_SESSION_MAX_LIFETIME must be longer than the session token lifetime "
                "and at most 400 days."
            )
        if not 60 <= self.code_lifetime <= 600:
            problems.append("AUTHKIT_CODE_LIFETIME must be between 60 and 600 seconds.")
        if not 0 <= self.password_min_score <= 4:
            problems.append("AUTHKIT_PASSWORD_MIN_SCORE must be between 0 and 4 (zxcvbn's scores).")
        if not 8 <= self.password_min_length <= self.password_max_length <= 4096:
            problems.append(
                "AUTHKIT_PASSWORD_MIN_LENGTH must be at least 8 and at most "
                "AUTHKIT_PASSWORD_MAX_LENGTH (itself at most 4096)."
            )
        if self.password_hash_profile not in HASH_PROFILES:
            problems.append(
                f"AUTHKIT_PASSWORD_HASH_PROFILE must be one of {', '.join(HASH_PROFILES)}."
            )
        if self.password_hash_concurrency < 0:
            problems.append("AUTHKIT_PASSWORD_HASH_CONCURRENCY must be 0 (automatic) or more.")
        problems.extend(_language_problems(self.locale, self.languages))
        if self.name_fields not in get_args(NameFields):
            problems.append("AUTHKIT_NAME_FIELDS must be one of off, optional, required.")
        home = urlsplit(self.home_url)
        if not (
            (self.home_url.startswith("/") and not self.home_url.startswith("//"))
            or (home.scheme in ("http", "https") and home.netloc)
        ):
            problems.append(
                "AUTHKIT_HOME_URL must be a path on this site, like /, or an absolute http(s) URL."
            )
        for name in ("after_sign_in_url", "after_sign_out_url"):
            value = getattr(self, name)
            if not value.startswith("/") or value.startswith("//"):
                problems.append(f"AUTHKIT_{name.upper()} must be a path on this site, like /.")
        if self.redis_url is not None and urlsplit(self.redis_url).scheme not in (
            "redis",
            "rediss",
            "unix",
        ):
            problems.append("AUTHKIT_REDIS_URL must start with redis://, rediss:// or unix://.")
        for item in filter(None, (p.strip() for p in self.trusted_proxies.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                problems.append(
                    "AUTHKIT_TRUSTED_PROXIES must list IP addresses or networks; "
                    f"{item!r} is not one."
                )
        if not 0 < self.email_timeout <= 120:
            problems.append("AUTHKIT_EMAIL_TIMEOUT must be between 0 and 120 seconds.")
        for item in filter(None, (p.strip() for p in self.sign_out_clear_site_data.split(","))):
            if item not in CLEAR_SITE_DATA_TYPES:
                problems.append(
                    "AUTHKIT_SIGN_OUT_CLEAR_SITE_DATA must list quoted types from "
                    f"{', '.join(CLEAR_SITE_DATA_TYPES)}, not {item!r}."
                )
        methods = self.sign_in_method_list
        unknown = [m for m in methods if m not in SIGN_IN_METHODS]
        if unknown or not methods or len(set(methods)) < len(methods):
            problems.append(
                "AUTHKIT_SIGN_IN_METHODS must list one or more of "
                f"{', '.join(SIGN_IN_METHODS)} (comma-separated, each once), "
                f"not {self.sign_in_methods!r}."
            )
        if self.mfa not in get_args(MfaPolicy):
            problems.append("AUTHKIT_MFA must be optional or required.")
        if not 60 <= self.reverification_window <= 24 * 3600:
            problems.append("AUTHKIT_REVERIFICATION_WINDOW must be between 60 and 86400 seconds.")
        problems.extend(check_unique(self.oauth_providers))
        return problems

    def oauth_provider(self, name: str) -> OAuthProvider | None:
        """The configured provider called `name`, if any."""
        return next((p for p in self.oauth_providers if p.name == name), None)

    @property
    def sign_in_method_list(self) -> tuple[str, ...]:
        """`sign_in_methods` as names, in order."""
        return tuple(m.strip() for m in self.sign_in_methods.split(",") if m.strip())

    @property
    def is_https(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def cookie_names(self) -> CookieNames:
        """authkit's cookie names on this site: `__Host-session`, `__Host-refresh`, ...
        on https; `__session`, `__refresh`, ... on plain http (development)."""
        return cookie_names(https=self.is_https)

    @property
    def migrates_at_start_up(self) -> bool:
        """Whether start-up runs the migrations (`auto_migrate`, else SQLite's default)."""
        if self.auto_migrate is not None:
            return self.auto_migrate
        return self.database_url.startswith("sqlite")

    @property
    def passkey_rp_id(self) -> str | None:
        """The relying party id of passkeys, the host of `base_url`; None when passkeys
        are off or the host is an IP address (WebAuthn accepts only a domain)."""
        host = urlsplit(self.base_url).hostname or ""
        if not self.passkeys or not host:
            return None
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return host
        return None

    @property
    def base_origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """
        Build settings from `AUTHKIT_*` variables (of `environ`, default `os.environ`);
        keyword `overrides` win over the environment.

        Raises:
            ConfigError: a variable is missing, cannot be parsed or is out of range.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = ENV_PREFIX + f.name.upper()
            if key in environ and f.name != "oauth_providers":
                values[f.name] = _parse(key, environ[key], f.type)
        if "AUTHKIT_OAUTH_PROVIDERS" in environ:
            # Each provider brings variables of its own (AUTHKIT_OAUTH_<NAME>_*).
            values["oauth_providers"] = providers_from_env(
                environ, environ["AUTHKIT_OAUTH_PROVIDERS"]
            )
        values.update(overrides)
        if "secret_key" not in values:
            raise ConfigError(
                "AUTHKIT_SECRET_KEY is not set: authkit needs a secret key of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters to sign sessions; {MAKE_A_SECRET} "
                "(only `authkit demo` makes one up)."
            )
        return settings_from(values)


class SettingValues(TypedDict, total=False):
    """`AuthKit(...)`'s setting keywords, typed: a misspelt one is a mypy error, and at
    run time a `ConfigError` naming the nearest setting (`settings_from`)."""

    secret_key: str | Secret
    database_url: str
    database_schema: str | None
    email_url: str
    email_from: str
    base_url: str
    session_token_lifetime: int
    session_lifetime: int
    session_max_lifetime: int
    code_lifetime: int
    redis_url: str | None
    app_name: str
    after_sign_in_url: str
    after_sign_out_url: str
    home_url: str
    password_min_length: int
    password_max_length: int
    password_min_score: int
    breached_password_check: bool
    breached_password_api: str
    password_hash_profile: str
    password_hash_concurrency: int
    name_fields: NameFields
    auto_migrate: bool | None
    email_timeout: float
    trusted_proxies: str
    sign_out_clear_site_data: str
    sign_in_methods: str
    mfa: MfaPolicy
    reverification_window: int
    email_link_same_browser: bool
    oauth_providers: Sequence[OAuthProvider]
    passkeys: bool
    jwt_templates: Mapping[str, Any] | str | None
    session_claims: Mapping[str, Any] | str | None
    webhooks: Sequence[Mapping[str, Any]] | str | None
    admins: str
    sign_up: SignUpMode
    sign_up_allowlist: str
    sign_up_blocklist: str
    block_disposable_emails: bool
    bot_protection: bool
    sign_up_invitation_lifetime: int
    organizations: bool
    organization_roles: Mapping[str, Any] | str | None
    organization_max_members: int
    organizations_per_user: int
    organization_invitation_lifetime: int
    locale: str | None
    languages: str


#: How to make a secret key, said wherever one is missing or too short.
MAKE_A_SECRET = "make one with `authkit secret`"  # noqa: S105 (advice, not a secret)


def _language_problems(locale: str | None, languages: str) -> list[str]:
    problems = []
    for name, tag in [
        ("AUTHKIT_LOCALE", locale),
        *(("AUTHKIT_LANGUAGES", part.strip()) for part in languages.split(",") if part.strip()),
    ]:
        if tag is None:
            continue
        try:
            normalize_locale(tag)
        except ValueError:
            problems.append(f"{name}: {tag!r} is not a language tag such as de or pt-BR.")
    return problems


def settings_from(values: Mapping[str, Any]) -> Settings:
    """
    `Settings` from keyword values, as `AuthKit(...)` takes them.

    Raises:
        ConfigError: an unknown setting (naming the nearest one), no secret key, or an
            invalid value.
    """
    names = [f.name for f in fields(Settings)]
    for name in values:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f": did you mean {close[0]!r}?" if close else " (the README lists them all)."
            raise ConfigError(f"AuthKit() has no setting {name!r}{hint}")
    if "secret_key" not in values:
        raise ConfigError(
            "AuthKit() needs secret_key (or AUTHKIT_SECRET_KEY with AuthKit.from_env()): at "
            f"least {MIN_SECRET_KEY_LENGTH} random characters that sign sessions; "
            f"{MAKE_A_SECRET}."
        )
    return Settings(**values)


def _parse(key: str, raw: str, annotation: object) -> Any:
    text = str(annotation)
    if text == "int":
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{key} must be a whole number, not {raw!r}.") from None
    if text == "float":
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{key} must be a number, not {raw!r}.") from None
    if text in ("bool", "bool | None"):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{key} must be true or false, not {raw!r}.")
    if text == "Secret":
        return Secret(raw)
    if "None" in text and raw == "":
        return None
    return raw


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(parts.password, "***")
    return url
