"""Emailed codes (SECURITY.md #32, NIST 800-63B): asking for a new code never buys more
guesses, and a code is bound to the attempt it was sent for."""

from __future__ import annotations

import httpx
import pytest

from authkit import AuthKit

from ..conftest import FakeClock, Mailbox
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, csrf_of, form_token

pytestmark = pytest.mark.anyio


async def _start(client: httpx.AsyncClient, email: str) -> str:
    token = await form_token(client, "/auth/sign-up")
    r = await client.post(
        "/auth/sign-up", data={"csrf_token": token, "email": email, "password": PASSWORD}
    )
    assert r.status_code == 303, r.text
    return csrf_of((await client.get(r.headers["location"])).text)


async def _try(client: httpx.AsyncClient, csrf: str, code: str) -> httpx.Response:
    return await client.post("/auth/sign-up/verify", data={"csrf_token": csrf, "code": code})


async def test_resend_keeps_the_count_of_wrong_tries(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """Three wrong tries, a new code, two more wrong: the attempt is dead (5 in all)."""
    csrf = await _start(client, "count@example.com")
    for _ in range(3):
        assert (await _try(client, csrf, "000001")).status_code == 422
    clock.advance(31)
    r = await client.post("/auth/sign-up/resend", data={"csrf_token": csrf})
    assert r.status_code == 200, r.text
    await kit.services.mailer.drain()
    new_code = mailbox.last_code("count@example.com")
    for _ in range(2):
        assert (
            await _try(client, csrf, "000001" if new_code != "000001" else "000002")
        ).status_code == 422
    r = await _try(client, csrf, new_code)
    assert r.status_code == 410, r.text
    assert "Start again" in r.text


async def test_a_code_only_works_for_its_own_attempt(kit: AuthKit, mailbox: Mailbox) -> None:
    """Attempt B cannot be completed with the code mailed for attempt A (same address)."""
    transport = httpx.ASGITransport(app=make_host_app(kit))
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as first,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as second,
    ):
        await _start(first, "bound@example.com")
        await kit.services.mailer.drain()
        code_a = mailbox.last_code("bound@example.com")
        csrf_b = await _start(second, "bound@example.com")
        await kit.services.mailer.drain()
        code_b = mailbox.last_code("bound@example.com")
        if code_a == code_b:  # one in a million: draw attempt B again
            csrf_b = await _start(second, "bound@example.com")
            await kit.services.mailer.drain()
            code_b = mailbox.last_code("bound@example.com")
        assert code_a != code_b
        r = await _try(second, csrf_b, code_a)
        assert r.status_code == 422, r.text
        assert (await _try(second, csrf_b, code_b)).status_code == 303
