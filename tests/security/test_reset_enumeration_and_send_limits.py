"""
Forgot-password neither tells which addresses have an account nor bombs a mailbox: an
unknown (or banned) address gets the same answer and goes through the same work as a
known one, and the reset mails are capped per address (3 a minute, 10 an hour, 30 a day,
shared with sign-up codes) and per sender IP (SECURITY.md #30).

Response timing is not measured (a timed assertion would be flaky); instead the tests
record the work each request does — rate-limit checks, code hashing, mail rendering and
every SQL statement — and compare it. The limiter's clock follows the test's FakeClock
(throttle_helpers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.flows import email_codes
from authkit.flows import reset as reset_flow
from authkit.flows.admin import ban_user, find_user_id
from authkit.security.ratelimit import DEFAULT_RULES

from ..conftest import FakeClock, Mailbox
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, form_token, without_per_response_values
from .throttle_helpers import (
    DAY,
    HOUR,
    MINUTE,
    browser_at,
    forgot,
    fresh_email,
    fresh_ip,
    kit_behind_a_proxy_on_the_test_clock,  # noqa: F401 (the `kit` fixture)
    new_account,
    retry_after,
)

pytestmark = pytest.mark.anyio


def test_reset_shares_the_send_rules() -> None:
    """The limits the tests below count out."""
    assert DEFAULT_RULES["code_send:account"] == "3/minute;10/hour;30/day"
    assert DEFAULT_RULES["code_send:ip"] == "10/minute;60/hour"
    assert DEFAULT_RULES["reset:ip"] == "10/minute;60/hour"


def _masked(html: str, email: str) -> str:
    return without_per_response_values(html).replace(email, "EMAIL")


def _cookie_names(r: httpx.Response) -> list[str]:
    return sorted(h.split("=", 1)[0] for h in r.headers.get_list("set-cookie"))


@contextmanager
def work_done(kit: AuthKit, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record, in order, the work the kit does that an observer could time."""
    trace: list[str] = []
    svc = kit.services

    def spy(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            trace.append(name)
            return real(*args, **kwargs)

        return wrapper

    real_hit = svc.limiter.hit

    async def hit(rule: str, value: str, *, within: Any = None) -> None:
        trace.append(f"limit {rule}")
        await real_hit(rule, value, within=within)

    def sql(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        trace.append(f"sql {statement}")

    with monkeypatch.context() as patch:
        patch.setattr(svc.limiter, "hit", hit)
        for name in ("new_code", "hash_code", "_token_hash"):
            patch.setattr(email_codes, name, spy(name, getattr(email_codes, name)))
        patch.setattr(reset_flow, "compose", spy("compose", reset_flow.compose))
        # Sending happens after the answer, in the background: recorded here, started
        # once the trace is complete, so its statements cannot land in the trace.
        queued: list[str] = []
        real_send_soon = svc.outbox.send_soon

        def send_soon(message_id: str) -> None:
            trace.append("send_soon")
            queued.append(message_id)

        patch.setattr(svc.outbox, "send_soon", send_soon)
        patch.setattr(svc.outbox, "sweep_if_due", lambda: None)
        engine = svc.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", sql)
        try:
            yield trace
        finally:
            event.remove(engine, "before_cursor_execute", sql)
    for message_id in queued:
        real_send_soon(message_id)


async def test_unknown_and_banned_addresses_get_the_same_answer_and_work(
    kit: AuthKit, clock: FakeClock, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Same status, redirect, cookies and page for a known, an unknown and a banned address,
    and the same checks, hashing (the link's keyed hash included), rendering and SQL (an
    outbox row either way, never sent for an address without an account).
    """
    app = make_host_app(kit)
    known, banned, unknown = "known@example.com", "banned@example.com", "ghost@example.com"
    await new_account(app, kit, mailbox, known)
    await new_account(app, kit, mailbox, banned)
    banned_id = await find_user_id(kit.services, banned)
    assert banned_id is not None
    await ban_user(kit.services, banned_id)
    clock.advance(MINUTE + 1)  # out of the sign-up's send window
    answers: dict[str, tuple[Any, ...]] = {}
    traces: dict[str, list[str]] = {}
    for email in (known, unknown, banned):
        async with browser_at(app) as c:
            await form_token(c, "/auth/forgot-password")
            await kit.services.mailer.drain()  # a retry sweep that page load started
            with work_done(kit, monkeypatch) as trace:
                r = await forgot(c, email)
            traces[email] = trace
            await kit.services.mailer.drain()  # its background send, outside every trace
            page = await c.get(r.headers["location"])
        answers[email] = (
            r.status_code,
            r.headers["location"],
            r.text,
            _cookie_names(r),
            page.status_code,
            _masked(page.text, email),
        )
    assert answers[known][:2] == (303, "/auth/reset-password?redirect_url=%2F")
    assert answers[known] == answers[unknown] == answers[banned]

    assert traces[known] == traces[unknown] == traces[banned]
    assert traces[known].count("_token_hash") == traces[known].count("send_soon") == 1
    assert traces[unknown][:3] == [
        "limit reset:ip",
        "limit code_send:ip",
        "limit code_send:account",
    ]
    for step in ("new_code", "hash_code", "compose"):
        assert traces[unknown].count(step) == 1, (step, traces[unknown])
    # the account's rate-limit hit, the attempt, the audit row and the outbox row (never
    # sent for these two)
    assert sum(step.startswith("sql INSERT") for step in traces[unknown]) == 4

    await kit.services.mailer.drain()
    assert len(mailbox.to(known)) == 2  # sign-up code, reset
    assert len(mailbox.to(banned)) == 1  # sign-up code only
    assert mailbox.to(unknown) == []


async def test_one_address_gets_three_reset_mails_a_minute_known_or_not(
    kit: AuthKit, clock: FakeClock, mailbox: Mailbox
) -> None:
    """From four machines, the fourth request in a minute is refused, alike for any address."""
    app = make_host_app(kit)
    known, unknown = fresh_email("known"), fresh_email("ghost")
    await new_account(app, kit, mailbox, known)
    clock.advance(MINUTE + 1)  # out of the sign-up's send window
    refusals: dict[str, str] = {}
    for email in (known, unknown):
        statuses = []
        for _ in range(4):
            async with browser_at(app) as c:
                r = await forgot(c, email)
                statuses.append(r.status_code)
        assert statuses == [303, 303, 303, 429], email
        assert 1 <= retry_after(r) <= MINUTE
        refusals[email] = _masked(r.text, email)
    assert refusals[known] == refusals[unknown]
    await kit.services.mailer.drain()
    assert len(mailbox.to(known)) == 1 + 3  # sign-up code + 3 resets
    assert mailbox.to(unknown) == []


async def test_reset_and_sign_up_share_the_per_address_send_limit(
    kit: AuthKit, mailbox: Mailbox
) -> None:
    """Sign-up codes and reset mails count against one per-address allowance."""
    app = make_host_app(kit)
    email = fresh_email("shared")
    statuses = []
    for step in ("sign-up", "reset", "sign-up", "reset"):
        async with browser_at(app) as c:
            if step == "reset":
                r = await forgot(c, email)
            else:
                token = await form_token(c, "/auth/sign-up")
                r = await c.post(
                    "/auth/sign-up",
                    data={"csrf_token": token, "email": email, "password": PASSWORD},
                )
            statuses.append(r.status_code)
    assert statuses == [303, 303, 303, 429]


async def test_a_day_of_reset_requests_mails_one_address_at_most_30_times(
    kit: AuthKit, clock: FakeClock, mailbox: Mailbox
) -> None:
    """Requests from ever new machines, each Retry-After waited out: 30 mails in 24 hours."""
    app = make_host_app(kit)
    email = fresh_email("victim")
    await new_account(app, kit, mailbox, email)
    clock.advance(DAY + 1)  # out of the sign-up's send windows
    await kit.services.mailer.drain()
    before = len(mailbox.to(email))
    end = clock.now.timestamp() + DAY
    waits: list[tuple[int, int]] = []  # (mails so far, Retry-After)
    sent = 0
    for _ in range(200):
        if clock.now.timestamp() >= end:
            break
        async with browser_at(app) as c:
            r = await forgot(c, email)
        # The mail leaves before the (test) clock jumps ahead: a code mail still queued
        # when its code expires is dropped, not sent.
        await kit.services.mailer.drain()
        if r.status_code == 303:
            sent += 1
        else:
            waits.append((sent, retry_after(r)))
            clock.advance(waits[-1][1])
    else:
        pytest.fail(f"still asking after 200 requests: {sent} accepted")
    await kit.services.mailer.drain()
    assert sent == len(mailbox.to(email)) - before == 30
    longest = {n: max(w for m, w in waits if m == n) for n, _ in waits}
    assert longest[3] <= MINUTE, longest
    assert MINUTE < longest[10] <= HOUR, longest
    assert HOUR < longest[30] <= DAY, longest


async def _forgot_from(app: Starlette, ip: str, email: str) -> httpx.Response:
    async with browser_at(app, ip) as c:
        return await forgot(c, email)


async def test_one_ip_asks_for_at_most_10_resets_a_minute_and_60_an_hour(
    kit: AuthKit, clock: FakeClock
) -> None:
    """One sender spreading requests over many addresses: 10 a minute, then 60 an hour."""
    app = make_host_app(kit)
    ip = fresh_ip()
    for minute in range(6):
        statuses = [
            (await _forgot_from(app, ip, fresh_email(f"m{minute}"))).status_code for _ in range(11)
        ]
        assert statuses == [303] * 10 + [429], minute
        clock.advance(MINUTE + 1)
    wait = retry_after(await _forgot_from(app, ip, fresh_email("later")))
    assert MINUTE < wait <= HOUR
    # Another sender is not affected.
    assert (await _forgot_from(app, fresh_ip(), fresh_email("other"))).status_code == 303


async def test_sign_ups_and_resets_share_the_per_ip_send_limit(
    kit: AuthKit, mailbox: Mailbox
) -> None:
    """Five sign-ups and five resets from one IP use up its 10 mails a minute."""
    app = make_host_app(kit)
    ip = fresh_ip()
    for n in range(5):
        async with browser_at(app, ip) as c:
            token = await form_token(c, "/auth/sign-up")
            r = await c.post(
                "/auth/sign-up",
                data={"csrf_token": token, "email": f"new{n}@example.com", "password": PASSWORD},
            )
            assert r.status_code == 303, r.text
    statuses = [
        (await _forgot_from(app, ip, f"reset{n}@example.com")).status_code for n in range(6)
    ]
    # reset:ip has counted only 5 of its 10: the shared code_send:ip limit refuses the sixth.
    assert statuses == [303] * 5 + [429]
