"""
Telling the operator when requests do not arrive where `AUTHKIT_BASE_URL` says the site
is: every mailed link, redirect and cookie comes from that setting, never from the
request, so a mismatch shows as reset links pointing at the wrong port, or (an https
base URL served over plain http) a browser that drops authkit's Secure cookies and every
form answering 403. One warning each per process, naming both; and the 403 page says
why in a sentence.
"""

from __future__ import annotations

import logging

from starlette.requests import HTTPConnection
from starlette.types import Scope

from ..config import Settings
from ..context import header

__all__ = ["OriginCheck", "served_insecurely"]

logger = logging.getLogger("authkit.setup")


def served_insecurely(settings: Settings, request: HTTPConnection) -> bool:
    """An https base URL, and this request over plain http."""
    return settings.is_https and request.url.scheme in ("http", "ws")


class OriginCheck:
    """Warns once per process about each kind of mismatch."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._warned_host = False
        self._warned_scheme = False

    def look(self, scope: Scope) -> None:
        """Look at a request to the sub-app (its pages make the links and forms)."""
        if self._warned_host and self._warned_scheme:
            return
        base = self._settings.base_origin
        scheme = str(scope.get("scheme", "http"))
        netloc = (header(scope, b"host") or b"").decode("latin-1")
        seen = f"{scheme}://{netloc}"
        insecure = self._settings.is_https and scheme in ("http", "ws")
        if not self._warned_scheme and insecure:
            self._warned_scheme = True
            logger.warning(
                "AUTHKIT_BASE_URL is %s but this request came over plain http (%s): the "
                "browser drops authkit's Secure cookies, so every form will answer 403. "
                "Serve the site over https (behind a proxy: send X-Forwarded-Proto and list "
                "it in AUTHKIT_TRUSTED_PROXIES), or use an http:// base URL in development.",
                base,
                seen,
            )
        base_netloc = base.split("://", 1)[1]
        if not self._warned_host and netloc and netloc != base_netloc:
            self._warned_host = True
            logger.warning(
                "A request came to %s but AUTHKIT_BASE_URL is %s: mailed links, redirects "
                "and the token issuer all use AUTHKIT_BASE_URL. Set it to the address "
                "visitors use.",
                seen,
                base,
            )
