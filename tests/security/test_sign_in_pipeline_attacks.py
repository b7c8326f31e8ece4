"""
Attacks on the sign-in pipeline (SECURITY.md #27, #32, #33, #57-#61, ASVS 2.3.1, 6.5.1,
6.6.2, 7.5.1), each named after its threat: replaying a code, an app code or a recovery
code; moving an attempt cookie to another browser; finishing one user's attempt with
another's factor; posting straight to a later step; redeeming one recovery code twice in
parallel; a magic link opened elsewhere; and getting round "Confirm it's you".
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
import httpx
import pyotp
import pytest
from sqlalchemy import func
from sqlmodel import select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.cookies import SESSION_COOKIE
from authkit.flows.admin import create_user
from authkit.store.models import AuthenticatorRow, SessionRow

from ..conftest import FakeClock, Mailbox
from ..web.flow_helpers import PASSWORD, open_link
from ..web.pipeline_helpers import (
    EMAIL,
    Totp,
    choose_method,
    field_error,
    follow,
    form_action,
    hidden_fields,
    link_in,
    mailed,
    secret_on,
    set_up_totp,
    sign_in_password,
    submit_code,
)

pytestmark = pytest.mark.anyio

OTHER = "grace@example.com"
Browser = Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def open_browser(app: Starlette) -> Browser:
    @asynccontextmanager
    async def open_browser() -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c

    return open_browser


async def user_with_totp(
    kit: AuthKit, open_browser: Browser, clock: FakeClock, email: str = EMAIL
) -> Totp:
    await kit.ensure_started()
    await create_user(kit.services, email=email, password=PASSWORD)
    async with open_browser() as c:
        assert (await sign_in_password(c, email)).status_code == 303
        totp = await set_up_totp(c, clock)
    clock.advance(31)  # past the set-up code's time step
    return totp


async def at_second_step(client: httpx.AsyncClient, email: str = EMAIL) -> httpx.Response:
    r = await sign_in_password(client, email)
    assert r.status_code == 303 and "/factor/totp" in r.headers["location"], r.headers
    return await client.get(r.headers["location"])


async def sessions(kit: AuthKit) -> int:
    async with kit.services.db.session() as s:
        return int((await s.exec(select(func.count()).select_from(SessionRow))).one())


def sets_session(r: httpx.Response) -> bool:
    return any(
        c.startswith(f"{SESSION_COOKIE}=") and not c.startswith(f"{SESSION_COOKIE}=;")
        for c in r.headers.get_list("set-cookie")
    )


async def test_code_replay_after_a_sign_in_gets_nothing(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """An emailed sign-in code that worked once never works again, on any attempt."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    page = await follow(client, await choose_method(client, EMAIL, "email_code"))
    code = re.findall(r"\b\d{6}\b", await mailed(kit, mailbox, EMAIL))[0]
    assert (await submit_code(client, page, code)).status_code == 303
    before = await sessions(kit)
    replay = await submit_code(client, page, code)
    assert replay.status_code == 303 and "expired=1" in replay.headers["location"], replay.text
    client.cookies.clear()
    fresh = await follow(client, await choose_method(client, EMAIL, "email_code"))
    new_code = re.findall(r"\b\d{6}\b", await mailed(kit, mailbox, EMAIL))[0]
    if new_code != code:  # a one-in-a-million coincidence would prove nothing
        again = await submit_code(client, fresh, code)
        assert again.status_code == 422, again.text
    assert await sessions(kit) == before


async def test_totp_replay_within_its_window_is_refused(
    kit: AuthKit, open_browser: Browser, clock: FakeClock
) -> None:
    """The same app code, still inside its ±30 s window, works for one sign-in only."""
    totp = await user_with_totp(kit, open_browser, clock)
    code = totp.code(clock)
    async with open_browser() as first:
        page = await at_second_step(first)
        assert (await submit_code(first, page, code)).status_code == 303
    clock.advance(20)  # same step or the next: the code is still "valid" by time
    async with open_browser() as second:
        page = await at_second_step(second)
        replay = await submit_code(second, page, code)
        assert replay.status_code == 422, replay.text
        assert field_error(replay.text, "code") == (
            "That code is incorrect. Enter the newest code from your app."
        )
        clock.advance(30)
        assert (await submit_code(second, page, totp.code(clock))).status_code == 303


