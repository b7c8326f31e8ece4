"""
SIGKILL during a password reset (SECURITY.md load test L6; ASVS 2.3.3 all-or-nothing):
after a worker dies at any moment of a reset, exactly one of the old and the new password
works, and the account's sessions were revoked if and only if the new password took
effect; the link is used up exactly then too, and a reset that died before its commit can
be finished with the same link.

Workers are real uvicorn processes (see `killable_workers.py`), on a SQLite file and on a
PostgreSQL schema. They are killed either at a named point inside the reset's transaction
(deterministic) or at a random moment while many resets are in flight. What happened is
read afterwards from the database by a fresh kit, never from the dead worker.
"""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlmodel import col, select

from authkit import AuthKit
from authkit.clock import system_clock
from authkit.flows.admin import create_user
from authkit.flows.reset import start_reset
from authkit.security.csrf import CSRF_COOKIE, new_csrf_value
from authkit.sessions import RequestMeta, create_session
from authkit.store.models import (
    AuditEventRow,
    PasswordCredentialRow,
    SessionRow,
    VerificationCodeRow,
)

from ..conftest import TEST_SECRET, KitFactory, Mailbox, Store
from .killable_workers import DEADLINE_SECONDS, POINTS, Worker, Workers

pytestmark = pytest.mark.anyio

OLD_PASSWORD = "the old passphrase of this account"
LINK = re.compile(r"/reset-password\?link=1#token=([\w-]+)")
#: The setup kit mails many resets and the workers take many from one IP: the limits are
#: not what this file tests (security/test_rate_limits.py does).
GENEROUS_LIMITS = {
    "code_send:account": "1000/minute",
    "code_send:ip": "1000/minute",
    "reset:ip": "1000/minute",
    "code_verify:ip": "1000/minute",
    "sign_in:ip": "1000/minute",
}
#: Points where the transaction is still open: a kill there must undo all of it.
BEFORE_COMMIT = POINTS[:-1]


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    farm = Workers(tmp_path_factory.mktemp("workers") / "workers.log")
    yield farm
    farm.close()


@pytest.fixture
def settings(store: Store, tmp_path: Path) -> dict[str, Any]:
    """The AuthKit settings of every worker in a test."""
    return {
        "secret_key": TEST_SECRET,
        "database_url": store.url,
        "database_schema": store.schema,
        "email_url": f"file://{tmp_path}/worker-mail",
        "base_url": "http://testserver",
        "password_hash_profile": "CHEAPEST",
    }


@pytest.fixture
async def setup_kit(make_kit: KitFactory) -> AsyncIterator[AuthKit]:
    """The operator's side, in this process: migrations, accounts, sessions, reset mails.
    On the system clock, like the workers."""
    kit = make_kit(clock=system_clock, rate_limits=GENEROUS_LIMITS)
    await kit.ensure_started()
    yield kit
    await kit.aclose()


@dataclass
class Account:
    email: str
    user_id: str
    #: The password that works before the reset under test.
    password: str
    session_ids: list[str]
    attempt_id: str = ""
    token: str = ""


@dataclass(frozen=True)
class Outcome:
    old_works: bool
    new_works: bool
    revoked: tuple[bool, ...]
    link_used: bool
    reset_events: int


async def new_account(kit: AuthKit, email: str) -> Account:
    user_id = await create_user(kit.services, email=email, password=OLD_PASSWORD)
    return Account(email, user_id, OLD_PASSWORD, [])


