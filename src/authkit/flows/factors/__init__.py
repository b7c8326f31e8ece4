"""
The sign-in factors, one module each, and the one place they are registered.

Every factor implements `FactorStrategy` (base.py): `prepare` (send something, if the
factor needs it) and `attempt` (judge what the visitor entered and return a single-use
`Proof`). The pipeline (flows/sign_in.py) and the pages (web/sign_in.py,
web/reverify.py) know factors only through that interface and this registry.

How to add a factor, say `sms_code`:

1. Write `flows/factors/sms_code.py` with a `FactorStrategy` subclass: its `name`, its
   `kind` (first or second), the form `fields` its `attempt` reads, `needs_prepare`
   when it sends something first, and the `rate_limits` rules it uses (they join
   `security/ratelimit.DEFAULT_RULES`, and hosts may override them by name). Its
   `attempt` must cost the same for an unknown account as for a real one and raise
   the same error; its proof's `use` makes it single-use.
2. Add an instance to `STRATEGIES` below.
3. Add its step template, `templates/authkit/components/factor_sms_code.html`; the
   generic pages `/sign-in/factor/sms_code` and `/reverify/factor/sms_code` render it
   and post its fields. A factor that needs a page of its own (the magic link's
   landing page) adds its routes in `web/__init__.py`.
4. For a first factor, add its name to `config.SIGN_IN_METHODS` so
   `AUTHKIT_SIGN_IN_METHODS` may offer it, and its label to `messages.py`
   (`method_<name>`).

Nothing else changes: the statuses, the session, the audit trail and reverification
come from the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping

from .base import FactorKind, FactorStrategy, Prepared, Proof, Used
from .email_code import EmailCodeFactor
from .email_link import EmailLinkFactor
from .password import PasswordFactor
from .recovery_code import RecoveryCodeFactor
from .totp import TotpFactor

__all__ = [
    "STRATEGIES",
    "FactorKind",
    "FactorStrategy",
    "Prepared",
    "Proof",
    "Used",
    "rate_limit_rules",
]

#: Every factor, in the order pages offer them.
STRATEGIES: Mapping[str, FactorStrategy] = {
    s.name: s
    for s in (
        PasswordFactor(),
        EmailCodeFactor(),
        EmailLinkFactor(),
        TotpFactor(),
        RecoveryCodeFactor(),
    )
}


def rate_limit_rules() -> dict[str, str]:
    """The rate-limit rules the factors add to the shared ones."""
    rules: dict[str, str] = {}
    for item in STRATEGIES.values():
        rules.update(item.rate_limits)
    return rules
