"""
The one tree of errors authkit raises.

    AuthKitError
    ├── ConfigError(ValueError)      a setting is missing or wrong; raised at construction
    ├── TokenError                   a session token or refresh token is not acceptable
    ├── StoreError                   the database could not be reached or answered wrongly
    └── FlowError                    a user-facing rule was broken; `code` keys into messages
        ├── FieldError(field)        one form field is wrong (the message goes beside it)
        ├── InvalidCredentials       the email or password is wrong (never says which)
        ├── CodeInvalid              the emailed code is wrong
        ├── CodeExpired              the emailed code is too old, used up or unknown
        ├── AttemptGone              the sign-in attempt expired, finished or moved on
        ├── RateLimited(retry_after) too many attempts; try again in `retry_after` seconds
        └── SignUpClosed             the host's hook refused sign-up

Endpoints turn a FlowError into a message next to the field; nothing else reaches a user.
"""

from __future__ import annotations

__all__ = [
    "AttemptGone",
    "AuthKitError",
    "CodeExpired",
    "CodeInvalid",
    "ConfigError",
    "FieldError",
    "FlowError",
    "InvalidCredentials",
    "NotFound",
    "RateLimited",
    "SignUpClosed",
    "StoreError",
    "TokenError",
]


class AuthKitError(Exception):
    """
    Superclass of every authkit error. Never raised directly.
    """


class ConfigError(AuthKitError, ValueError):
    """
    A setting is missing or invalid. The message is one sentence naming the setting.
    """


class TokenError(AuthKitError):
    """
    A token failed verification. The reason is for logs, never for users.
    """


class StoreError(AuthKitError):
    """
    The database failed; the request must fail closed.
    """


class TablesMissing(StoreError):
    """The database answers, but authkit's tables are not there: not an outage."""

    def __init__(self) -> None:
        super().__init__(
            "authkit's tables are missing: run `authkit db upgrade` (with the same "
            "AUTHKIT_* variables), or set AUTHKIT_AUTO_MIGRATE=true"
        )


class NotFound(AuthKitError):
    """
    What a request names (an address, a session) is not the signed-in user's, or is not
    there: the answer is a plain 404 either way, so ids of other users reveal nothing.
    """


class FlowError(AuthKitError):
    """
    A user-facing rule was broken.

    `code` is a key of `authkit.messages.MESSAGES`; `field` names the form field the
    message belongs beside, or None for a form-wide message.
    """

    code: str = "invalid"
    field: str | None = None

    def __init__(self, code: str | None = None, *, field: str | None = None, **params: object):
        self.code = code or self.code
        self.field = field if field is not None else self.field
        self.params = params
        super().__init__(self.code)


class FieldError(FlowError):
    """
    One field is wrong: `FieldError("password_too_short", field="password", min=8)`.
    """


class InvalidCredentials(FlowError):
    code = "invalid_credentials"
    field = "password"


class CodeInvalid(FlowError):
    code = "code_invalid"
    field = "code"


class CodeExpired(FlowError):
    code = "code_expired"
    field = "code"


class AttemptGone(FlowError):
    """
    The sign-in (or "Confirm it's you") attempt this browser refers to is over: expired,
    completed, started elsewhere, or not at the step the request is for.
    """

    code = "attempt_expired"


class RateLimited(FlowError):
    """
    Too many attempts: `retry_after` says how many seconds to wait.
    """

    code = "rate_limited"

    def __init__(self, *, retry_after: int) -> None:
        from .i18n.formats import Wait  # i18n's modules import this one

        # Written out when shown, in the reader's language.
        super().__init__(wait=Wait(retry_after))
        self.retry_after = retry_after


class SignUpClosed(FlowError):
    code = "sign_up_closed"
    field = "email"
