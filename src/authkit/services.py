"""
The parts every flow needs, built once per AuthKit: settings, database, keys, password
hasher, mailer, templates, messages and the clock. Flows receive this object and
nothing from HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import jinja2

from .audit_folds import FailureFolds
from .clock import Clock
from .config import Settings
from .email import Mailer, Outbox
from .i18n.policy import LocalePolicy
from .messages import Messages
from .organizations.roles import Roles, load_roles
from .security.passwords import PasswordHasher
from .security.proof_of_work import ProofOfWork
from .security.ratelimit import RateLimiter
from .security.tokens import KeyRing
from .social.client import ProviderClients
from .store.db import Database

if TYPE_CHECKING:  # jwt_templates' minting and webhooks' payloads need Services' modules
    from .jwt_templates.session_claims import SessionClaims
    from .jwt_templates.templates import JwtTemplate
    from .webhooks import Webhooks

__all__ = ["Services"]


@dataclass(eq=False, kw_only=True)
class Services:
    settings: Settings
    db: Database
    keyring: KeyRing
    hasher: PasswordHasher
    limiter: RateLimiter
    #: ALTCHA challenges for bot protection (flows/bot_check.py).
    proof_of_work: ProofOfWork
    mailer: Mailer
    #: Mail written with the change that needs it, sent after the commit, retried.
    outbox: Outbox
    #: Webhook events written with the change they report, sent after the commit.
    webhooks: Webhooks
    templates: jinja2.Environment
    messages: Messages
    #: Which language each request is in (and which languages are offered).
    locales: LocalePolicy
    clock: Clock
    #: The clock session times are judged by; None: the database's (shared by workers).
    store_clock: Clock | None = None
    #: Key for hashing emailed codes (derived from the secret key).
    code_key: bytes
    #: Key deriving refresh tokens (derived from the secret key).
    refresh_key: bytes
    #: Fernet key encrypting TOTP secrets (derived from the secret key).
    totp_key: bytes
    #: Key hashing recovery codes (derived from the secret key).
    recovery_key: bytes
    #: Where the sub-app is mounted in the host (found by `install()`).
    mount_path: str = "/auth"
    #: When this process last deleted ended sessions and codes (pruning.py).
    pruned_at: datetime | None = None
    #: Which kinds of failure this process is counting on one audit row (audit_folds.py).
    failure_folds: FailureFolds = field(default_factory=FailureFolds)
    #: The social-login providers' clients (none configured: an empty set).
    social: ProviderClients = field(default_factory=lambda: ProviderClients(()))
    #: Fernet key encrypting the provider tokens a provider is set to keep.
    oauth_token_key: bytes = b""
    #: The JWT templates, compiled and checked at start-up (name → template).
    jwt_templates: Mapping[str, JwtTemplate] = field(default_factory=dict)
    #: The organization roles (built in, and AUTHKIT_ORGANIZATION_ROLES').
    roles: Roles = field(default_factory=lambda: load_roles(None))
    #: AUTHKIT_SESSION_CLAIMS compiled and sized (None: the session token has no more).
    session_claims: SessionClaims | None = None
