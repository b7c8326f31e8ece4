"""
Every authentication event leaves an audit row (table `audit_events`) with its UTC time,
the user, the client IP as far as it can be trusted, and what happened: sign-up, sign-in
success and failure, sign-out and password reset (SECURITY.md #88).

The IP is `X-Forwarded-For` only behind a configured trusted proxy, and then its rightmost
untrusted hop, never the client's own claim. The table has no separate method or outcome
column: the event name says both (`sign_in` / `sign_in.failed`, password being the only
sign-in method today), `detail.reason` says why a sign-in failed and `detail.method` how a
reset was proven (code or link).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from authkit import AuthKit
from authkit.store.models import AuditEventRow

from ..conftest import FakeClock, KitFactory, Mailbox
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, csrf_of, sign_in, sign_out, start_sign_up
from .throttle_helpers import (
    NEW_PASSWORD,
    WRONG_PASSWORD,
    forgot,
    reset_mail,
    submit_reset_code,
)

pytestmark = pytest.mark.anyio

EMAIL = "audited@example.com"
USER_AGENT = "audit-test/1.0"


@pytest.fixture(
    params=[
        # Behind our proxy: the rightmost hop it saw; the client's own claim on the left
        # of the header is ignored.
        ("127.0.0.1", "198.51.100.66, 203.0.113.7", "203.0.113.7"),
        # No proxy configured: the header is the client's word, and ignored.
        (None, "203.0.113.7", "127.0.0.1"),
    ],
    ids=["trusted-proxy", "no-proxy"],
)
async def audited(
    request: pytest.FixtureRequest, make_kit: KitFactory
) -> AsyncIterator[tuple[AuthKit, httpx.AsyncClient, str]]:
    """A kit, a browser sending X-Forwarded-For, and the IP the audit rows must hold."""
    proxies, forwarded_for, expected_ip = request.param
    kit = make_kit(**({"trusted_proxies": proxies} if proxies else {}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_host_app(kit)),
        base_url="http://testserver",
        headers={"x-forwarded-for": forwarded_for, "user-agent": USER_AGENT},
    ) as client:
        yield kit, client, expected_ip
    await kit.aclose()


async def test_auth_events_record_time_user_ip_and_outcome(
    audited: tuple[AuthKit, httpx.AsyncClient, str], clock: FakeClock, mailbox: Mailbox
) -> None:
    """Sign-up, sign-in (failed and not), sign-out and reset: one row each, fully filled."""
    kit, client, expected_ip = audited
    # (event, when, whether it names the user, detail it must hold), in order
    expected: list[tuple[str, datetime, bool, dict[str, Any]]] = []

    def step(event: str, *, has_user: bool, **detail: Any) -> None:
        expected.append((event, clock.now, has_user, detail))
        clock.advance(7)

    page = await start_sign_up(client, EMAIL)
    step("sign_up.started", has_user=False)  # no user exists before the code is entered
    await kit.services.mailer.drain()
    r = await client.post(
        "/auth/sign-up/verify",
        data={"csrf_token": csrf_of(page.text), "code": mailbox.last_code(EMAIL)},
    )
    assert r.status_code == 303, r.text
    step("sign_up.completed", has_user=True, method="code")
    await sign_out(client)
    step("sign_out", has_user=True)
    assert (await sign_in(client, EMAIL, WRONG_PASSWORD)).status_code == 422
    step("sign_in.failed", has_user=True, method="password", reason="wrong_password")
    assert (await sign_in(client, "nobody@example.com", WRONG_PASSWORD)).status_code == 422
    step("sign_in.failed", has_user=False, method="password", reason="unknown_email")
    assert (await sign_in(client, EMAIL, PASSWORD)).status_code == 303
    step("sign_in", has_user=True, method="password")
    await sign_out(client)
    step("sign_out", has_user=True)
    assert (await forgot(client, EMAIL)).status_code == 303
    step("password_reset.started", has_user=True)
    code, _ = await reset_mail(kit, mailbox, EMAIL)
    assert (await submit_reset_code(client, code)).status_code == 303
    step("password.reset", has_user=True, method="code")
    assert (await sign_in(client, EMAIL, NEW_PASSWORD)).status_code == 303
    step("sign_in", has_user=True, method="password")

    async with kit.services.db.session() as s:
        rows = (await s.exec(select(AuditEventRow).order_by(col(AuditEventRow.at)))).all()
    user_ids = {row.user_id for row in rows if row.event == "sign_up.completed"}
    assert len(user_ids) == 1 and None not in user_ids
    (user_id,) = user_ids
    for row in rows:
        assert row.at.utcoffset() == timedelta(0), (row.event, row.at)
        assert row.ip_address == expected_ip, (row.event, row.ip_address)
        assert row.user_agent == USER_AGENT, row.event
    wanted = {event for event, *_ in expected}
    recorded = [row for row in rows if row.event in wanted]
    assert [row.event for row in recorded] == [event for event, *_ in expected]
    for row, (event, at, has_user, detail) in zip(recorded, expected, strict=True):
        assert (row.at, row.user_id) == (at, user_id if has_user else None), event
        assert detail.items() <= row.detail.items(), (event, row.detail)
    # A sign-in and the sign-out that ends it name the same session.
    sessions = [row.session_id for row in rows if row.event in ("sign_in", "sign_out")]
    assert None not in sessions
    assert sessions[1] == sessions[2] != sessions[0]
