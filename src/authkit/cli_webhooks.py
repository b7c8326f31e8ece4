"""
`authkit webhooks ...`: make a signing secret, send a test event to an endpoint, send
what is due now (for cron), read the delivery log and replay an event from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx

from .app import AuthKit
from .config import Settings
from .errors import ConfigError
from .ids import new_id
from .webhooks import load_endpoints, new_secret, post_event
from .webhooks.outbox import TIMEOUT

__all__ = ["add_commands"]

WithKit = Callable[[Callable[[AuthKit], Coroutine[Any, Any, int]]], int]
STATES = ("pending", "delivered", "failed")


def add_commands(commands: Any, with_kit: WithKit) -> None:
    """Add `webhooks` and its commands to the `authkit` parser's `commands`."""
    webhooks = commands.add_parser("webhooks", help="webhook endpoints and deliveries")
    sub = webhooks.add_subparsers(title="webhooks")
    sub.add_parser("secret", help="print a new whsec_ signing secret").set_defaults(
        run=lambda args: _secret()
    )
    test = sub.add_parser("send-test", help="send a signed test event to an endpoint")
    test.add_argument("url")
    test.add_argument(
        "--secret",
        help="the whsec_ secret to sign with (default: the endpoint's, from AUTHKIT_WEBHOOKS)",
    )
    test.set_defaults(run=_send_test)
    sub.add_parser(
        "deliver", help="send the events that are due now (run it from cron if you like)"
    ).set_defaults(run=lambda args: with_kit(_deliver))
    log = sub.add_parser("log", help="the delivery log, newest first")
    log.add_argument("--limit", type=int, default=20)
    log.add_argument("--state", choices=STATES)
    log.set_defaults(run=lambda args: with_kit(lambda kit: _log(kit, args)))
    replay = sub.add_parser("replay", help="send an event of the log again")
    replay.add_argument("seq", type=int, help="the event's number in `authkit webhooks log`")
    replay.set_defaults(run=lambda args: with_kit(lambda kit: _replay(kit, args.seq)))


def _secret() -> int:
    print(new_secret())
    return 0


def _send_test(args: argparse.Namespace) -> int:
    url = args.url
    secret = args.secret
    if secret is None:
        configured = {e.url: e for e in load_endpoints(Settings.from_env().webhooks)}
        if url not in configured:
            raise ConfigError(
                f"{url} is not in AUTHKIT_WEBHOOKS: give its secret with --secret whsec_..."
            )
        secret = configured[url].secret
    else:
        load_endpoints([{"url": url, "secret": secret}])  # the same checks as the setting
    body = json.dumps(
        {
            "type": "webhook.test",
            "timestamp": int(time.time() * 1000),
            "data": {"object": "test", "message": "A test event from authkit."},
        },
        separators=(",", ":"),
    )

    async def send() -> tuple[int | None, str]:
        async with httpx.AsyncClient(
            timeout=TIMEOUT, follow_redirects=False, trust_env=False
        ) as client:
            return await post_event(client, url, secret, new_id("msg"), body)

    started = time.perf_counter()
    status, error = asyncio.run(send())
    took = int((time.perf_counter() - started) * 1000)
    if status is not None and 200 <= status < 300:
        print(f"authkit: {url} took the test event ({status}, {took} ms).")
        return 0
    print(f"authkit: {url} did not take the test event: {error} ({took} ms).")
    return 1


async def _deliver(kit: AuthKit) -> int:
    if not kit.services.webhooks.enabled:
        print("authkit: no webhook endpoints: set AUTHKIT_WEBHOOKS.")
        return 0
    sent = await kit.services.webhooks.deliver_due()
    print(f"authkit: {sent} events delivered.")
    return 0


async def _log(kit: AuthKit, args: argparse.Namespace) -> int:
    rows = await kit.services.webhooks.log(limit=args.limit, state=args.state)
    if not rows:
        print("authkit: no webhook events yet.")
        return 0
    for d in rows:
        status = d.last_status if d.last_status is not None else "-"
        note = f" {d.last_error}" if d.last_error else ""
        replayed = f" (replay of {d.replay_of})" if d.replay_of else ""
        print(
            f"{d.seq:>8}  {d.created_at:%Y-%m-%d %H:%M:%S}  {d.state:<9} {status!s:>4}  "
            f"{d.attempts:>2}x  {d.event_type:<16} {d.endpoint_url}{replayed}{note}"
        )
    return 0


async def _replay(kit: AuthKit, seq: int) -> int:
    new = await kit.services.webhooks.replay(seq)
    if new is None:
        print(f"authkit: there is no webhook event {seq}.")
        return 1
    await kit.services.webhooks.deliver_due()
    delivery = await kit.services.webhooks.get(new)
    state = delivery.state if delivery else "pending"
    print(f"authkit: event {seq} sent again as {new}: {state}.")
    return 0
