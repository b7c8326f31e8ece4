"""
The sub-app's JSON endpoints, written once: POST only, CSRF-checked by the
`X-CSRF-Token` header (and Fetch Metadata), a capped body that must be a JSON object,
and every refusal answered as `{"error": sentence}` (and `field` when it has one) with
`Cache-Control: no-store`, never a page and never a stack trace.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..context import context_of
from ..errors import AttemptGone, FlowError, NotFound, RateLimited
from .helpers import csrf_ok, read_body
from .origin_check import served_insecurely

__all__ = ["NO_STORE", "JsonHandler", "json_endpoint", "json_error"]

NO_STORE = {"Cache-Control": "no-store"}
#: Enough for any JSON these endpoints take (a passkey's attestation, 8 KB of metadata).
MAX_JSON_BYTES = 64 * 1024

JsonHandler = Callable[[Request, Mapping[str, Any]], Awaitable[Response]]


def json_error(
    request: Request,
    code: str,
    status: int = 400,
    params: Mapping[str, object] | None = None,
    field: str | None = None,
) -> JSONResponse:
    """A refusal as the scripts read it: the sentence for `code`."""
    body: dict[str, str] = {"error": context_of(request).services.messages(code, **(params or {}))}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status, headers=NO_STORE)


def json_endpoint(
    handler: JsonHandler, *, malformed: str, gone: str = "attempt_expired"
) -> Callable[[Request], Awaitable[Response]]:
    """`handler` behind the checks; `malformed` is the message for a body that is not a
    JSON object, `gone` the one for an attempt or record that is no longer there."""

    async def endpoint(request: Request) -> Response:
        if not csrf_ok(request, FormData()):
            settings = context_of(request).services.settings
            why = "csrf_failed_insecure" if served_insecurely(settings, request) else "csrf_failed"
            return json_error(request, why, 403)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return json_error(request, malformed, 415)
        body = await read_body(request, max_bytes=MAX_JSON_BYTES)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
            return json_error(request, malformed)
        if not isinstance(data, dict):
            return json_error(request, malformed)
        try:
            return await handler(request, data)
        except RateLimited as limited:
            response = json_error(request, limited.code, 429, limited.params)
            response.headers["Retry-After"] = str(limited.retry_after)
            return response
        except (AttemptGone, NotFound):
            return json_error(request, gone)
        except FlowError as error:
            return json_error(request, error.code, params=error.params, field=error.field)

    return endpoint
