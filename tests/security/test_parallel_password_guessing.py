"""
Parallel password guessing against one account (SECURITY.md ★#19, load test L3; the
shape of Keycloak CVE-2024-4629): a burst of wrong passwords from many addresses must not
get more passwords checked than the per-account rule allows ("5/minute" by default).
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from authkit import AuthKit
from authkit.flows.admin import create_user

from ..conftest import KitFactory
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, csrf_of

pytestmark = pytest.mark.anyio

EMAIL = "victim@example.com"
GUESSES = 200
ADDRESSES = 50
#: The default per-account rule's first window: "5/minute".
ACCOUNT_LIMIT = 5


async def test_parallel_wrong_passwords_from_many_ips_check_at_most_the_limit(
    make_kit: KitFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """L3 / #19: 200 parallel wrong passwords over 50 IPs → ≤ 5 checked against the hash."""
    # Behind a trusted proxy, so each guess really comes from one of 50 addresses and the
    # per-IP rule (30/minute) never trips: only the per-account rule stands in the way.
    kit = make_kit(trusted_proxies="127.0.0.1")
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    checked: list[str] = []
    real_verify = kit.services.hasher.verify

    async def counting_verify(password_hash: str, password: str) -> bool:
        checked.append(password)
        return await real_verify(password_hash, password)

    monkeypatch.setattr(kit.services.hasher, "verify", counting_verify)
    app = make_host_app(kit)
    statuses: list[int] = []
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"x-forwarded-for": f"198.51.100.{n + 1}"},
        )
        for n in range(ADDRESSES)
    ]
    try:
        tokens = [csrf_of((await c.get("/auth/sign-in")).text) for c in clients]

        async def guess(n: int) -> None:
            c = clients[n % ADDRESSES]
            data: dict[str, Any] = {
                "csrf_token": tokens[n % ADDRESSES],
                "email": EMAIL,
                "password": f"wrong guess number {n}",
            }
            r = await c.post("/auth/sign-in", data=data)
            statuses.append(r.status_code)

        async with anyio.create_task_group() as tg:
            for n in range(GUESSES):
                tg.start_soon(guess, n)
    finally:
        for c in clients:
            await c.aclose()
        await kit.aclose()
    assert 500 not in statuses
    assert set(statuses) <= {422, 429}, sorted(set(statuses))
    assert len(checked) <= ACCOUNT_LIMIT, (
        f"{len(checked)} of {GUESSES} parallel guesses were checked against the password hash"
    )
    assert statuses.count(422) <= ACCOUNT_LIMIT, f"{statuses.count(422)} answered 'incorrect'"


async def test_sequential_guesses_stop_at_the_limit_as_a_control(
    make_kit: KitFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control for L3: one at a time, exactly 5 guesses are checked, then 429."""
    kit: AuthKit = make_kit()
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    checked: list[str] = []
    real_verify = kit.services.hasher.verify

    async def counting_verify(password_hash: str, password: str) -> bool:
        checked.append(password)
        return await real_verify(password_hash, password)

    monkeypatch.setattr(kit.services.hasher, "verify", counting_verify)
    transport = httpx.ASGITransport(app=make_host_app(kit))
    statuses = []
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            token = csrf_of((await c.get("/auth/sign-in")).text)
            for n in range(8):
                data = {"csrf_token": token, "email": EMAIL, "password": f"wrong guess {n}"}
                statuses.append((await c.post("/auth/sign-in", data=data)).status_code)
    finally:
        await kit.aclose()
    assert statuses == [422] * ACCOUNT_LIMIT + [429] * 3, statuses
    assert len(checked) == ACCOUNT_LIMIT
