"""
Error pages: a database outage becomes a 503 page, an HTTP error its own short page,
anything unexpected a generic 500 page. Never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..context import context_of
from ..errors import NotFound, StoreError
from .helpers import SECURITY_HEADERS, is_htmx

__all__ = ["exception_handlers", "simple_error_page"]

logger = logging.getLogger("authkit")

_TITLES: Mapping[int, str] = {
    400: "Bad request",
    403: "Forbidden",
    404: "Page not found",
    405: "Method not allowed",
    413: "Request too large",
    408: "Request timeout",
    415: "Unsupported form",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Service unavailable",
}


def simple_error_page(status_code: int, message: str) -> HTMLResponse:
    """A self-contained page (no template, no database): safe even when all else fails."""
    from html import escape

    title = _TITLES.get(status_code, "Error")
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
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
    message = exc.detail if exc.status_code < 500 else ""
    response = simple_error_page(exc.status_code, message)
    if is_htmx(request) and exc.status_code < 500:
        # htmx swaps error responses too: a 404 from a confirm dialog for an address
        # removed in another tab would put a bare error page inside the profile. The
        # page is stale, so it is loaded afresh instead.
        response.headers["HX-Refresh"] = "true"
    return response


async def _store_error(request: Request, exc: Exception) -> Response:
    logger.error("database unavailable: %s", exc)
    return simple_error_page(503, context_of(request).services.messages("unavailable"))


async def _not_found(request: Request, exc: Exception) -> Response:
    return await _http_error(request, HTTPException(404))


async def _server_error(request: Request, exc: Exception) -> Response:
    # %r: a decoded path may hold CR/LF, which must not forge log lines (ASVS 16.4.1).
    logger.exception("unexpected error in %s %r", request.method, request.url.path)
    return simple_error_page(500, context_of(request).services.messages("server_error"))


def exception_handlers() -> dict[Any, Any]:
    return {
        HTTPException: _http_error,
        NotFound: _not_found,
        StoreError: _store_error,
        500: _server_error,
    }
