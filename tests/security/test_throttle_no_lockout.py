"""
An attacker hammering someone's account delays its owner, never locks them out: every
throttle window expires, and a password reset by email keeps working while sign-in is
throttled — even when the attacker also uses up the reset mails (SECURITY.md #23).

Passkeys and magic links do not exist yet; the strong method the owner keeps here is
proof of their mailbox. The limiter's clock follows the test's FakeClock (throttle_helpers).
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from authkit import AuthKit
from authkit.store.models import UserRow

from ..conftest import FakeClock, Mailbox
from ..hostapp import make_host_app
from .throttle_helpers import (
    DAY,
    HOUR,
    NEW_PASSWORD,
    PASSWORD,
    browser_at,
    exhaust_sign_in,
    forgot,
    fresh_email,
    guess,
    kit_behind_a_proxy_on_the_test_clock,  # noqa: F401 (the `kit` fixture)
    new_account,
    reset_mail,
    retry_after,
    submit_reset_code,
    submit_reset_link,
)

pytestmark = pytest.mark.anyio


async def test_the_owner_signs_in_again_once_the_windows_pass(
    kit: AuthKit, clock: FakeClock, mailbox: Mailbox
) -> None:
    """After every window is used up the owner waits at most a day, then signs in as usual."""
    app = make_host_app(kit)
    email = fresh_email("owner")
    await new_account(app, kit, mailbox, email)
    failures, wait = await exhaust_sign_in(app, clock, email)
    assert failures == 50
    assert HOUR < wait <= DAY
    # The owner, from a machine of their own, is delayed like everyone else ...
    owner_ip = "203.0.113.10"
    assert retry_after(await guess(app, email, PASSWORD, ip=owner_ip)) > HOUR
    clock.advance(HOUR)
    assert retry_after(await guess(app, email, PASSWORD, ip=owner_ip)) > HOUR
    # ... but only delayed: nothing marked the account, and once the windows pass the same
    # password works with nobody's help.
    async with kit.services.db.session() as s:
        assert (await s.exec(select(UserRow.banned_at))).all() == [None]
    clock.advance(wait - HOUR + 1)
    r = await guess(app, email, PASSWORD, ip=owner_ip)
    assert r.status_code == 303, r.text


async def test_a_reset_by_email_works_while_sign_in_is_throttled(
    kit: AuthKit, clock: FakeClock, mailbox: Mailbox
) -> None:
    """With sign-in throttled for the day, the owner resets by code and signs in at once."""
    app = make_host_app(kit)
    email = fresh_email("owner")
    await new_account(app, kit, mailbox, email)
    await exhaust_sign_in(app, clock, email)
    async with browser_at(app, "203.0.113.10") as owner:
        assert (await forgot(owner, email)).status_code == 303
        code, _ = await reset_mail(kit, mailbox, email)
        r = await submit_reset_code(owner, code)
        assert r.status_code == 303, r.text
        # Proving the mailbox ends the throttle aimed at the account.
        r = await guess(app, email, NEW_PASSWORD, ip="203.0.113.10")
        assert r.status_code == 303, r.text


async def test_the_owner_resets_even_when_the_attacker_uses_up_the_reset_mails(
    kit: AuthKit, clock: FakeClock, mailbox: Mailbox
) -> None:
    """
    The attacker's own reset requests fill the per-address mail limit, so the owner cannot
    ask for one; but every mail they caused went to the owner, and its link works anywhere.
    """
    app = make_host_app(kit)
    email = fresh_email("owner")
    await new_account(app, kit, mailbox, email)
    await exhaust_sign_in(app, clock, email)
    statuses = []
    for _ in range(4):
        async with browser_at(app) as attacker:
            statuses.append((await forgot(attacker, email)).status_code)
    assert statuses == [303, 303, 303, 429]
    async with browser_at(app, "203.0.113.10") as owner:
        r = await forgot(owner, email)
        assert r.status_code == 429, r.text
        _, token = await reset_mail(kit, mailbox, email)
        r = await submit_reset_link(owner, token)
        assert r.status_code == 303, r.text
    r = await guess(app, email, NEW_PASSWORD, ip="203.0.113.10")
    assert r.status_code == 303, r.text
