"""
What a request needs from authkit, carried in the ASGI scope by the middleware: the
services the flows use, the CSRF guard, the theme and the trusted proxies. Never the
whole `AuthKit`, so no module below `app.py` has to import it. Also the request's
cookies and who is asking (client IP, user agent), each read once per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.types import Scope

from .audit import RequestMeta
from .cookies import RequestCookies
from .security.client_ip import TrustedProxies
from .security.csrf import CsrfGuard
from .services import Services
from .theming import Theme

__all__ = [
    "CONTEXT_KEY",
    "KitContext",
    "context_of",
    "header",
    "request_cookies",
    "request_meta",
]

CONTEXT_KEY = "authkit.context"
COOKIES_KEY = "authkit.cookies"


@dataclass(eq=False, kw_only=True)
class KitContext:
    """One per AuthKit; the middleware puts it in every request's scope."""

    services: Services
    csrf: CsrfGuard
    theme: Theme
    trusted_proxies: TrustedProxies

    @property
    def mount_path(self) -> str:
        return self.services.mount_path


def context_of(conn: HTTPConnection | Scope) -> KitContext:
    """
    The authkit context of a request (or of its scope).

    Raises:
        RuntimeError: the authkit middleware is not installed (call `authkit.install(app)`).
    """
    scope = conn.scope if isinstance(conn, HTTPConnection) else conn
    try:
        context: KitContext = scope[CONTEXT_KEY]
    except KeyError:
        raise RuntimeError(
            "authkit's middleware is not installed: call authkit.install(app)"
        ) from None
    return context


def request_cookies(scope: Scope) -> Mapping[str, str]:
    """The request's cookies as `parse_cookies` reads them (a name sent twice counts as
    absent), each read on first use and kept for the rest of the request
    (`RequestCookies`: whatever else the header holds, one name costs a bounded read)."""
    cookies: Mapping[str, str] | None = scope.get(COOKIES_KEY)
    if cookies is None:
        cookies = scope[COOKIES_KEY] = RequestCookies(header(scope, b"cookie"))
    return cookies


def request_meta(context: KitContext, scope: Scope) -> RequestMeta:
    """Who is asking, for the session row and the audit log: the client IP (through
    trusted proxies only) and the user agent."""
    client = scope.get("client")
    forwarded = header(scope, b"x-forwarded-for")
    return RequestMeta(
        ip_address=context.trusted_proxies.client_ip(
            client[0] if client else "", forwarded.decode("latin-1") if forwarded else None
        ),
        user_agent=(header(scope, b"user-agent") or b"")[:512].decode("latin-1"),
    )


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of the header `name` (lower-case bytes), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None