async def open_resets(
    kit: AuthKit, mailbox: Mailbox, accounts: Sequence[Account], *, sessions: int = 2
) -> None:
    """For each account: fresh signed-in sessions, and a reset link mailed to it."""
    for account in accounts:
        account.session_ids = []
        for _ in range(sessions):
            async with kit.services.db.session() as s:
                start = await create_session(
                    kit.services,
                    s,
                    user_id=account.user_id,
                    meta=RequestMeta(),
                    amr=["password"],
                    first_factor_at=kit.services.clock(),
                )
            account.session_ids.append(start.session_id)
        attempt = await start_reset(kit.services, email=account.email, meta=RequestMeta())
        account.attempt_id = attempt.id
    await kit.services.mailer.drain()
    for account in accounts:
        match = LINK.search(Mailbox.text_of(mailbox.to(account.email)[-1]))
        assert match, "no reset link mailed"
        account.token = match.group(1)


def browser(kit: AuthKit, worker: Worker) -> httpx.AsyncClient:
    """A browser for `worker` holding a CSRF cookie (the token is stateless, so any worker
    with the same secret key accepts it)."""
    value = new_csrf_value()
    client = httpx.AsyncClient(
        base_url=worker.url, cookies={CSRF_COOKIE: value}, timeout=httpx.Timeout(60)
    )
    client.headers["x-csrf-token"] = kit.csrf.token({}, {CSRF_COOKIE: value})
    return client


async def post_reset(client: httpx.AsyncClient, account: Account, password: str) -> int | None:
    """Submit the new password with the mailed link; None when the worker died first."""
    data = {"token": account.token, "password": password, "password_confirm": password}
    try:
        r = await client.post("/auth/reset-password", data=data)
    except httpx.TransportError:
        return None
    return r.status_code


async def fresh_outcome(make_kit: KitFactory, account: Account, new_password: str) -> Outcome:
    """`outcome`, read by a kit made after the kill."""
    kit = make_kit(clock=system_clock)
    try:
        return await outcome(kit, account, new_password)
    finally:
        await kit.aclose()


async def answer_reset(
    answers: dict[str, int | None], client: httpx.AsyncClient, account: Account, password: str
) -> None:
    answers[account.email] = await post_reset(client, account, password)


async def outcome(kit: AuthKit, account: Account, new_password: str) -> Outcome:
    """What the database says about `account`'s reset, read by a kit that was never killed."""
    svc = kit.services
    async with svc.db.session() as s:
        credential = await s.get(PasswordCredentialRow, account.user_id)
        sessions = (
            await s.exec(select(SessionRow).where(col(SessionRow.id).in_(account.session_ids)))
        ).all()
        attempt = await s.get(VerificationCodeRow, account.attempt_id)
        events = (
            await s.exec(
                select(AuditEventRow).where(
                    AuditEventRow.event == "password.reset",
                    AuditEventRow.user_id == account.user_id,
                )
            )
        ).all()
    assert credential is not None and attempt is not None
    assert len(sessions) == len(account.session_ids)
    revoked = {row.id: row.revoked_at is not None for row in sessions}
    return Outcome(
        old_works=await svc.hasher.verify(credential.password_hash, account.password),
        new_works=await svc.hasher.verify(credential.password_hash, new_password),
        revoked=tuple(revoked[i] for i in account.session_ids),
        link_used=attempt.consumed_at is not None,
        reset_events=sum(e.detail.get("attempt_id") == account.attempt_id for e in events),
    )


def assert_all_or_nothing(result: Outcome) -> bool:
    """Exactly one password works, and the rest agrees with it; True when it is the new."""
    assert result.old_works != result.new_works, result
    if result.new_works:
        assert all(result.revoked), result
        assert result.link_used and result.reset_events == 1, result
    else:
        assert not any(result.revoked), result
        assert not result.link_used and result.reset_events == 0, result
    return result.new_works


