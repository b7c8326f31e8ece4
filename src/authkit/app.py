"""
`AuthKit`: the mountable sub-application. It builds the services from the settings,
starts lazily on the first request (migrations when asked, signing keys), and
`install()` wires its middleware into the host application.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from typing import Unpack

import anyio
import jinja2
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .access import auth, current_user
from .clock import Clock, system_clock
from .components import Components
from .config import Settings, SettingValues, settings_from
from .context import CONTEXT_KEY, KitContext
from .cookies import LANGUAGE_COOKIE, CookieNames
from .email import Mailer, Outbox, make_transport
from .email.mailer import after_the_answer
from .errors import StoreError, TablesMissing
from .flows.factors import rate_limit_rules
from .flows.org_invitations import domain_enrollment_hook
from .i18n import CatalogSource, LocalePolicy, LocaleSelector, Plural
from .jwt_templates import load_templates
from .jwt_templates.minting import mint_for_session
from .jwt_templates.session_claims import plan_session_claims
from .messages import Messages
from .middleware import AuthKitMiddleware
from .organizations.host_api import Organizations
from .organizations.roles import load_roles
from .search_terms import search_terms_hook
from .security.client_ip import TrustedProxies
from .security.csrf import CsrfGuard
from .security.passwords import PasswordHasher
from .security.proof_of_work import ProofOfWork
from .security.ratelimit import RateLimiter
from .security.secrets import derive_key, fernet_key
from .security.tokens import KeyRing
from .services import Services
from .sessions import load_keys
from .social.client import ProviderClients
from .store import migrate
from .store.db import Database, is_missing_table
from .theming import Theme
from .user_admin import Users
from .web import build_routes, exception_handlers
from .web.errors import simple_error_page
from .web.helpers import HSTS, csrf_ok
from .web.impersonation import ImpersonationGuard
from .web.origin_check import OriginCheck
from .web.templates import make_environment
from .webhooks import Webhooks, load_endpoints

__all__ = ["AuthKit"]

logger = logging.getLogger("authkit")


class AuthKit:
    """
    The authkit sub-application: mount it, then call `install(app)`.

        authkit = AuthKit(database_url="sqlite+aiosqlite:///app.db", secret_key="...")
        app = Starlette(routes=[Mount("/auth", app=authkit)])
        authkit.install(app)

    Keyword arguments are the settings (see `authkit.config.Settings`); `messages`
    overrides user-visible text (`{"code": "..."}` in every language, `{"de": {...}}` in
    one), `template_dirs` adds folders searched before the package's templates,
    `translation_dirs` folders of catalogs searched before the package's
    (`<dir>/<locale>/LC_MESSAGES/authkit.mo`), `locale_selector(request)` names the
    language of a request (None: the browser's Accept-Language decides), `clock`
    replaces the system clock (tests), `rate_limits` overrides rules of
    `authkit.security.ratelimit.DEFAULT_RULES` (`{"sign_in:ip": "10/minute"}`), `theme`
    sets colours, radius and fonts (`authkit.theming.Theme`).

    Raises:
        ConfigError: a setting is missing or invalid (one sentence says which).
    """

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        messages: Mapping[str, str | Plural | Mapping[str, str | Plural]] | None = None,
        template_dirs: Sequence[str | PathLike[str]] = (),
        translation_dirs: Sequence[str | PathLike[str]] = (),
        locale_selector: LocaleSelector | None = None,
        clock: Clock = system_clock,
        store_clock: Clock | None = None,
        rate_limits: Mapping[str, str] | None = None,
        theme: Theme | Mapping[str, str] | None = None,
        **setting_values: Unpack[SettingValues],
    ) -> None:
        self.settings = settings if settings is not None else settings_from(setting_values)
        self.theme = theme if isinstance(theme, Theme) else Theme.from_mapping(theme or {})
        s = self.settings
        secret = str(s.secret_key)
        templates = make_environment(template_dirs)
        catalogs = CatalogSource(translation_dirs)
        db = Database(s.database_url, schema=s.database_schema)
        mailer = Mailer(make_transport(s.email_url, timeout=s.email_timeout))
        outbox = Outbox(db=db, mailer=mailer, key=fernet_key(secret, "outbox"), clock=clock)
        webhooks = Webhooks(
            endpoints=load_endpoints(s.webhooks),
            db=db,
            runner=mailer,
            key=fernet_key(secret, "webhooks"),
            clock=clock,
        )
        self.services = Services(
            settings=s,
            db=db,
            keyring=KeyRing(issuer=s.base_url.rstrip("/") + "/auth", secret_key=secret),
            hasher=PasswordHasher(
                profile=s.password_hash_profile, concurrency=s.password_hash_concurrency
            ),
            limiter=RateLimiter(
                redis_url=s.redis_url,
                key=derive_key(secret, "rate-limit-keys"),
                rules=rate_limits,
                extra_rules=rate_limit_rules(),
                db=db,
            ),
            proof_of_work=ProofOfWork(secret, clock=clock),
            mailer=mailer,
            outbox=outbox,
            webhooks=webhooks,
            templates=templates,
            messages=Messages(messages, catalogs=catalogs),
            locales=LocalePolicy(
                locale=s.locale,
                languages=s.languages,
                selector=locale_selector,
                catalogs=catalogs,
                cookie_name=s.cookie_names.of(LANGUAGE_COOKIE),
            ),
            clock=clock,
            # Tests that inject a clock judge sessions by it too, unless told otherwise.
            store_clock=store_clock if store_clock is not None or clock is system_clock else clock,
            code_key=derive_key(secret, "email-codes"),
            refresh_key=derive_key(secret, "refresh-tokens"),
            totp_key=fernet_key(secret, "totp-secrets"),
            recovery_key=derive_key(secret, "recovery-codes"),
            social=ProviderClients(s.oauth_providers),
            oauth_token_key=fernet_key(secret, "oauth-tokens"),
            jwt_templates=load_templates(s.jwt_templates),
            session_claims=plan_session_claims(
                s.session_claims, base_url=s.base_url, organizations=s.organizations
            ),
            roles=load_roles(s.organization_roles),
        )
        self.services.roles.say = self.services.messages
        # People with a verified address at an organization's domain are enrolled in the
        # commit that verified it (before the webhooks read what the commit did).
        db.hooks.before.append(domain_enrollment_hook(self.services))
        # The words users are found by follow their names and addresses in the same commit.
        db.hooks.before.append(search_terms_hook())
        if webhooks.enabled:
            self._hear_changes(webhooks)
        self.trusted_proxies = TrustedProxies(s.trusted_proxies.split(","))
        #: Warns once when requests arrive elsewhere than AUTHKIT_BASE_URL says.
        self._origins = OriginCheck(s)
        self.csrf = CsrfGuard(
            secret, allowed_origins=frozenset({s.base_origin}), cookie_name=s.cookie_names.csrf
        )
        #: What requests need, put in their scope by the middleware (never `self`).
        self.context = KitContext(
            services=self.services,
            csrf=self.csrf,
            theme=self.theme,
            trusted_proxies=self.trusted_proxies,
        )
        #: The users, for the host's own code (`await authkit.users.get(user_id)`).
        self.users = Users(self.services)
        #: The organizations, for the host's own code (`await authkit.organizations.create(...)`).
        self.organizations = Organizations(self.services)
        self._app = Starlette(
            routes=build_routes(),
            exception_handlers=exception_handlers(),
            middleware=[Middleware(ImpersonationGuard)],
        )
        self._start_lock: asyncio.Lock | None = None
        self._standalone: AuthKitMiddleware | None = None
        self.is_started = False

    def _hear_changes(self, webhooks: Webhooks) -> None:
        """Every commit adds the webhook events of the changes it audited (and emails
        it queued), and starts sending them once it committed."""
        services = self.services

        async def before_commit(s: AsyncSession) -> None:
            await webhooks.before_commit(
                s, base_url=services.settings.base_url, mount_path=services.mount_path
            )

        services.db.hooks.before.append(before_commit)
        services.db.hooks.after.append(webhooks.after_commit)
        services.outbox.on_add = webhooks.email_created

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        messages: Mapping[str, str | Plural | Mapping[str, str | Plural]] | None = None,
        template_dirs: Sequence[str | PathLike[str]] = (),
        translation_dirs: Sequence[str | PathLike[str]] = (),
        locale_selector: LocaleSelector | None = None,
        clock: Clock = system_clock,
        rate_limits: Mapping[str, str] | None = None,
        theme: Theme | Mapping[str, str] | None = None,
        **overrides: Unpack[SettingValues],
    ) -> AuthKit:
        """Build from `AUTHKIT_*` variables (`AUTHKIT_THEME_*` for the theme); keyword
        arguments win."""
        env = os.environ if environ is None else environ
        return cls(
            theme=theme if theme is not None else Theme.from_env(env),
            settings=Settings.from_env(environ, **overrides),
            messages=messages,
            template_dirs=template_dirs,
            translation_dirs=translation_dirs,
            locale_selector=locale_selector,
            clock=clock,
            rate_limits=rate_limits,
        )

    @property
    def mount_path(self) -> str:
        return self.services.mount_path

    def install(self, app: ASGIApp, *, mount_path: str | None = None) -> ASGIApp:
        """
        Add the session middleware to the host `app` and learn where this sub-app is
        mounted (for sign-in redirects, mailed links and the token issuer). A Starlette
        or FastAPI app gets the middleware in place (and its mount is found); any other
        ASGI app is returned wrapped, to be served instead, with `mount_path` saying
        where it serves this sub-app. (Or list `Middleware(AuthKitMiddleware, kit=kit)`
        in a Starlette app's middleware yourself.)
        """
        if mount_path is None and isinstance(app, Starlette):
            mount_path = _find_mount(app.routes, self)
        if mount_path is not None:
            self._set_mount_path(mount_path)
        if isinstance(app, Starlette):
            app.add_middleware(AuthKitMiddleware, kit=self)
            return app
        return AuthKitMiddleware(app, kit=self)

    def _set_mount_path(self, path: str) -> None:
        path = "/" + path.strip("/") if path.strip("/") else ""
        self.services.mount_path = path
        self.services.keyring.issuer = self.settings.base_url.rstrip("/") + path

    @property
    def cookie_names(self) -> CookieNames:
        """The names of authkit's cookies on this site (`.session`, `.refresh`, `.csrf`):
        `__Host-session`... when `base_url` is https, `__session`... on plain http."""
        return self.settings.cookie_names

    @property
    def issuer(self) -> str:
        return self.services.keyring.issuer

    async def ensure_started(self) -> None:
        """Migrate (`Settings.migrates_at_start_up`) and load the signing keys, once.

        Raises:
            TablesMissing: the database answers but has no authkit tables.
            StoreError: the database is unavailable (its cause chained).
        """
        if self.is_started:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self.is_started:
                return
            if self.settings.migrates_at_start_up:
                await migrate.upgrade(self.services.db)
            try:
                await load_keys(self.services)
            except StoreError as exc:
                if is_missing_table(exc.__cause__):
                    raise TablesMissing() from exc.__cause__
                raise
            # Make the dummy hash now, so the first unknown-address sign-in is not the
            # only one that pays for it (that would be a timing tell).
            await self.services.hasher.dummy_verify("warm-up")
            # Read the offered languages' catalogs off the event loop (a few ms each),
            # rather than during the first request in each language.
            await anyio.to_thread.run_sync(
                self.services.messages.preload, self.services.locales.languages
            )
            self.is_started = True
            logger.info("authkit started (issuer %s)", self.issuer)

    async def aclose(self) -> None:
        """Wait for queued emails and close the database pool."""
        await self.services.mailer.drain()
        await self.services.db.dispose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._app(scope, receive, send)
            return
        if self.settings.is_https:
            send = _with_hsts(send)
        self._origins.look(scope)
        try:
            await self.ensure_started()
        except StoreError as exc:
            # Fail closed with a clear page; the next request tries again. The log says
            # why: missing tables are not an outage, and an outage names its cause.
            logger.error("authkit cannot start: %s%s", exc, _cause_of(exc))
            t = self.services.messages
            response = simple_error_page(503, t("unavailable"), t=t)
            await response(scope, receive, send)
            return
        # Mail (and retries) handed to the background while answering start only once the
        # answer is out: a real account's delivery does more than an unknown address's
        # none, and must not run while the answer is on its way (a timing oracle).
        with after_the_answer() as answered:
            await self._answer(scope, receive, _telling_when_answered(send, answered))

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Mail a crash or a mail-server outage left behind goes out on a later request.
        self.services.outbox.sweep_if_due()
        self.services.webhooks.sweep_if_due()
        if CONTEXT_KEY not in scope:
            # Mounted without install(): the sub-app's own pages still get their session
            # check, but the host's routes cannot see it. Say so once, loudly.
            if self._standalone is None:
                logger.warning(
                    "authkit is mounted but not installed: call authkit.install(app) so "
                    "the host app's requests carry the session (auth(), requires_user)"
                )
                self._standalone = AuthKitMiddleware(self._app, kit=self)
            await self._standalone(scope, receive, send)
            return
        await self._app(scope, receive, send)

    def csrf_ok(self, request: Request, form: FormData) -> bool:
        """
        Check CSRF on a host's own state-changing form (render the token with
        `{{ authkit.csrf_input() }}`): same-origin and this browser's token.
        """
        return csrf_ok(request, form)

    async def get_token(self, request: HTTPConnection, name: str) -> str | None:
        """
        A token of the JWT template `name` for the signed-in user (None when nobody is
        signed in), as `GET /auth/tokens/<name>` answers it.

        Raises:
            KeyError: no template has that name.
        """
        template = self.services.jwt_templates.get(name)
        if template is None:
            known = ", ".join(sorted(self.services.jwt_templates)) or "none"
            raise KeyError(f"no JWT template {name!r} (the templates are: {known})")
        user = await current_user(request)
        if user is None:
            return None
        return await mint_for_session(self.services, template, user, auth(request))

    def jinja(self, env: jinja2.Environment) -> None:
        """
        Let a host's Jinja templates embed the components: `{{ authkit.head() }}` in
        `<head>`, then `{{ authkit.sign_in() }}`, `{{ authkit.sign_up() }}`,
        `{{ authkit.user_button() }}` or `{{ authkit.user_profile() }}` anywhere. The
        template context must hold `request` (Starlette's TemplateResponse adds it).
        """
        env.globals["authkit"] = Components(self.context)


def _telling_when_answered(send: Send, answered: Callable[[], None]) -> Send:
    """`send`, calling `answered` once the response's last body message has gone out."""

    async def sending(message: Message) -> None:
        await send(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            answered()

    return sending


def _with_hsts(send: Send) -> Send:
    """Add HSTS to every response of the sub-app (error pages and redirects too)."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(name.lower() == b"strict-transport-security" for name, _ in headers):
                headers.append((b"strict-transport-security", HSTS.encode()))
            message = {**message, "headers": headers}
        await send(message)

    return sending


def _cause_of(exc: BaseException) -> str:
    cause = exc.__cause__
    return f" ({type(cause).__name__}: {cause})" if cause is not None else ""


def _find_mount(routes: Sequence[BaseRoute], kit: AuthKit, prefix: str = "") -> str | None:
    for route in routes:
        if isinstance(route, Mount):
            if route.app is kit:
                return prefix + route.path
            found = _find_mount(route.routes, kit, prefix + route.path)
            if found is not None:
                return found
    return None
