"""
Error pages: a database outage becomes a 503 page, an HTTP error its own short page,
anything unexpected a generic 500 page. Never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..context import context_of
from ..errors import NotFound, StoreError
from ..i18n.locales import current_locale, html_lang, text_direction
from ..messages import Messages
from .helpers import SECURITY_HEADERS, is_htmx

__all__ = ["exception_handlers", "simple_error_page"]

logger = logging.getLogger("authkit")

#: The statuses with a title and a sentence of their own (`error_title_404`, ...).
_STATUSES = frozenset({400, 403, 404, 405, 408, 413, 415, 429, 500, 503})
_TEXTS = {500: "server_error", 503: "unavailable"}
#: Outside any kit (an error before the request reached one): the shipped sentences.
_PLAIN = Messages()


def simple_error_page(
    status_code: int, message: str | None = None, *, t: Messages | None = None
) -> HTMLResponse:
    """
    A self-contained page (no template, no database): safe even when all else fails. Its
    title and, without `message`, its sentence are the status's, in the request's language.
    """
    from html import escape

    t = t or _PLAIN
    known = status_code in _STATUSES
    title = t(f"error_title_{status_code}" if known else "error_title_other")
    if message is None:
        message = t(_TEXTS.get(status_code, f"error_text_{status_code}")) if known else ""
    locale = current_locale()
    html = (
        f'<!doctype html><html lang="{html_lang(locale)}" dir="{text_direction(locale)}">'
        '<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head><body><main>"
        f"<h1>{escape(title)}</h1><p>{escape(message)}</p></main></body></html>"
    )
    headers = {**SECURITY_HEADERS}
    if status_code == 503:
        headers["Retry-After"] = "5"
    return HTMLResponse(html, status_code=status_code, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = simple_error_page(exc.status_code, t=_messages_of(request))
    if is_htmx(request) and exc.status_code < 500:
        # htmx swaps error responses too: a 404 from a confirm dialog for an address
        # removed in another tab would put a bare error page inside the profile. The
        # page is stale, so it is loaded afresh instead.
        response.headers["HX-Refresh"] = "true"
    return response


def _messages_of(request: Request) -> Messages | None:
    try:
        return context_of(request).services.messages
    except RuntimeError:  # outside the kit's middleware
        return None


async def _store_error(request: Request, exc: Exception) -> Response:
    logger.error("database unavailable: %s", exc)
    t = context_of(request).services.messages
    return simple_error_page(503, t("unavailable"), t=t)


async def _not_found(request: Request, exc: Exception) -> Response:
    return await _http_error(request, HTTPException(404))


async def _server_error(request: Request, exc: Exception) -> Response:
    # %r: a decoded path may hold CR/LF, which must not forge log lines (ASVS 16.4.1).
    logger.exception("unexpected error in %s %r", request.method, request.url.path)
    t = context_of(request).services.messages
    return simple_error_page(500, t("server_error"), t=t)


def exception_handlers() -> dict[Any, Any]:
    return {
        HTTPException: _http_error,
        NotFound: _not_found,
        StoreError: _store_error,
        500: _server_error,
    }
