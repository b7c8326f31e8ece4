"""
Argon2 saturation (SECURITY.md load test L11; OWASP Password Storage: cap concurrent
hashing): 50 sign-ins posted in parallel over 50 connections to a real uvicorn server
never run more Argon2 computations at once than the hasher's limit (each one holds
`memory_cost` KiB, so the limit bounds the memory), and while every hashing slot is taken
and the rest of the storm waits for one, requests that need no hash still answer.

Every Argon2 call (right password, wrong password, unknown address: each costs one) is
counted, and the first ones are held at a gate until the test has looked: so "the storm is
still going" is a fact the test sees, never a guess from timing. The latency of a cheap
route under a real-cost storm is measured by `bench/signin_storm.py`, not asserted here.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import argon2
import httpx
import pytest

from authkit import AuthKit
from authkit.cookies import SESSION_COOKIE
from authkit.flows.admin import create_user
from authkit.security.csrf import CSRF_COOKIE, new_csrf_value

from ..conftest import KitFactory
from ..web.flow_helpers import PASSWORD, sign_in
from .live_server import live_server

pytestmark = pytest.mark.anyio

SIGN_INS = 50
RIGHT, WRONG, UNKNOWN = 30, 10, 10
#: A wait this long means something is broken, never a slow machine.
DEADLINE_SECONDS = 60.0


class HashProbe:
    """Counts Argon2 calls running at once; holds them at `gate` until it opens."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.running = 0
        self.peak = 0
        self.started = 0
        self.finished = 0

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                self.started += 1
                self.running += 1
                self.peak = max(self.peak, self.running)
            try:
                assert self.gate.wait(DEADLINE_SECONDS), "the gate was never opened"
                return original(*args, **kwargs)
            finally:
                with self.lock:
                    self.running -= 1
                    self.finished += 1

        return counted

    async def wait_for_running(self, count: int) -> None:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while self.running < count:
            assert time.monotonic() < deadline, f"only {self.running} hashes ever ran at once"
            await anyio.sleep(0.005)


@pytest.mark.parametrize("concurrency", [0, 3], ids=["one-per-cpu", "three"])
async def test_fifty_parallel_sign_ins_never_hash_more_than_the_limit_at_once(
    make_kit: KitFactory, monkeypatch: pytest.MonkeyPatch, concurrency: int
) -> None:
    """L11: peak concurrent Argon2 calls == the limit; cheap requests answer mid-storm."""
    # Fifty machines: distinct client addresses through a trusted proxy, so the per-IP
    # sign-in limit (30/minute) is not what stops the storm.
    kit = make_kit(password_hash_concurrency=concurrency, trusted_proxies="127.0.0.1")
    limit = kit.services.hasher.concurrency
    assert limit == (concurrency or max(os.cpu_count() or 1, 1))
    setup = make_kit()
    await setup.ensure_started()
    for n in range(RIGHT + WRONG):
        await create_user(setup.services, email=f"user{n}@example.com", password=PASSWORD)
    await setup.aclose()
    async with live_server(kit) as url:
        await storm(kit, url, limit, monkeypatch)


async def storm(kit: AuthKit, url: str, limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # One pool of 50+ connections: each sign-in of the storm on a connection of its own.
    crowd = httpx.AsyncClient(
        base_url=url,
        timeout=DEADLINE_SECONDS,
        limits=httpx.Limits(max_connections=SIGN_INS + 10, max_keepalive_connections=0),
    )
    async with (
        crowd,
        httpx.AsyncClient(base_url=url) as signed_in,
        httpx.AsyncClient(base_url=url) as anonymous,
    ):
        assert (await sign_in(signed_in, "user0@example.com")).status_code == 303
        assert SESSION_COOKIE in signed_in.cookies

        probe = HashProbe()
        for name in ("hash", "verify"):
            original = getattr(argon2.PasswordHasher, name)
            monkeypatch.setattr(argon2.PasswordHasher, name, probe.wrap(original))
        csrf = new_csrf_value()
        csrf_token = kit.csrf.token({}, {CSRF_COOKIE: csrf})
        results: dict[int, int] = {}

        async def post_sign_in(n: int) -> None:
            if n < RIGHT:
                email, password = f"user{n}@example.com", PASSWORD
            elif n < RIGHT + WRONG:
                email, password = f"user{n}@example.com", "not the password at all"
            else:
                email, password = f"nobody{n}@example.com", PASSWORD
            r = await crowd.post(
                "/auth/sign-in",
                data={"csrf_token": csrf_token, "email": email, "password": password},
                # The cookie header is set whole: nothing from the jar rides along.
                headers={
                    "cookie": f"{CSRF_COOKIE}={csrf}",
                    "x-forwarded-for": f"198.51.100.{n + 1}",
                },
            )
            results[n] = r.status_code

        try:
            async with anyio.create_task_group() as tg:
                for n in range(SIGN_INS):
                    tg.start_soon(post_sign_in, n)
                await probe.wait_for_running(limit)
                # Mid-storm: every slot taken, every other sign-in waiting for one.
                cheap = {
                    "host page": await signed_in.get("/"),
                    "protected API": await signed_in.get(
                        "/api/me", headers={"accept": "application/json"}
                    ),
                    "JWKS": await signed_in.get("/auth/.well-known/jwks.json"),
                    "sign-in form": await anonymous.get("/auth/sign-in"),
                }
                assert {name: r.status_code for name, r in cheap.items()} == dict.fromkeys(
                    cheap, 200
                )
                assert cheap["host page"].json()["is_signed_in"] is True
                assert (probe.running, probe.finished, len(results)) == (limit, 0, 0)
                probe.gate.set()
        finally:
            probe.gate.set()

    assert probe.peak == limit, (probe.peak, limit)
    assert probe.started == probe.finished == SIGN_INS
    outcomes = sorted(results.values())
    assert outcomes == [303] * RIGHT + [422] * (WRONG + UNKNOWN), outcomes
