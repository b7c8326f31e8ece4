"""Cases a review of the sign-in pipeline found, each failing before its fix: sign-up
under `AUTHKIT_MFA=required`, "send a new code" for a factor that sends nothing, a set-up
page after the app was set up elsewhere, two tabs confirming one set-up, a magic link
opened in another browser by a user with an app, and the host's step-up after the app
was turned on in another session."""

from __future__ import annotations

import anyio
import httpx
import pyotp
import pytest
from sqlalchemy import func
from sqlmodel import select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.flows.admin import create_user
from authkit.store.models import AuthenticatorRow, RecoveryCodeRow, SessionRow

from ..conftest import FakeClock, KitFactory, Mailbox
from ..hostapp import make_host_app
from .flow_helpers import PASSWORD, csrf_of, open_link, sign_up
from .pipeline_helpers import (
    EMAIL,
    Totp,
    choose_method,
    follow,
    hidden_fields,
    link_in,
    mailed,
    recovery_codes_on,
    secret_on,
    set_up_totp,
    sign_in_password,
    submit_code,
)

pytestmark = pytest.mark.anyio


def browser_for(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def is_signed_in(client: httpx.AsyncClient) -> bool:
    return bool((await client.get("/")).json()["is_signed_in"])


async def count(kit: AuthKit, table: type[SessionRow | AuthenticatorRow | RecoveryCodeRow]) -> int:
    async with kit.services.db.session() as s:
        return int((await s.exec(select(func.count()).select_from(table))).one())


async def test_sign_up_under_required_mfa_sets_up_the_app_before_any_session(
    make_kit: KitFactory, mailbox: Mailbox, clock: FakeClock
) -> None:
    """The code proves the address, then the new account scans a QR code: only the
    app's first code creates the session (amr email_code + totp)."""
    kit = make_kit(mfa="required")
    async with browser_for(make_host_app(kit)) as c:
        r = await sign_up(c, kit, mailbox, EMAIL)
        assert r.status_code == 303 and "/sign-in/mfa-setup" in r.headers["location"], r.headers
        assert not await is_signed_in(c)
        assert await count(kit, SessionRow) == 0
        page = await c.get(r.headers["location"])
        done = await submit_code(c, page, pyotp.TOTP(secret_on(page.text)).at(clock.now))
        assert done.status_code == 200, done.text
        recovery_codes_on(done.text)
        assert await is_signed_in(c)
        async with kit.services.db.session() as s:
            [row] = (await s.exec(select(SessionRow))).all()
        assert row.amr == ["email_code", "totp"]
    await kit.aclose()


@pytest.mark.parametrize("factor", ["password", "totp", "recovery_code"])
async def test_send_again_for_a_factor_that_sends_nothing_starts_over(
    client: httpx.AsyncClient, kit: AuthKit, factor: str
) -> None:
    """ "Send a new code" posted for the password or an app factor: back to the start,
    never a 500 nor a false "we sent a new code"."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    page = await follow(client, await choose_method(client, EMAIL, "email_code"))
    r = await client.post(
        f"/auth/sign-in/factor/{factor}/resend", data={"csrf_token": csrf_of(page.text)}
    )
    assert r.status_code == 303 and "expired=1" in r.headers["location"], r.text


async def test_the_set_up_page_after_the_app_was_set_up_elsewhere_starts_over(
    make_kit: KitFactory, clock: FakeClock
) -> None:
    """Two browsers at the required set-up: once one confirms (a credential change),
    the other's page sends it to sign in again, which then asks for the app's code,
    instead of failing."""
    kit = make_kit(mfa="required")
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    app = make_host_app(kit)
    async with browser_for(app) as a, browser_for(app) as b:
        pages = []
        for c in (a, b):
            r = await sign_in_password(c)
            pages.append(await c.get(r.headers["location"]))
        secret = secret_on(pages[0].text)
        assert (await submit_code(a, pages[0], pyotp.TOTP(secret).at(clock.now))).status_code == 200
        again = await b.get("/auth/sign-in/mfa-setup")
        assert again.status_code == 303 and "expired=1" in again.headers["location"]
        r = await sign_in_password(b)
        assert "/sign-in/factor/totp" in r.headers["location"], r.headers
        step = await b.get(r.headers["location"])
        clock.advance(30)
        done = await submit_code(b, step, pyotp.TOTP(secret).at(clock.now))
        assert done.status_code == 303 and await is_signed_in(b)
    await kit.aclose()


async def test_two_tabs_confirming_one_set_up_make_one_app_and_one_set_of_codes(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """Both tabs post the right first code at once: one app, and the codes shown are the
    ones that work; the other tab goes back to the security page."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    assert (await sign_in_password(client)).status_code == 303
    page = await client.get("/auth/user/security/totp")
    code = pyotp.TOTP(secret_on(page.text)).at(clock.now)
    results: list[httpx.Response] = []

    async def confirm() -> None:
        results.append(await submit_code(client, page, code))

    async with anyio.create_task_group() as tg:
        tg.start_soon(confirm)
        tg.start_soon(confirm)
    assert sorted(r.status_code for r in results) == [200, 303], [r.status_code for r in results]
    shown = recovery_codes_on(next(r for r in results if r.status_code == 200).text)
    assert await count(kit, AuthenticatorRow) == 1
    assert await count(kit, RecoveryCodeRow) == 10
    client.cookies.clear()
    clock.advance(31)
    r = await sign_in_password(client)
    step = await client.get(r.headers["location"].replace("/totp", "/recovery_code"))
    assert (await submit_code(client, step, shown[0])).status_code == 303


async def test_a_magic_link_opened_elsewhere_continues_there_for_a_user_with_an_app(
    make_kit: KitFactory, mailbox: Mailbox, clock: FakeClock
) -> None:
    """With AUTHKIT_EMAIL_LINK_SAME_BROWSER off, the browser that opens the link also
    takes the second step (the attempt moves with it)."""
    kit = make_kit(email_link_same_browser=False)
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    app = make_host_app(kit)
    async with browser_for(app) as setup:
        assert (await sign_in_password(setup)).status_code == 303
        totp: Totp = await set_up_totp(setup, clock)
    clock.advance(31)
    async with browser_for(app) as asking, browser_for(app) as phone:
        await choose_method(asking, EMAIL, "email_link")
        link = link_in(await mailed(kit, mailbox, EMAIL))
        confirm = await follow(phone, await open_link(phone, link))
        r = await phone.post("/auth/sign-in/link", data=hidden_fields(confirm.text))
        assert r.status_code == 303 and "/sign-in/factor/totp" in r.headers["location"], r.text
        step = await phone.get(r.headers["location"])
        assert step.status_code == 200, step.text
        done = await submit_code(phone, step, totp.code(clock))
        assert done.status_code == 303 and await is_signed_in(phone)
        assert not await is_signed_in(asking)
    await kit.aclose()


async def test_turning_the_app_on_ends_the_other_sessions(
    app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    """A session that proved only the password cannot pass the host's step-up once the
    account has an app: turning it on is a credential change, and the other sessions end
    (within a token lifetime) while this one goes on."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    async with browser_for(app) as a, browser_for(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        assert (await sign_in_password(a)).status_code == 303
        assert (await b.get("/sensitive")).status_code == 200
        await set_up_totp(a, clock)
        clock.advance(kit.settings.session_token_lifetime + 1)
        refused = await b.get("/sensitive")
        assert refused.status_code == 303 and "/auth/sign-in" in refused.headers["location"]
        assert not await is_signed_in(b)
        assert (await a.get("/sensitive")).status_code == 200


async def test_turning_the_app_off_ends_the_other_sessions(
    app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    """Removing a factor is a credential change too: a session signed in with the app's
    code ends (within a token lifetime), and the one that turned it off goes on."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    async with browser_for(app) as a, browser_for(app) as b:
        assert (await sign_in_password(a)).status_code == 303
        totp = await set_up_totp(a, clock)
        r = await sign_in_password(b)
        step = await b.get(r.headers["location"])
        clock.advance(30)
        assert (await submit_code(b, step, totp.code(clock))).status_code == 303
        assert await is_signed_in(b)
        confirm = await a.get("/auth/user/security/totp/disable")
        done = await a.post("/auth/user/security/totp/disable", data=hidden_fields(confirm.text))
        assert done.status_code == 303, done.text
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert not await is_signed_in(b)
        assert await is_signed_in(a)
