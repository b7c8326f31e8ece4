"""
Cross-site request forgery defence for every state-changing request: a signed
double-submit token bound to a random per-browser cookie, plus a Fetch Metadata / Origin
check that refuses requests a browser marks as coming from another site.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, MutableMapping
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from ..cookies import CSRF_COOKIE

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "CsrfGuard", "new_csrf_value"]

CSRF_HEADER = "x-csrf-token"
_SCOPE_VALUE = "authkit.csrf"
_SCOPE_NEW = "authkit.csrf_new"
_COOKIE_BYTES = 32


def new_csrf_value() -> str:
    """A fresh per-browser CSRF secret (the cookie's value)."""
    return secrets.token_urlsafe(_COOKIE_BYTES)


class CsrfGuard:
    def __init__(
        self, secret_key: str, *, allowed_origins: frozenset[str], cookie_name: str = CSRF_COOKIE
    ) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt="authkit.csrf")
        self.allowed_origins = allowed_origins
        #: The site's name for the cookie (`CookieNames.csrf`: `__Host-ak_csrf` on https).
        self.cookie_name = cookie_name

    def token(self, scope: MutableMapping[str, Any], cookies: Mapping[str, str]) -> str:
        """
        The token to put in a form. Makes the browser's cookie value on first use; the
        middleware then sets the cookie on the response.
        """
        value = scope.get(_SCOPE_VALUE)
        if value is None:
            value = cookies.get(self.cookie_name)
            if not value or len(value) > 100:
                value = new_csrf_value()
                scope[_SCOPE_NEW] = True
            scope[_SCOPE_VALUE] = value
        return str(self._serializer.dumps(value))

    @staticmethod
    def set_no_cookie(scope: MutableMapping[str, Any]) -> None:
        """This response sets no new CSRF cookie, whatever `token()` made: a cross-site
        POST (a provider's form_post) carries none of the browser's cookies, and a new
        one would replace the browser's own, breaking what it has under way."""
        scope.pop(_SCOPE_NEW, None)

    @staticmethod
    def new_cookie_value(scope: Mapping[str, Any]) -> str | None:
        """The cookie value to set on the response, if `token()` had to make one."""
        return scope.get(_SCOPE_VALUE) if scope.get(_SCOPE_NEW) else None

    def is_valid(
        self,
        *,
        submitted: str | None,
        cookies: Mapping[str, str],
        headers: Mapping[str, str],
        own_origin: str,
    ) -> bool:
        """True when the request is same-origin and carries this browser's token."""
        # Fetch Metadata: a browser says where a request comes from, and no page can forge
        # it. When present it decides; `Origin` is the fallback for browsers without it
        # (a no-referrer page makes Chromium send `Origin: null` on same-origin posts).
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None:
            if fetch_site not in ("same-origin", "none"):
                return False
        else:
            origin = headers.get("origin")
            # The request's own origin is safe to allow: a browser never lies about Host.
            if origin is not None and origin != own_origin and origin not in self.allowed_origins:
                return False
        cookie = cookies.get(self.cookie_name)
        if not cookie or not submitted or len(submitted) > 300:
            return False
        try:
            expected = self._serializer.loads(submitted)
        except BadSignature:
            return False
        return isinstance(expected, str) and hmac.compare_digest(expected, cookie)
