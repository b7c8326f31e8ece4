"""
The cookie that ties a multi-step flow (sign-up's code step, a password reset, a
sign-in attempt) to the browser that started it: the attempt id, signed and timestamped
with itsdangerous, HttpOnly, and short-lived. On plain http it is scoped to the sub-app's
path; on https it is a `__Host-` cookie (`__Host-ak_sign_in`...), which a browser keeps
only on `Path=/`, so that no sibling subdomain can plant one (cookies.CookieNames).
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from ..context import KitContext, context_of
from ..cookies import clear_cookie, set_cookie
from .helpers import cookies_of

__all__ = ["TOTP_SETUP", "AttemptCookie", "SealedCookie"]

MAX_COOKIE_LENGTH = 200


def _where(ctx: KitContext, name: str) -> tuple[str, bool, str]:
    """The site's name for the cookie `name` (its plain-http name), its Secure flag and
    its path."""
    names = ctx.services.settings.cookie_names
    return names.of(name), names.secure, names.path(ctx.mount_path)


class AttemptCookie:
    def __init__(self, name: str, *, salt: str, max_age: int | None = None) -> None:
        #: The name on plain http; `__Host-` + the name without its underscores on https.
        self.name = name
        # One salt per flow: a sign-up attempt cookie never passes as a reset one.
        self.salt = salt
        #: Seconds the cookie lives; None: as long as an emailed code.
        self.max_age = max_age

    def _max_age(self, request: Request) -> int:
        if self.max_age is not None:
            return self.max_age
        return context_of(request).services.settings.code_lifetime

    def _serializer(self, request: Request) -> URLSafeTimedSerializer:
        secret = str(context_of(request).services.settings.secret_key)
        return URLSafeTimedSerializer(secret, salt=self.salt)

    def read(self, request: Request) -> str | None:
        """The attempt id this browser carries, if the cookie is genuine and fresh."""
        raw = cookies_of(request).get(_where(context_of(request), self.name)[0])
        if not raw or len(raw) > MAX_COOKIE_LENGTH:
            return None
        try:
            value = self._serializer(request).loads(raw, max_age=self._max_age(request))
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def set(self, response: Response, request: Request, attempt_id: str) -> None:
        name, secure, path = _where(context_of(request), self.name)
        value = self._serializer(request).dumps(attempt_id)
        cookie = set_cookie(name, value, max_age=self._max_age(request), secure=secure, path=path)
        response.raw_headers.append((b"set-cookie", cookie))

    def clear(self, response: Response, request: Request) -> None:
        name, secure, path = _where(context_of(request), self.name)
        response.raw_headers.append((b"set-cookie", clear_cookie(name, secure=secure, path=path)))


class SealedCookie:
    """
    A cookie carrying a value sealed by a flow (encrypted and authenticated, with its own
    expiry: the authenticator app's secret while it is being set up). HttpOnly, named and
    scoped as an AttemptCookie, and read back only as the flow that sealed it can open it.
    """

    def __init__(self, name: str, *, max_age: int) -> None:
        #: The name on plain http; `__Host-` + the name without its underscores on https.
        self.name = name
        self.max_age = max_age

    def read(self, request: Request) -> str:
        value = cookies_of(request).get(_where(context_of(request), self.name)[0], "")
        return value if len(value) <= MAX_SEALED_LENGTH else ""

    def set(self, response: Response, request: Request, value: str) -> None:
        name, secure, path = _where(context_of(request), self.name)
        cookie = set_cookie(name, value, max_age=self.max_age, secure=secure, path=path)
        response.raw_headers.append((b"set-cookie", cookie))

    def clear(self, response: Response, request: Request) -> None:
        name, secure, path = _where(context_of(request), self.name)
        response.raw_headers.append((b"set-cookie", clear_cookie(name, secure=secure, path=path)))


#: The longest sealed value a SealedCookie reads (a Fernet token of a few dozen bytes).
MAX_SEALED_LENGTH = 400
#: The authenticator app's secret between the QR code and its first code.
TOTP_SETUP = SealedCookie("__ak_totp_setup", max_age=15 * 60)
