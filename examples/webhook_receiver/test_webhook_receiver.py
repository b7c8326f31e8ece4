"""The receiver example: it takes what the secret signed, once, and nothing else."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook
from starlette.testclient import TestClient

from webhook_receiver import MAX_BODY_BYTES, create_app

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def signed(body: str, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    when = datetime.fromtimestamp(int(at if at is not None else time.time()), UTC)
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign("msg_1", when, body),
    }


def test_a_signed_event_is_taken_once() -> None:
    got: list[tuple[str, dict[str, Any]]] = []
    client = TestClient(create_app(SECRET, lambda i, e: got.append((i, e))))
    body = json.dumps({"type": "user.created", "timestamp": 0, "data": {"id": "user_1"}})
    assert client.post("/webhooks", content=body, headers=signed(body)).status_code == 204
    assert client.post("/webhooks", content=body, headers=signed(body)).status_code == 204
    assert got == [("msg_1", json.loads(body))]


def test_a_forged_altered_or_old_event_is_refused() -> None:
    got: list[Any] = []
    client = TestClient(create_app(SECRET, lambda i, e: got.append(e)))
    body = '{"type":"user.deleted","timestamp":0,"data":{"id":"user_1"}}'
    other = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
    for headers, sent in [
        (signed(body, secret=other), body),
        (signed(body), body.replace("user_1", "user_2")),
        (signed(body, at=time.time() - 600), body),
        ({}, body),
    ]:
        assert client.post("/webhooks", content=sent, headers=headers).status_code == 400
    big = "x" * (MAX_BODY_BYTES + 1)
    assert client.post("/webhooks", content=big, headers=signed(big)).status_code == 413
    assert got == []
