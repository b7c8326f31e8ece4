"""
A webhook receiver for authkit's events: a small Starlette app that verifies each
delivery with the `standardwebhooks` package (the Standard Webhooks reference library)
before trusting a byte of it, ignores a delivery it has seen (authkit delivers at least
once, so the same `webhook-id` can come again), and answers 204 quickly: do slow work
after answering, or authkit counts a timeout and retries.

Run it with `WEBHOOK_SECRET=whsec_... uvicorn --factory webhook_receiver:create_app`
from this folder, and point authkit at it:
`AUTHKIT_WEBHOOKS='[{"url": "http://127.0.0.1:8000/webhooks", "secret": "whsec_..."}]'`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["MAX_BODY_BYTES", "create_app"]

logger = logging.getLogger("webhook_receiver")
#: authkit's events are a few KB; refuse anything far larger unread.
MAX_BODY_BYTES = 256 * 1024
Handler = Callable[[str, dict[str, Any]], None]


def create_app(secret: str | None = None, on_event: Handler | None = None) -> Starlette:
    """The receiver; `on_event(webhook_id, event)` gets each verified event once."""
    webhook = Webhook(secret or os.environ["WEBHOOK_SECRET"])
    seen: set[str] = set()  # a real site keeps these in its database

    def log_event(webhook_id: str, event: dict[str, Any]) -> None:
        logger.info("%s %s about %s", webhook_id, event["type"], event["data"].get("id"))

    handle = on_event or log_event

    async def receive(request: Request) -> Response:
        if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
            return Response(status_code=413)
        body = await request.body()
        try:
            # Checks the HMAC over id, timestamp and body, and that the timestamp is
            # within 5 minutes (a replayed old delivery fails here).
            event = webhook.verify(body, dict(request.headers))
        except WebhookVerificationError:
            return Response(status_code=400)
        webhook_id = request.headers["webhook-id"]
        if webhook_id not in seen:
            seen.add(webhook_id)
            handle(webhook_id, event)
        return Response(status_code=204)

    return Starlette(routes=[Route("/webhooks", receive, methods=["POST"])])
