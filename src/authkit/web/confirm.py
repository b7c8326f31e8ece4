"""
"Are you sure?" pages, written once: GET shows the confirm_action component, POST (CSRF
and the rest of the form preamble through `post_form`) runs the action.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from ..forms import ConfirmForm
from .form_post import Posted, post_form
from .helpers import page

__all__ = ["confirm_then"]


async def confirm_then(
    request: Request,
    *,
    title: str,
    text: str,
    submit: str,
    action: str,
    cancel_url: str,
    danger: bool,
    then: Callable[[], Awaitable[Response]],
    leaves_site: bool = False,
) -> Response:
    """The confirm page for `action` (its URL); once confirmed, `then()` answers.
    `leaves_site`: the answer sends the browser elsewhere, so the form posts plainly."""

    async def render(form: ConfirmForm, errors: dict[str, str], status: int) -> Response:
        return page(
            request,
            "confirm_action",
            form=form,
            title=title,
            text=text,
            submit=submit,
            action=action,
            cancel_url=cancel_url,
            danger=danger,
            leaves_site=leaves_site,
            errors=errors,
            status_code=status,
        )

    if request.method == "GET":
        return await render(ConfirmForm(), {}, 200)

    async def confirmed(posted: Posted[ConfirmForm]) -> Response:
        return await then()

    return await post_form(request, ConfirmForm, render, confirmed)
