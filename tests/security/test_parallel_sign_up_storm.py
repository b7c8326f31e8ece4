"""
A storm of parallel sign-ups with one address (SECURITY.md load test L1; ASVS 15.4.2
check-then-act, 2.4.1 anti-automation): 50 browsers sign up at once with 50 spellings of
one address in mixed case, then all enter their codes at once.

What must hold, on SQLite and on PostgreSQL:

- exactly one account comes out, and no request fails (no 500, no 503);
- mail follows the policy of `authkit.flows.sign_up.start_sign_up`, counted at the SMTP
  server: every accepted sign-up (303) sends exactly one mail and every refused one (429)
  none; a free address gets the code, mailed to the spelling that was typed; a taken
  address gets no code at all, only the owner's notice, mailed to the address the owner
  holds. The `code_send:account` limit (3 a minute, 10 an hour) caps how many sign-ups of
  one address are accepted, whatever the casing and however many machines send them.
- entering the codes mails nothing more.

The first test lifts the limits so that all 50 attempts race to the account; the second
keeps the default limits and sends the storm from 50 client IPs, as a botnet would.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import anyio
import httpx
import pytest
from sqlalchemy import func
from sqlmodel import col, select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.store.models import (
    EmailAddressRow,
    PasswordCredentialRow,
    SessionRow,
    UserRow,
    VerificationCodeRow,
)

from ..conftest import FakeClock, KitFactory, Mailbox
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, form_token
from .throttle_helpers import MINUTE, fresh_ip, limiter_follows

pytestmark = pytest.mark.anyio

STORM = 50
#: Twelve letters: 4096 spellings, each told apart from the others by its exact case.
LOCAL_PART = "thunderstorm"
NORMALIZED = f"{LOCAL_PART}@example.com"
CODE_SUBJECT = "Verify your email for authkit"
OWNER_NOTICE_SUBJECT = "You already have an account with authkit"
#: `code_send:account` in authkit.security.ratelimit.DEFAULT_RULES: 3 a minute.
CODES_PER_MINUTE = 3
#: What a storm may be answered with: accepted, or refused with Retry-After. Nothing else.
ACCEPTED, REFUSED, ALREADY_USED = 303, 429, 410


def spellings(count: int, start: int = 0) -> list[str]:
    """`count` distinct spellings of one address: the local part's case, and the domain's."""
    out = []
    for n in range(start, start + count):
        local = "".join(c.upper() if n >> i & 1 else c for i, c in enumerate(LOCAL_PART))
        out.append(f"{local}@{'Example.COM' if n % 2 else 'example.com'}")
    return out


def as_mailed(spelling: str) -> str:
    """The address a code mail goes to: the local part as typed, the domain lower-cased."""
    local, _, domain = spelling.rpartition("@")
    return f"{local}@{domain.lower()}"


def browsers(app: Starlette, count: int, *, own_ips: bool) -> list[httpx.AsyncClient]:
    # raise_app_exceptions=False: an exception escaping the app is the 500 a browser sees.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return [
        httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"x-forwarded-for": fresh_ip()} if own_ips else {},
        )
        for _ in range(count)
    ]


async def storm_of_sign_ups(
    clients: Sequence[httpx.AsyncClient], emails: Sequence[str]
) -> list[httpx.Response]:
    """Every browser posts the sign-up form at once; the responses in the browsers' order."""
    tokens = [await form_token(c, "/auth/sign-up") for c in clients]
    responses: list[httpx.Response | None] = [None] * len(clients)

    async def post(i: int) -> None:
        data = {"csrf_token": tokens[i], "email": emails[i], "password": PASSWORD}
        responses[i] = await clients[i].post("/auth/sign-up", data=data)

    async with anyio.create_task_group() as tg:
        for i in range(len(clients)):
            tg.start_soon(post, i)
    assert all(r is not None for r in responses)
    return [r for r in responses if r is not None]


async def storm_of_codes(clients: Sequence[httpx.AsyncClient], codes: Sequence[str]) -> list[int]:
    """Every browser enters its code at once; the statuses in the browsers' order."""
    tokens = [await form_token(c, "/auth/sign-up/verify") for c in clients]
    statuses = [0] * len(clients)

    async def post(i: int) -> None:
        data = {"csrf_token": tokens[i], "code": codes[i]}
        statuses[i] = (await clients[i].post("/auth/sign-up/verify", data=data)).status_code

    async with anyio.create_task_group() as tg:
        for i in range(len(clients)):
            tg.start_soon(post, i)
    return statuses


def code_in(message: object) -> str:
    found = re.search(r"\b(\d{6})\b", Mailbox.text_of(message))  # type: ignore[arg-type]
    assert found, Mailbox.text_of(message)  # type: ignore[arg-type]
    return found.group(1)


def mail_by_recipient(mailbox: Mailbox, subject: str) -> Counter[str]:
    """How many mails with `subject` each exact recipient got."""
    return Counter(str(m["To"]) for m in mailbox.messages if str(m["Subject"]) == subject)


async def count_rows(kit: AuthKit, table: type) -> int:
    async with kit.services.db.session() as s:
        return int((await s.exec(select(func.count()).select_from(table))).one())


async def assert_one_account(kit: AuthKit) -> str:
    """Exactly one account holds the address, with one password and one session."""
    async with kit.services.db.session() as s:
        users = (await s.exec(select(UserRow))).all()
        addresses = (await s.exec(select(EmailAddressRow))).all()
        sessions = (await s.exec(select(SessionRow))).all()
    assert len(users) == 1, users
    assert [a.normalized for a in addresses] == [NORMALIZED], addresses
    assert [a.user_id for a in addresses] == [users[0].id]
    assert [s.user_id for s in sessions] == [users[0].id], sessions
    assert await count_rows(kit, PasswordCredentialRow) == 1
    return addresses[0].email