@pytest.mark.parametrize("point", POINTS)
async def test_kill_at_each_point_of_the_reset_leaves_one_password_and_consistent_sessions(
    workers: Workers,
    settings: dict[str, Any],
    setup_kit: AuthKit,
    make_kit: KitFactory,
    mailbox: Mailbox,
    point: str,
) -> None:
    """L6: SIGKILL with the reset stopped at `point` → all of it or none of it happened;
    none of it → the same link still finishes the reset; all → the new password signs in."""
    account = await new_account(setup_kit, f"crash.{point}@example.com")
    await open_resets(setup_kit, mailbox, [account])
    new_password = f"the new passphrase after {point}"

    worker = await workers.spawn(settings, pause=point, rate_limits=GENEROUS_LIMITS)
    async with browser(setup_kit, worker) as client, anyio.create_task_group() as tg:
        tg.start_soon(post_reset, client, account, new_password)
        await workers.paused(worker, point)
        await worker.kill()

    result = await fresh_outcome(make_kit, account, new_password)
    took_effect = assert_all_or_nothing(result)
    assert took_effect is (point not in BEFORE_COMMIT), (point, result)

    # A fresh worker: the reset that died is finished with the same link (never used up
    # by a crash); one that committed refuses its link. Then only one password signs in.
    worker = await workers.spawn(settings, rate_limits=GENEROUS_LIMITS)
    async with browser(setup_kit, worker) as client:
        status = await post_reset(client, account, new_password)
        assert status == (410 if took_effect else 303), status
        after = await fresh_outcome(make_kit, account, new_password)
        assert after.new_works and not after.old_works and all(after.revoked), after
    for password, expected in ((account.password, 422), (new_password, 303)):
        async with browser(setup_kit, worker) as client:
            r = await client.post(
                "/auth/sign-in", data={"email": account.email, "password": password}
            )
            assert r.status_code == expected, r.text
    await worker.kill()


async def kill_while_in_flight(
    worker: Worker,
    kit: AuthKit,
    accounts: Sequence[Account],
    answers: dict[str, int | None],
    rng: random.Random,
) -> None:
    """Kill `worker` at a random moment once its first reset has committed, while the
    others are anywhere between the request and the commit (or once all are answered)."""
    svc = kit.services
    attempt_ids = [a.attempt_id for a in accounts]
    with anyio.fail_after(DEADLINE_SECONDS):
        while len(answers) < len(accounts):
            async with svc.db.session() as s:
                used = (
                    await s.exec(
                        select(VerificationCodeRow.id).where(
                            col(VerificationCodeRow.id).in_(attempt_ids),
                            col(VerificationCodeRow.consumed_at).is_not(None),
                        )
                    )
                ).first()
            if used is not None:
                break
            await anyio.sleep(0.002)
    await anyio.sleep(rng.uniform(0, 0.02))
    await worker.kill()


async def test_kill_at_random_moments_during_many_resets_never_splits_a_reset(
    workers: Workers,
    settings: dict[str, Any],
    setup_kit: AuthKit,
    make_kit: KitFactory,
    mailbox: Mailbox,
) -> None:
    """L6: 10 resets in flight, the worker SIGKILLed at a random moment, three times over
    → for every account, all or nothing (whichever it was)."""
    rng = random.Random(6)
    accounts = [await new_account(setup_kit, f"storm{n}@example.com") for n in range(10)]
    for round_ in range(3):
        await open_resets(setup_kit, mailbox, accounts, sessions=1)
        new_passwords = [f"round {round_} passphrase of {a.email}" for a in accounts]
        answers: dict[str, int | None] = {}
        checker = make_kit(clock=system_clock)
        worker = await workers.spawn(settings, rate_limits=GENEROUS_LIMITS)
        async with browser(setup_kit, worker) as client, anyio.create_task_group() as tg:
            for account, password in zip(accounts, new_passwords, strict=True):
                tg.start_soon(answer_reset, answers, client, account, password)
            await kill_while_in_flight(worker, checker, accounts, answers, rng)
        await checker.aclose()
        for account, password in zip(accounts, new_passwords, strict=True):
            took_effect = assert_all_or_nothing(await fresh_outcome(make_kit, account, password))
            # An answer that made it out before the kill told the truth.
            answer = answers[account.email]
            assert answer is None or (answer == 303 and took_effect), (account, answer)
            if took_effect:
                account.password = password
