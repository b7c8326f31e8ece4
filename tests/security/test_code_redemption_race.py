"""
Parallel redemption of one emailed code (SECURITY.md #27, load test L4; ASVS 15.4.2
check-then-act): one sign-up attempt, its code posted ten times at once from the same
browser, creates one account and one session; ten wrong guesses at once never buy more
than the five tries a code allows.
"""

from __future__ import annotations

import anyio
import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from authkit import AuthKit
from authkit.cookies import SESSION_COOKIE
from authkit.security.codes import MAX_CODE_ATTEMPTS
from authkit.store.models import EmailAddressRow, SessionRow, UserRow, VerificationCodeRow

from ..conftest import FakeClock, Mailbox
from ..web.flow_helpers import PASSWORD, csrf_of, form_token, sign_in, sign_out, sign_up

pytestmark = pytest.mark.anyio

EMAIL = "racer@example.com"
PARALLEL = 10
CODE_INVALID = "That code is incorrect."


async def start_attempt(client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox) -> str:
    """Post the sign-up form; returns the code page's CSRF token (the code is mailed)."""
    token = await form_token(client, "/auth/sign-up")
    r = await client.post(
        "/auth/sign-up", data={"csrf_token": token, "email": EMAIL, "password": PASSWORD}
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert page.status_code == 200, page.text
    await kit.services.mailer.drain()
    return csrf_of(page.text)


async def post_in_parallel(
    client: httpx.AsyncClient, csrf: str, codes: list[str]
) -> list[httpx.Response]:
    responses: list[httpx.Response] = []

    async def post(code: str) -> None:
        r = await client.post("/auth/sign-up/verify", data={"csrf_token": csrf, "code": code})
        responses.append(r)

    async with anyio.create_task_group() as tg:
        for code in codes:
            tg.start_soon(post, code)
    return responses


def wrong_code(code: str, n: int = 1) -> str:
    return f"{(int(code) + n) % 1_000_000:06d}"


async def count(kit: AuthKit, table: type[UserRow | SessionRow | EmailAddressRow]) -> int:
    async with kit.services.db.session() as s:
        return int((await s.exec(select(func.count()).select_from(table))).one())


async def attempts_counted(kit: AuthKit, purpose: str = "sign_up") -> int:
    async with kit.services.db.session() as s:
        rows = (
            await s.exec(select(VerificationCodeRow).where(VerificationCodeRow.purpose == purpose))
        ).all()
    assert len(rows) == 1, rows
    return rows[0].attempts


def sets_session(r: httpx.Response) -> bool:
    return any(
        c.startswith(f"{SESSION_COOKIE}=") and not c.startswith(f"{SESSION_COOKIE}=;")
        for c in r.headers.get_list("set-cookie")
    )


async def test_right_code_posted_ten_times_at_once_succeeds_once(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Parallel redemption (#27, L4): one code, ten posts at once → one success, one account."""
    csrf = await start_attempt(client, kit, mailbox)
    code = mailbox.last_code(EMAIL)
    responses = await post_in_parallel(client, csrf, [code] * PARALLEL)
    statuses = sorted(r.status_code for r in responses)
    assert 500 not in statuses, [r.text[:300] for r in responses if r.status_code == 500]
    assert statuses == [303] + [410] * (PARALLEL - 1), statuses
    winners = [r for r in responses if r.status_code == 303]
    assert sets_session(winners[0]), winners[0].headers
    assert not any(sets_session(r) for r in responses if r.status_code != 303)
    assert await count(kit, UserRow) == 1
    assert await count(kit, EmailAddressRow) == 1
    assert await count(kit, SessionRow) == 1
    assert (await client.get("/")).json()["is_signed_in"] is True


async def test_ten_parallel_wrong_codes_count_at_most_five_tries(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Code guessing race (#27, #32): parallel wrong codes count ≤ 5; the code then dies."""
    csrf = await start_attempt(client, kit, mailbox)
    code = mailbox.last_code(EMAIL)
    guesses = [wrong_code(code, n) for n in range(1, PARALLEL + 1)]
    responses = await post_in_parallel(client, csrf, guesses)
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {410, 422}, statuses
    assert await attempts_counted(kit) == MAX_CODE_ATTEMPTS
    # Out of tries: even the right code is refused and nothing is created.
    r = await client.post("/auth/sign-up/verify", data={"csrf_token": csrf, "code": code})
    assert r.status_code == 410, r.text
    assert not sets_session(r)
    assert await count(kit, UserRow) == 0
    assert await count(kit, SessionRow) == 0


async def test_ten_parallel_wrong_codes_get_at_most_five_answers(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Code guessing race (#27, L3 shape, Keycloak CVE-2024-4629): ≤ 5 guesses are judged."""
    csrf = await start_attempt(client, kit, mailbox)
    code = mailbox.last_code(EMAIL)
    guesses = [wrong_code(code, n) for n in range(1, PARALLEL + 1)]
    responses = await post_in_parallel(client, csrf, guesses)
    # "That code is incorrect" tells the guesser one candidate is out: each such answer is
    # an evaluated guess, and a 6-digit code allows MAX_CODE_ATTEMPTS of them, parallel or
    # not. The others must be told the attempt is over (410) without being compared.
    judged = [r for r in responses if r.status_code == 422 and CODE_INVALID in r.text]
    assert len(judged) <= MAX_CODE_ATTEMPTS, f"{len(judged)} of {PARALLEL} wrong codes judged"


# -- the same race on the password-reset code ------------------------------------------------

NEW_PASSWORD = "a brand new passphrase"


async def start_reset(client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox) -> str:
    """An account for EMAIL, then "forgot password"; returns this browser's CSRF token."""
    assert (await sign_up(client, kit, mailbox, EMAIL)).status_code == 303
    assert (await sign_out(client)).status_code == 303
    token = await form_token(client, "/auth/forgot-password")
    r = await client.post("/auth/forgot-password", data={"csrf_token": token, "email": EMAIL})
    assert r.status_code == 303, r.text
    await kit.services.mailer.drain()
    return token


async def reset_in_parallel(
    client: httpx.AsyncClient, csrf: str, codes: list[str]
) -> list[httpx.Response]:
    responses: list[httpx.Response] = []

    async def post(n: int, code: str) -> None:
        password = f"{NEW_PASSWORD} {n}"
        data = {"csrf_token": csrf, "code": code, "password": password}
        r = await client.post("/auth/reset-password", data={**data, "password_confirm": password})
        responses.append(r)

    async with anyio.create_task_group() as tg:
        for n, code in enumerate(codes):
            tg.start_soon(post, n, code)
    return responses


async def test_reset_code_posted_ten_times_at_once_succeeds_once(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Parallel redemption (#27, L4): one reset code, ten posts at once → one new password."""
    csrf = await start_reset(client, kit, mailbox)
    code = mailbox.last_code(EMAIL)
    responses = await reset_in_parallel(client, csrf, [code] * PARALLEL)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [303] + [410] * (PARALLEL - 1), statuses
    working = []
    for n in range(PARALLEL):
        # Ten sign-ins in a row would meet the per-account throttle: not what is tested.
        await kit.services.limiter.clear("sign_in:account", EMAIL)
        r = await sign_in(client, EMAIL, f"{NEW_PASSWORD} {n}")
        working.append(r.status_code == 303)
        client.cookies.clear()
    assert working.count(True) == 1, working


async def test_ten_parallel_wrong_reset_codes_count_at_most_five_tries(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Reset-code guessing race (#27, #32): parallel wrong codes count ≤ 5; the code dies."""
    csrf = await start_reset(client, kit, mailbox)
    code = mailbox.last_code(EMAIL)
    guesses = [wrong_code(code, n) for n in range(1, PARALLEL + 1)]
    responses = await reset_in_parallel(client, csrf, guesses)
    assert {r.status_code for r in responses} <= {410, 422}
    assert await attempts_counted(kit, "password_reset") == MAX_CODE_ATTEMPTS
    r = (await reset_in_parallel(client, csrf, [code]))[0]
    assert r.status_code == 410, r.text
    assert (await sign_in(client, EMAIL, PASSWORD)).status_code == 303


async def test_ten_parallel_wrong_reset_codes_get_at_most_five_answers(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Reset-code guessing race (#27, L3 shape, Keycloak CVE-2024-4629): ≤ 5 guesses judged."""
    csrf = await start_reset(client, kit, mailbox)
    code = mailbox.last_code(EMAIL)
    guesses = [wrong_code(code, n) for n in range(1, PARALLEL + 1)]
    responses = await reset_in_parallel(client, csrf, guesses)
    judged = [r for r in responses if r.status_code == 422 and CODE_INVALID in r.text]
    assert len(judged) <= MAX_CODE_ATTEMPTS, f"{len(judged)} of {PARALLEL} wrong codes judged"


async def test_parallel_resends_after_the_cooldown_send_one_code(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """Eight "send a new code" posts at once, after the cooldown: one new code goes out
    and the send count moves by one (the cooldown is checked in the counting UPDATE)."""
    csrf = await start_attempt(client, kit, mailbox)
    clock.advance(31)
    responses: list[httpx.Response] = []

    async def resend() -> None:
        responses.append(await client.post("/auth/sign-up/resend", data={"csrf_token": csrf}))

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(resend)
    assert sorted(r.status_code for r in responses) == [200] + [429] * 7, [
        r.status_code for r in responses
    ]
    async with kit.services.db.session() as s:
        [row] = (await s.exec(select(VerificationCodeRow))).all()
    assert row.sends == 2
    await kit.services.mailer.drain()
    assert len(mailbox.to(EMAIL)) == 2