async def test_fifty_parallel_sign_ups_of_one_address_make_one_account(
    make_kit: KitFactory, mailbox: Mailbox
) -> None:
    """L1: 50 parallel sign-ups in mixed case, limits lifted → one mail each, one account."""
    # One machine sends all 50: lift the limits so every attempt gets to race for the account.
    generous = "1000/minute"
    kit = make_kit(
        rate_limits={
            rule: generous
            for rule in ("sign_up:ip", "code_send:ip", "code_send:account", "code_verify:ip")
        }
    )
    app = make_host_app(kit)
    emails = spellings(STORM)
    clients = browsers(app, STORM, own_ips=False)
    try:
        responses = await storm_of_sign_ups(clients, emails)
        assert [r.status_code for r in responses] == [ACCEPTED] * STORM, [
            (r.status_code, r.text[:300]) for r in responses if r.status_code != ACCEPTED
        ]
        await kit.services.mailer.drain()
        # One code per accepted attempt, to the spelling it was typed with; nothing else.
        codes = mail_by_recipient(mailbox, CODE_SUBJECT)
        assert codes == Counter(as_mailed(e) for e in emails), codes
        assert len(mailbox.messages) == STORM, [m["Subject"] for m in mailbox.messages]
        assert await count_rows(kit, UserRow) == 0, "no account before a code is entered"

        by_recipient = {str(m["To"]): code_in(m) for m in mailbox.messages}
        statuses = await storm_of_codes(clients, [by_recipient[as_mailed(e)] for e in emails])
        assert sorted(statuses) == [ACCEPTED] + [ALREADY_USED] * (STORM - 1), statuses
        owner = await assert_one_account(kit)
        assert owner == as_mailed(emails[statuses.index(ACCEPTED)])
        async with kit.services.db.session() as s:
            consumed = (
                await s.exec(
                    select(func.count())
                    .select_from(VerificationCodeRow)
                    .where(col(VerificationCodeRow.consumed_at).is_not(None))
                )
            ).one()
        # Each losing attempt consumed its own row before meeting the unique address
        # (all in one rolled-back transaction), so only the winner's row is used up.
        assert consumed == 1
        await kit.services.mailer.drain()
        assert len(mailbox.messages) == STORM, "entering codes mails nothing"
    finally:
        for c in clients:
            await c.aclose()
        await kit.aclose()


async def test_a_sign_up_storm_from_many_ips_mails_no_more_than_the_send_limit(
    make_kit: KitFactory, mailbox: Mailbox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """L1: 50 machines, one address, default limits → 3 mails a minute, then owner notices."""
    limiter_follows(clock, monkeypatch)
    kit = make_kit(trusted_proxies="127.0.0.1")
    app = make_host_app(kit)

    # A free address: the first three sign-ups get a code, the other 47 are refused.
    emails = spellings(STORM)
    clients = browsers(app, STORM, own_ips=True)
    try:
        responses = await storm_of_sign_ups(clients, emails)
        statuses = [r.status_code for r in responses]
        assert sorted(statuses) == [ACCEPTED] * CODES_PER_MINUTE + [REFUSED] * (
            STORM - CODES_PER_MINUTE
        ), [(r.status_code, r.text[:300]) for r in responses if r.status_code not in (303, 429)]
        assert all(int(r.headers["retry-after"]) > 0 for r in responses if r.status_code == REFUSED)
        accepted = [i for i, status in enumerate(statuses) if status == ACCEPTED]
        await kit.services.mailer.drain()
        codes = mail_by_recipient(mailbox, CODE_SUBJECT)
        assert codes == Counter(as_mailed(emails[i]) for i in accepted), codes
        assert len(mailbox.messages) == CODES_PER_MINUTE

        # The three accepted attempts enter their codes at once: one account.
        by_recipient = {str(m["To"]): code_in(m) for m in mailbox.messages}
        winners = [clients[i] for i in accepted]
        results = await storm_of_codes(
            winners, [by_recipient[as_mailed(emails[i])] for i in accepted]
        )
        assert sorted(results) == [ACCEPTED] + [ALREADY_USED] * (CODES_PER_MINUTE - 1), results
        owner = await assert_one_account(kit)
        await kit.services.mailer.drain()
        assert len(mailbox.messages) == CODES_PER_MINUTE, "entering codes mails nothing"
    finally:
        for c in clients:
            await c.aclose()

    # A minute later the address is taken: a second storm with 50 other spellings gets
    # three attempts accepted again (the hour allows 10), and not one code goes out:
    # each accepted attempt mails the owner, at the address the owner holds.
    clock.advance(MINUTE + 1)
    emails = spellings(STORM, start=STORM)
    clients = browsers(app, STORM, own_ips=True)
    try:
        responses = await storm_of_sign_ups(clients, emails)
        statuses = [r.status_code for r in responses]
        assert sorted(statuses) == [ACCEPTED] * CODES_PER_MINUTE + [REFUSED] * (
            STORM - CODES_PER_MINUTE
        ), [(r.status_code, r.text[:300]) for r in responses if r.status_code not in (303, 429)]
        await kit.services.mailer.drain()
        assert mail_by_recipient(mailbox, CODE_SUBJECT) == codes, "no code for a taken address"
        notices = mail_by_recipient(mailbox, OWNER_NOTICE_SUBJECT)
        assert notices == Counter({owner: CODES_PER_MINUTE}), notices
        assert len(mailbox.messages) == 2 * CODES_PER_MINUTE
        assert await assert_one_account(kit) == owner
    finally:
        for c in clients:
            await c.aclose()
        await kit.aclose()