async def test_attempt_cookie_swapped_between_browsers_is_worthless(
    kit: AuthKit, open_browser: Browser, clock: FakeClock
) -> None:
    """An attempt is bound to the browser that started it (its CSRF secret): its cookie
    copied into another browser neither shows the step nor finishes it."""
    totp = await user_with_totp(kit, open_browser, clock)
    async with open_browser() as victim, open_browser() as attacker:
        page = await at_second_step(victim)
        attacker.cookies.set("__ak_sign_in", victim.cookies["__ak_sign_in"], path="/auth")
        seen = await attacker.get(page.url.raw_path.decode())
        assert seen.status_code == 303 and "expired=1" in seen.headers["location"]
        own = await attacker.get("/auth/sign-in/methods")  # the attacker's own CSRF secret
        fields = {**hidden_fields(own.text), "code": totp.code(clock)}
        r = await attacker.post(form_action(page.text), data=fields)
        assert not sets_session(r), r.headers
        assert "expired=1" in r.headers.get("location", ""), r.text
        # The victim's attempt is untouched.
        assert (await submit_code(victim, page, totp.code(clock))).status_code == 303


async def test_attempt_for_one_user_cannot_be_finished_with_anothers_factor(
    kit: AuthKit, open_browser: Browser, clock: FakeClock
) -> None:
    """A's attempt at the second step refuses B's app code and B's recovery code."""
    await user_with_totp(kit, open_browser, clock)
    other = await user_with_totp(kit, open_browser, clock, OTHER)
    async with open_browser() as c:
        page = await at_second_step(c)
        r = await submit_code(c, page, other.code(clock))
        assert r.status_code == 422 and not sets_session(r)
        action = form_action(page.text).replace("/totp", "/recovery_code")
        r = await submit_code(c, page, other.recovery_codes[0], action=action)
        assert r.status_code == 422 and not sets_session(r)


async def test_factor_skipping_by_posting_to_a_later_step_is_refused(
    kit: AuthKit, open_browser: Browser, clock: FakeClock, mailbox: Mailbox
) -> None:
    """Before the first factor, a right app code (or a set-up code) posted to the second
    step's URL ends the attempt instead; so does a code step never prepared."""
    totp = await user_with_totp(kit, open_browser, clock)
    async with open_browser() as c:
        page = await follow(c, await choose_method(c, EMAIL, "email_code"))
        fields = {**hidden_fields(page.text), "code": totp.code(clock)}
        for step in ("/auth/sign-in/factor/totp", "/auth/sign-in/factor/recovery_code"):
            r = await c.post(step, data=fields)
            assert r.status_code == 303 and "expired=1" in r.headers["location"], r.text
        r = await c.post("/auth/sign-in/mfa-setup", data=fields)
        assert r.status_code == 303 and "expired=1" in r.headers["location"], r.text
        r = await c.post("/auth/sign-in/factor/email_link", data={**fields, "code": "x"})
        assert r.status_code == 303 and "expired=1" in r.headers["location"], r.text
    assert await sessions(kit) == 1  # the set-up's own


async def test_partial_mfa_state_gets_no_session(
    kit: AuthKit, open_browser: Browser, clock: FakeClock
) -> None:
    """After the password but before the app code: no session cookie, no session row,
    protected pages and the API refuse, and the profile sends to sign-in (#57)."""
    await user_with_totp(kit, open_browser, clock)
    before = await sessions(kit)
    async with open_browser() as c:
        r = await sign_in_password(c)
        assert not sets_session(r)
        assert await sessions(kit) == before
        assert (await c.get("/dashboard")).status_code == 303
        assert (await c.get("/api/me", headers={"accept": "application/json"})).status_code == 401
        assert (await c.get("/auth/user/security")).status_code == 303


