"""`authkit webhooks secret | send-test | deliver | log | replay`, against the example
receiver on 127.0.0.1 and a real database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from authkit import AuthKit
from authkit.cli import main
from authkit.webhooks import load_endpoints, new_secret

from ..conftest import free_port, serve
from ..examples import example

receiver_app = example("webhook_receiver").create_app

SECRET = new_secret()


@pytest.fixture
def received() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    events: list[dict[str, Any]] = []
    url, stop = serve(receiver_app(SECRET, lambda i, e: events.append(e)))
    yield f"{url}/webhooks", events
    stop()


def test_secret_prints_one_the_setting_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["webhooks", "secret"]) == 0
    secret = capsys.readouterr().out.strip()
    load_endpoints([{"url": "https://h.example.com", "secret": secret}])


def test_send_test_signs_with_the_given_secret(
    received: tuple[str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, events = received
    assert main(["webhooks", "send-test", url, "--secret", SECRET]) == 0
    assert capsys.readouterr().out.startswith(f"authkit: {url} took the test event (204, ")
    assert [e["type"] for e in events] == ["webhook.test"]
    # Signed with another secret, the receiver refuses it: the command says so.
    assert main(["webhooks", "send-test", url, "--secret", new_secret()]) == 1
    assert "did not take the test event: answered 400" in capsys.readouterr().out


def test_send_test_to_nothing_or_an_unknown_endpoint_says_why(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/webhooks"
    assert main(["webhooks", "send-test", closed, "--secret", SECRET]) == 1
    assert "did not take the test event: ConnectError" in capsys.readouterr().out
    assert main(["webhooks", "send-test", closed]) == 2
    assert "is not in AUTHKIT_WEBHOOKS: give its secret with --secret" in capsys.readouterr().err
    assert main(["webhooks", "send-test", "http://h.example.com/x", "--secret", SECRET]) == 2
    assert "must use https" in capsys.readouterr().err


def test_deliver_log_and_replay(
    cli_env: dict[str, str],
    received: tuple[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, events = received
    monkeypatch.setenv("AUTHKIT_WEBHOOKS", json.dumps([{"url": url, "secret": SECRET}]))
    assert main(["db", "upgrade"]) == 0
    assert main(["webhooks", "log"]) == 0
    assert "no webhook events yet" in capsys.readouterr().out

    async def write_one() -> None:
        # A change whose background delivery never ran (the process stopped first).
        kit = AuthKit.from_env()
        await kit.ensure_started()
        kit.services.webhooks.send_soon = lambda: None  # type: ignore[method-assign]
        await kit.users.create(email="ada@example.com", password="a fine long passphrase")
        await kit.aclose()

    asyncio.run(write_one())
    assert events == []
    assert main(["webhooks", "deliver"]) == 0
    assert capsys.readouterr().out.strip() == "authkit: 1 events delivered."
    assert [e["type"] for e in events] == ["user.created"]
    assert main(["webhooks", "log", "--state", "delivered"]) == 0
    line = capsys.readouterr().out.strip()
    assert "delivered  204   1x  user.created" in line and url in line, line
    seq = line.split()[0]
    assert main(["webhooks", "replay", seq]) == 0
    assert f"event {seq} sent again as" in capsys.readouterr().out
    assert main(["webhooks", "replay", "999999"]) == 1
    assert "there is no webhook event 999999" in capsys.readouterr().out
