"""
Helpers for the throttle tests: the rate limiter's clock moved by hand, browsers that come
from their own client IP, and the steps of an attacker and of an account's owner.

The rate limiter's counter stores read `time.time()` themselves (authkit's in memory and in
the database, the `limits` library's in Redis) and so does `RateLimiter` for Redis's
Retry-After; the kit's injected clock does not reach them. `limiter_follows` points those
`time` names at the test's FakeClock, so waiting
out a minute, an hour or a day takes no time, and the codes, sessions and audit rows of the
same test move on together with the limiter's windows. Each name is patched with
`monkeypatch.setattr(..., raising=True)`: should a new `limits` release move its clock
elsewhere, the tests fail loudly instead of silently reading the wall clock.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

import httpx
import pytest
from starlette.applications import Starlette

from authkit import AuthKit

from ..conftest import FakeClock, KitFactory, Mailbox
from ..web.flow_helpers import (
    PASSWORD,
    csrf_of,
    form_token,
    open_link,
    sign_in,
    sign_out,
    sign_up,
)

__all__ = [
    "DAY",
    "HOUR",
    "LIMITER_TIME_MODULES",
    "MINUTE",
    "NEW_PASSWORD",
    "PASSWORD",
    "WRONG_PASSWORD",
    "browser_at",
    "exhaust_sign_in",
    "forgot",
    "fresh_email",
    "fresh_ip",
    "guess",
    "limiter_follows",
    "new_account",
    "reset_mail",
    "retry_after",
    "submit_reset_code",
    "submit_reset_link",
]

MINUTE, HOUR, DAY = 60, 3600, 86400
WRONG_PASSWORD = "not the right passphrase"
NEW_PASSWORD = "a brand new passphrase"
#: The mailed reset link: its token in the fragment, which a browser never sends.
RESET_LINK = re.compile(r"/reset-password\?link=1#token=([\w-]+)")

#: Every module whose `time.time()` decides what the limiter's windows hold.
LIMITER_TIME_MODULES = (
    "authkit.security.memory_counters",  # client-IP counters without Redis
    "authkit.security.database_counters",  # account counters without Redis
    "limits.aio.storage.redis.redispy",  # the shared backend (the client sends the timestamps)
    "authkit.security.ratelimit",  # Retry-After with Redis
)


def limiter_follows(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """From now until the test ends, the rate limiter reads `clock` as its wall clock."""
    fake_time = SimpleNamespace(time=lambda: clock.now.timestamp())
    for module in LIMITER_TIME_MODULES:
        monkeypatch.setattr(f"{module}.time", fake_time)


@pytest.fixture(name="kit")
async def kit_behind_a_proxy_on_the_test_clock(
    make_kit: KitFactory, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AuthKit]:
    """The `kit` of the throttling tests: the limiter follows the test clock, and client
    IPs come from X-Forwarded-For through a proxy at 127.0.0.1 (see `browser_at`)."""
    limiter_follows(clock, monkeypatch)
    kit = make_kit(trusted_proxies="127.0.0.1")
    yield kit
    await kit.aclose()


def fresh_ip() -> str:
    """
    A client address no other test (or earlier run, on a shared Redis) has used: a random
    IPv6 /64, the unit the IP limits count.
    """
    return f"2001:db8:{secrets.randbelow(0x10000):x}:{secrets.randbelow(0x10000):x}::1"


def fresh_email(name: str) -> str:
    """An address no earlier run used either (the Redis counters outlive a test)."""
    return f"{name}-{secrets.token_hex(4)}@example.com"


@asynccontextmanager
async def browser_at(app: Starlette, ip: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """
    A browser (its own cookie jar) whose requests arrive from `ip` (a fresh one by default)
    through the proxy at 127.0.0.1; the kit must be made with `trusted_proxies="127.0.0.1"`.
    """
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"x-forwarded-for": ip or fresh_ip()},
    ) as client:
        yield client


def retry_after(r: httpx.Response) -> int:
    """The seconds a 429 asks to wait."""
    assert r.status_code == 429, r.text
    return int(r.headers["retry-after"])


async def new_account(app: Starlette, kit: AuthKit, mailbox: Mailbox, email: str) -> None:
    """Sign up with PASSWORD from a machine of its own, then sign out."""
    async with browser_at(app) as owner:
        r = await sign_up(owner, kit, mailbox, email)
        assert r.status_code == 303, r.text
        await sign_out(owner)


async def guess(
    app: Starlette, email: str, password: str = WRONG_PASSWORD, *, ip: str | None = None
) -> httpx.Response:
    """One sign-in from a browser at `ip`: by default a fresh machine, as a botnet has."""
    async with browser_at(app, ip) as c:
        return await sign_in(c, email, password)


async def exhaust_sign_in(
    app: Starlette, clock: FakeClock, email: str, *, until_a_wait_over: int = HOUR
) -> tuple[int, int]:
    """
    Guess wrong passwords from ever new machines, waiting out each Retry-After, until a
    wait is longer than `until_a_wait_over` (by default: the day window refuses); returns
    (wrong passwords evaluated, that Retry-After).
    """
    failures = 0
    for _ in range(500):
        r = await guess(app, email)
        if r.status_code == 422:
            failures += 1
            continue
        wait = retry_after(r)
        if wait > until_a_wait_over:
            return failures, wait
        clock.advance(wait)
    raise AssertionError(
        f"no wait over {until_a_wait_over} s; {failures} wrong passwords evaluated"
    )


async def forgot(client: httpx.AsyncClient, email: str) -> httpx.Response:
    """Post the forgot-password form."""
    token = await form_token(client, "/auth/forgot-password")
    return await client.post("/auth/forgot-password", data={"csrf_token": token, "email": email})


async def submit_reset_code(
    client: httpx.AsyncClient, code: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    """Post the reset form with the code path (the attempt is in this browser's cookie)."""
    token = await form_token(client, "/auth/forgot-password")
    return await client.post(
        "/auth/reset-password",
        data={
            "csrf_token": token,
            "code": code,
            "password": password,
            "password_confirm": password,
        },
    )


async def submit_reset_link(
    client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    """Open a mailed reset link in this browser (its page posts the fragment's token)
    and set `password` through it."""
    r = await open_link(client, f"/auth/reset-password?link=1#token={token}")
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert page.status_code == 200, page.text
    return await client.post(
        "/auth/reset-password",
        data={
            "csrf_token": csrf_of(page.text),
            "token": token,
            "password": password,
            "password_confirm": password,
        },
    )


async def reset_mail(kit: AuthKit, mailbox: Mailbox, email: str) -> tuple[str, str]:
    """The code and the link's token of the newest mail to `email`."""
    await kit.services.mailer.drain()
    body = Mailbox.text_of(mailbox.to(email)[-1])
    code = re.search(r"\b(\d{6})\b", body)
    link = RESET_LINK.search(body)
    assert code and link, body
    return code.group(1), link.group(1)