async def test_parallel_redemption_of_one_recovery_code_has_one_winner(
    kit: AuthKit, open_browser: Browser, clock: FakeClock
) -> None:
    """Two sign-ins at their second step post the same recovery code at once: exactly
    one gets a session (L4)."""
    totp = await user_with_totp(kit, open_browser, clock)
    code = totp.recovery_codes[0]
    before = await sessions(kit)
    results: list[httpx.Response] = []
    async with open_browser() as one, open_browser() as two:
        pages = [await at_second_step(one), await at_second_step(two)]

        async def redeem(client: httpx.AsyncClient, page: httpx.Response) -> None:
            action = form_action(page.text).replace("/totp", "/recovery_code")
            results.append(await submit_code(client, page, code, action=action))

        async with anyio.create_task_group() as tg:
            tg.start_soon(redeem, one, pages[0])
            tg.start_soon(redeem, two, pages[1])
    assert sorted(r.status_code for r in results) == [303, 422], [r.text for r in results]
    assert sum(sets_session(r) for r in results) == 1
    assert await sessions(kit) == before + 1


async def test_totp_guessing_is_capped_per_account_across_restarted_sign_ins(
    kit: AuthKit, open_browser: Browser, clock: FakeClock
) -> None:
    """Starting the sign-in again does not reset the count of wrong app codes (#59)."""
    totp = await user_with_totp(kit, open_browser, clock)
    statuses = []
    for _ in range(3):
        async with open_browser() as c:
            page = await at_second_step(c)
            for _ in range(2):
                statuses.append((await submit_code(c, page, totp.code(clock, 5))).status_code)
    assert statuses[:5] == [422] * 5 and statuses[5] == 429, statuses


async def test_magic_link_opened_in_another_browser_when_same_browser_is_on(
    kit: AuthKit, open_browser: Browser, mailbox: Mailbox
) -> None:
    """A forwarded or intercepted sign-in link does not sign in the browser it is opened
    in; the page says to open it where it was asked for."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    async with open_browser() as victim, open_browser() as attacker:
        await choose_method(victim, EMAIL, "email_link")
        link = link_in(await mailed(kit, mailbox, EMAIL))
        landed = await follow(attacker, await open_link(attacker, link))
        assert landed.status_code == 403
        own = hidden_fields((await attacker.get("/auth/sign-in")).text)
        posted = await attacker.post("/auth/sign-in/link", data=own)
        assert not sets_session(posted)
        assert await sessions(kit) == 0


async def test_reverification_bypass_is_refused(
    kit: AuthKit, open_browser: Browser, clock: FakeClock
) -> None:
    """With a stale factor, posting a sensitive change directly sends to "Confirm it's
    you" and changes nothing; one session's confirmation does not carry to another; the
    password alone does not confirm a user who has an app."""
    totp = await user_with_totp(kit, open_browser, clock)
    async with open_browser() as a, open_browser() as b:
        for c in (a, b):
            page = await at_second_step(c)
            assert (await submit_code(c, page, totp.code(clock))).status_code == 303
            clock.advance(30)
        clock.advance(700)
        confirm = await a.get("/auth/user/security/recovery-codes")
        assert confirm.status_code == 303 and "/auth/reverify" in confirm.headers["location"]
        fields = hidden_fields((await a.get("/auth/user")).text)
        r = await a.post("/auth/user/security/totp/disable", data=fields)
        assert r.status_code == 303 and "/auth/reverify" in r.headers["location"], r.text
        async with kit.services.db.session() as s:
            assert len((await s.exec(select(AuthenticatorRow))).all()) == 1
        # Session A confirms with the password only: the app is still owed.
        page = await a.get(confirm.headers["location"])
        r = await a.post("/auth/reverify", data={**hidden_fields(page.text), "password": PASSWORD})
        assert "/reverify/factor/totp" in r.headers["location"], r.headers
        assert (await a.get("/auth/user/security/totp/disable")).status_code == 303
        step = await a.get(r.headers["location"])
        assert (await submit_code(a, step, totp.code(clock))).status_code == 303
        assert (await a.get("/auth/user/security/totp/disable")).status_code == 200
        # Session B, of the same user, is not confirmed by A's step-up.
        assert (await b.get("/auth/user/security/totp/disable")).status_code == 303


async def test_one_magic_link_confirmed_ten_times_at_once_signs_in_once(
    kit: AuthKit, open_browser: Browser, mailbox: Mailbox
) -> None:
    """The link's confirming post, sent ten times in parallel, creates one session (#27)."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    results: list[httpx.Response] = []
    async with open_browser() as c:
        await choose_method(c, EMAIL, "email_link")
        link = link_in(await mailed(kit, mailbox, EMAIL))
        confirm = await follow(c, await open_link(c, link))
        fields = hidden_fields(confirm.text)

        async def post() -> None:
            results.append(await c.post("/auth/sign-in/link", data=fields))

        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(post)
    assert sum(sets_session(r) for r in results) == 1, [r.status_code for r in results]
    assert await sessions(kit) == 1


