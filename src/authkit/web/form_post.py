"""
The preamble every form POST shares, written once: read the bounded body, take the
passwords out of the form (they are never echoed back), check CSRF, check field lengths,
run the endpoint's action, and turn a `FlowError` into the same page again with its
message beside the field (422; 429 with Retry-After when rate limited). A form that
uploads a file says how big it may be (`Upload`): a larger body is refused before it is
all read, with the reason beside the file's field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from wtforms import Form, PasswordField

from ..context import context_of
from ..errors import FieldError, FlowError, RateLimited
from .helpers import (
    MAX_FORM_BYTES,
    UPLOAD_BODY_TIMEOUT_SECONDS,
    csrf_ok,
    errors_of,
    limit_errors,
    read_form,
)
from .origin_check import served_insecurely

__all__ = ["Posted", "Render", "Upload", "post_form"]

FormT = TypeVar("FormT", bound=Form)


@dataclass(frozen=True, slots=True)
class Posted(Generic[FormT]):
    """A form that passed the preamble, and the passwords taken out of it."""

    form: FormT
    passwords: Mapping[str, str]

    def password(self, name: str = "password") -> str:
        return self.passwords.get(name, "")


@dataclass(frozen=True, slots=True)
class Upload:
    """
    A form that sends one file of at most `max_bytes`: its body may be that much larger
    than a plain form's, and take UPLOAD_BODY_TIMEOUT_SECONDS to arrive. A larger body is
    answered (413) with `too_large` beside its field, before the rest is read.
    """

    max_bytes: int
    too_large: FieldError


#: Renders the endpoint's page again: (form, {field: message}, status code).
Render = Callable[[FormT, dict[str, str], int], Awaitable[Response]]


async def post_form(
    request: Request,
    form_class: type[FormT],
    render: Render[FormT],
    action: Callable[[Posted[FormT]], Awaitable[Response]],
    *,
    upload: Upload | None = None,
) -> Response:
    """
    Run the preamble, then `action`. `render` shows the page again with messages: after
    a refused CSRF token (403), an over-long field (422), or a `FlowError` the action
    raised (422, or 429 with Retry-After); with `upload`, after a body too large (413).
    """
    ctx = context_of(request)
    if upload is None:
        data = await read_form(request)
    else:
        try:
            data = await read_form(
                request,
                max_bytes=MAX_FORM_BYTES + upload.max_bytes,
                max_files=1,
                timeout=UPLOAD_BODY_TIMEOUT_SECONDS,
            )
        except HTTPException as exc:
            if exc.status_code != 413:
                raise
            response = await render(form_class(), errors_of(ctx, upload.too_large), 413)
            # The rest of the body is still on its way and will not be read.
            response.headers["Connection"] = "close"
            return response
    try:
        return await _run(request, form_class(data), data, render, action)
    finally:
        await data.close()  # an uploaded file's spool


async def _run(
    request: Request,
    form: FormT,
    data: FormData,
    render: Render[FormT],
    action: Callable[[Posted[FormT]], Awaitable[Response]],
) -> Response:
    ctx = context_of(request)
    passwords = {f.name: str(f.data or "") for f in form if isinstance(f, PasswordField)}
    for f in form:
        if isinstance(f, PasswordField):
            f.data = ""  # never echo a password back
    if not csrf_ok(request, data):
        why = (
            "csrf_failed_insecure"
            if served_insecurely(ctx.services.settings, request)
            else "csrf_failed"
        )
        return await render(form, {"__all__": ctx.services.messages(why)}, 403)
    if errors := limit_errors(ctx, form):
        return await render(form, errors, 422)
    try:
        return await action(Posted(form, passwords))
    except FlowError as error:
        status = 429 if isinstance(error, RateLimited) else 422
        response = await render(form, errors_of(ctx, error), status)
        if isinstance(error, RateLimited):
            response.headers["Retry-After"] = str(error.retry_after)
        return response