async def test_a_fresh_password_does_not_stand_in_for_a_second_factor_set_up_elsewhere(
    kit: AuthKit, open_browser: Browser, clock: FakeClock
) -> None:
    """A session signed in with the password just before the app was turned on in
    another session has a fresh first factor and no second: sensitive pages still ask to
    confirm it, app code included."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    async with open_browser() as a, open_browser() as b:
        assert (await sign_in_password(b)).status_code == 303
        assert (await sign_in_password(a)).status_code == 303
        await set_up_totp(a, clock)
        r = await b.get("/auth/user/security/totp/disable")
        assert r.status_code == 303 and "/auth/reverify" in r.headers["location"], r.headers


async def test_every_new_form_refuses_a_post_without_this_browsers_csrf_token(
    kit: AuthKit, open_browser: Browser, clock: FakeClock, mailbox: Mailbox
) -> None:
    """The factor steps, "send a new code", the magic link's button, "Confirm it's you"
    and the security page's changes all answer 403 to a forged token and change nothing
    (#77)."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    forged = {"csrf_token": "forged", "code": "123456", "password": PASSWORD}
    async with open_browser() as visitor, open_browser() as user:
        await choose_method(visitor, EMAIL, "email_code")
        await kit.services.mailer.drain()  # two sends in flight may arrive in either order
        await choose_method(visitor, EMAIL, "email_link")
        link = link_in(await mailed(kit, mailbox, EMAIL))
        await follow(visitor, await open_link(visitor, link))
        for path in (
            "/auth/sign-in/factor/email_code",
            "/auth/sign-in/factor/email_link/resend",
            "/auth/sign-in/link",
        ):
            r = await visitor.post(path, data=forged)
            assert r.status_code == 403, (path, r.status_code, r.text[:300])
            assert not sets_session(r), path
        assert (await sign_in_password(user)).status_code == 303
        for path in (
            "/auth/reverify",
            "/auth/user/security/totp",
            "/auth/user/security/recovery-codes",
        ):
            r = await user.post(path, data=forged)
            assert r.status_code == 403, (path, r.status_code, r.text[:300])
    async with kit.services.db.session() as s:
        assert (await s.exec(select(AuthenticatorRow))).all() == []


async def test_a_set_up_secret_sealed_for_one_user_does_not_set_up_another(
    kit: AuthKit, open_browser: Browser, clock: FakeClock
) -> None:
    """The secret being set up is sealed for its user and for 15 minutes: moved into
    another user's browser, or confirmed too late, it turns nothing on."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    await create_user(kit.services, email=OTHER, password=PASSWORD)
    async with open_browser() as a, open_browser() as b:
        assert (await sign_in_password(a)).status_code == 303
        assert (await sign_in_password(b, OTHER)).status_code == 303
        page_a = await a.get("/auth/user/security/totp")
        secret = secret_on(page_a.text)
        page_b = await b.get("/auth/user/security/totp")
        assert secret_on(page_b.text) != secret
        b.cookies.set("__ak_totp_setup", a.cookies["__ak_totp_setup"], path="/auth")
        r = await submit_code(b, page_b, pyotp.TOTP(secret).at(clock.now))
        assert r.status_code == 422 and "That set-up has expired." in r.text, r.text
        clock.advance(15 * 60 + 1)
        confirm = await a.get("/auth/reverify")  # the page now asks to confirm it's you
        fields = {**hidden_fields(confirm.text), "password": PASSWORD}
        assert (await a.post("/auth/reverify", data=fields)).status_code == 303
        r = await submit_code(a, page_a, pyotp.TOTP(secret).at(clock.now))
        assert r.status_code == 422 and "That set-up has expired." in r.text, r.text
    async with kit.services.db.session() as s:
        assert (await s.exec(select(AuthenticatorRow))).all() == []
