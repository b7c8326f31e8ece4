"""Two-step verification: setting up an authenticator app from the security page, the
second step at sign-in (app code or recovery code), new recovery codes, turning it off,
`AUTHKIT_MFA=required`, and the emails each change sends."""

from __future__ import annotations

import re

import httpx
import jwt
import pytest
from sqlmodel import col, select

from authkit import AuthKit
from authkit.flows.admin import create_user
from authkit.store.models import AuthenticatorRow, RecoveryCodeRow, SessionRow

from ..conftest import FakeClock, KitFactory, Mailbox
from ..hostapp import make_host_app
from .flow_helpers import PASSWORD, csrf_of
from .pipeline_helpers import (
    EMAIL,
    Totp,
    field_error,
    form_action,
    hidden_fields,
    recovery_codes_on,
    secret_on,
    set_up_totp,
    sign_in_password,
    submit_code,
)

pytestmark = pytest.mark.anyio

TOTP_INVALID = "That code is incorrect. Enter the newest code from your app."


async def make_user(kit: AuthKit) -> str:
    await kit.ensure_started()
    return await create_user(kit.services, email=EMAIL, password=PASSWORD)


async def is_signed_in(client: httpx.AsyncClient) -> bool:
    return bool((await client.get("/")).json()["is_signed_in"])


async def signed_in_with_totp(client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock) -> Totp:
    """A user who signed in and turned on an authenticator app, then signed out."""
    await make_user(kit)
    assert (await sign_in_password(client)).status_code == 303
    totp = await set_up_totp(client, clock)
    client.cookies.clear()
    clock.advance(31)  # the next code step: the set-up code is used
    return totp


async def second_step(client: httpx.AsyncClient) -> httpx.Response:
    """Sign in with the password; returns the second-factor page it leads to."""
    r = await sign_in_password(client)
    assert r.status_code == 303, r.text
    assert "/sign-in/factor/totp" in r.headers["location"], r.headers
    return await client.get(r.headers["location"])


async def mails_to(kit: AuthKit, mailbox: Mailbox) -> list[str]:
    await kit.services.mailer.drain()
    return [str(m["Subject"]) for m in mailbox.to(EMAIL)]


# -- setting up ---------------------------------------------------------------------------------


async def test_set_up_shows_the_secret_three_ways_and_confirms_with_a_first_code(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock, mailbox: Mailbox
) -> None:
    """QR code (inline SVG), the key as text, an otpauth:// link; the first code turns it
    on, shows ten recovery codes once, and mails a notice."""
    await make_user(kit)
    assert (await sign_in_password(client)).status_code == 303
    page = await client.get("/auth/user/security/totp")
    assert page.status_code == 200, page.text
    assert "<svg" in page.text and "<title>QR code for your authenticator app</title>" in page.text
    secret = secret_on(page.text)
    assert len(secret) == 32  # 160 bits
    assert re.search(rf'href="otpauth://totp/authkit:ada%40example.com\?secret={secret}', page.text)
    async with kit.services.db.session() as s:
        # Showing the QR code writes nothing: the secret waits in a sealed cookie.
        assert (await s.exec(select(AuthenticatorRow))).all() == []
    assert secret not in str(client.cookies.get("__ak_totp_setup"))
    totp = Totp(secret, [])
    wrong = await submit_code(client, page, totp.code(clock, 5))
    assert wrong.status_code == 422
    assert field_error(wrong.text, "code") == TOTP_INVALID
    assert secret_on(wrong.text) == secret  # the same QR code again
    done = await submit_code(client, wrong, totp.code(clock))
    assert done.status_code == 200, done.text
    codes = recovery_codes_on(done.text)
    assert all(re.fullmatch(r"[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}", c) for c in codes)
    assert 'download="authkit-recovery-codes.txt"' in done.text
    async with kit.services.db.session() as s:
        stored = [r.code_hash for r in (await s.exec(select(RecoveryCodeRow))).all()]
        [row] = (await s.exec(select(AuthenticatorRow))).all()
    assert len(stored) == 10 and not set(codes) & set(stored)
    assert row.confirmed_at == clock.now and secret not in row.secret_encrypted
    security = await client.get("/auth/user/security")
    assert "10 of 10 codes left." in security.text
    assert "Two-step verification is on for your authkit account" in await mails_to(kit, mailbox)


async def test_turning_it_on_counts_as_this_sessions_second_factor(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """The set-up code proves the app: the session's second factor time is now."""
    await make_user(kit)
    assert (await sign_in_password(client)).status_code == 303
    await set_up_totp(client, clock)
    async with kit.services.db.session() as s:
        [row] = (await s.exec(select(SessionRow))).all()
    assert row.second_factor_at == clock.now


# -- signing in with it -------------------------------------------------------------------------


async def test_sign_in_asks_for_the_app_code_and_records_both_factors(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """Password, then the app's code: the session has amr [password, totp] and fva [0, 0]."""
    totp = await signed_in_with_totp(client, kit, clock)
    page = await second_step(client)
    assert "Enter the 6-digit code from your authenticator app." in page.text
    assert "Use a recovery code" in page.text
    assert not await is_signed_in(client)
    done = await submit_code(client, page, totp.code(clock))
    assert done.status_code == 303, done.text
    assert await is_signed_in(client)
    async with kit.services.db.session() as s:
        rows = (await s.exec(select(SessionRow).order_by(col(SessionRow.created_at)))).all()
    # The set-up's session (password; its second factor came later), then this one.
    assert [r.amr for r in rows] == [["password"], ["password", "totp"]]
    claims = jwt.decode(client.cookies["__session"], options={"verify_signature": False})
    assert claims["fva"] == [0, 0]


async def test_a_wrong_app_code_is_refused_beside_the_field(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """Malformed and wrong codes: a message beside the field, still on the step."""
    totp = await signed_in_with_totp(client, kit, clock)
    page = await second_step(client)
    r = await submit_code(client, page, "abc")
    assert r.status_code == 422
    assert field_error(r.text, "code") == "Enter the 6-digit code from your authenticator app."
    r = await submit_code(client, page, totp.code(clock, 3))
    assert r.status_code == 422 and field_error(r.text, "code") == TOTP_INVALID
    assert not await is_signed_in(client)


async def test_a_recovery_code_signs_in_once_and_mails_a_notice(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock, mailbox: Mailbox
) -> None:
    """Any spelling of a recovery code works once; the owner hears of it, with the count."""
    totp = await signed_in_with_totp(client, kit, clock)
    page = await second_step(client)
    link = re.search(r'href="([^"]+/factor/recovery_code[^"]*)"', page.text)
    assert link
    recovery = await client.get(link.group(1).replace("&amp;", "&"))
    assert "Enter one of the recovery codes" in recovery.text
    code = totp.recovery_codes[0]
    done = await submit_code(client, recovery, " " + code.upper().replace("-", " ") + " ")
    assert done.status_code == 303, done.text
    assert await is_signed_in(client)
    assert "A recovery code was used to sign in to authkit" in await mails_to(kit, mailbox)
    assert "9 codes are left." in mailbox.text_of(mailbox.to(EMAIL)[-1])
    client.cookies.clear()
    page = await second_step(client)
    again = await submit_code(
        client, page, code, action=form_action(page.text).replace("/totp", "/recovery_code")
    )
    assert again.status_code == 422, again.text
    assert field_error(again.text, "code") == (
        "That recovery code is incorrect or was already used."
    )
    assert not await is_signed_in(client)


# -- managing it --------------------------------------------------------------------------------


async def test_new_recovery_codes_replace_the_old_ones(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """Generate new codes: the old set stops working, the new one is shown once."""
    await make_user(kit)
    assert (await sign_in_password(client)).status_code == 303
    old = await set_up_totp(client, clock)
    confirm = await client.get("/auth/user/security/recovery-codes")
    assert "Generate new recovery codes?" in confirm.text
    done = await client.post("/auth/user/security/recovery-codes", data=hidden_fields(confirm.text))
    assert done.status_code == 200, done.text
    new = recovery_codes_on(done.text)
    assert not set(new) & set(old.recovery_codes)
    client.cookies.clear()
    clock.advance(31)
    page = await second_step(client)
    action = form_action(page.text).replace("/totp", "/recovery_code")
    assert (
        await submit_code(client, page, old.recovery_codes[0], action=action)
    ).status_code == 422
    assert (await submit_code(client, page, new[0], action=action)).status_code == 303


async def test_turning_it_off_removes_the_app_and_the_codes(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock, mailbox: Mailbox
) -> None:
    """After confirming, sign-in asks only for the password again; a notice is mailed."""
    await make_user(kit)
    assert (await sign_in_password(client)).status_code == 303
    await set_up_totp(client, clock)
    confirm = await client.get("/auth/user/security/totp/disable")
    assert "Turn off two-step verification?" in confirm.text
    done = await client.post("/auth/user/security/totp/disable", data=hidden_fields(confirm.text))
    assert done.status_code == 303, done.text
    page = await client.get(done.headers["location"])
    assert "Two-step verification is off." in page.text
    async with kit.services.db.session() as s:
        assert (await s.exec(select(AuthenticatorRow))).all() == []
        assert (await s.exec(select(RecoveryCodeRow))).all() == []
    assert "Two-step verification is off for your authkit account" in await mails_to(kit, mailbox)
    client.cookies.clear()
    assert (await sign_in_password(client)).headers["location"] == "/"


async def test_set_up_and_changes_need_csrf(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """A post without this browser's token changes nothing."""
    await make_user(kit)
    assert (await sign_in_password(client)).status_code == 303
    await set_up_totp(client, clock)
    r = await client.post("/auth/user/security/totp/disable", data={"csrf_token": "forged"})
    assert r.status_code == 403, r.text
    async with kit.services.db.session() as s:
        assert len((await s.exec(select(AuthenticatorRow))).all()) == 1


# -- AUTHKIT_MFA=required ------------------------------------------------------------------------


async def test_required_mfa_sets_up_an_app_before_the_session_exists(
    make_kit: KitFactory, clock: FakeClock, mailbox: Mailbox
) -> None:
    """A user without a second factor scans a QR code at sign-in; only its first code
    creates the session, which shows the recovery codes; turning it off is refused."""
    kit = make_kit(mfa="required")
    await make_user(kit)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_host_app(kit)), base_url="http://testserver"
    ) as c:
        r = await sign_in_password(c)
        assert r.status_code == 303 and "/sign-in/mfa-setup" in r.headers["location"], r.headers
        assert not await is_signed_in(c)
        assert (await c.get("/auth/user/security")).status_code == 303  # no session yet
        page = await c.get(r.headers["location"])
        assert "requires two-step verification" in page.text, page.text
        totp = Totp(secret_on(page.text), [])
        done = await submit_code(c, page, totp.code(clock))
        assert done.status_code == 200, done.text
        recovery_codes_on(done.text)
        assert await is_signed_in(c)
        async with kit.services.db.session() as s:
            [row] = (await s.exec(select(SessionRow))).all()
        assert row.amr == ["password", "totp"]
        security = await c.get("/auth/user/security")
        assert "/totp/disable" not in security.text
        confirm = await c.get("/auth/user/security/totp/disable")
        refused = await c.post("/auth/user/security/totp/disable", data=hidden_fields(confirm.text))
        assert refused.status_code == 422
        assert "cannot be turned off" in refused.text
    await kit.aclose()


async def test_a_code_already_sent_with_the_form_is_kept_on_the_step(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """The second step keeps its redirect_url through a wrong code."""
    totp = await signed_in_with_totp(client, kit, clock)
    r = await sign_in_password(client)
    page = await client.get(r.headers["location"])
    fields = hidden_fields(page.text)
    fields["redirect_url"] = "/dashboard"
    wrong = await client.post(form_action(page.text), data={**fields, "code": "000000"})
    assert 'name="redirect_url" value="/dashboard"' in wrong.text
    done = await client.post(form_action(page.text), data={**fields, "code": totp.code(clock)})
    assert done.headers["location"] == "/dashboard"
    assert csrf_of(page.text)


async def test_app_codes_are_accepted_one_step_either_side_and_no_further(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """Clock drift of ±30 s is forgiven (NIST ±1 step); two steps off is refused; spaces
    in the code do not matter."""
    totp = await signed_in_with_totp(client, kit, clock)
    clock.advance(60)  # the step before now is later than the set-up's (used) step
    page = await second_step(client)
    assert (await submit_code(client, page, totp.code(clock, -2))).status_code == 422
    assert (await submit_code(client, page, totp.code(clock, 2))).status_code == 422
    code = totp.code(clock, -1)
    assert (await submit_code(client, page, f"{code[:3]} {code[3:]}")).status_code == 303


async def test_an_unconfirmed_set_up_is_not_a_second_factor(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """A QR code scanned but never confirmed asks nothing more at sign-in (#60)."""
    await make_user(kit)
    assert (await sign_in_password(client)).status_code == 303
    assert (await client.get("/auth/user/security/totp")).status_code == 200
    client.cookies.clear()
    r = await sign_in_password(client)
    assert r.status_code == 303 and r.headers["location"] == "/", r.headers


async def test_a_password_reset_keeps_two_step_verification(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock, mailbox: Mailbox
) -> None:
    """After a reset by email the new password still needs the app's code (#35)."""
    totp = await signed_in_with_totp(client, kit, clock)
    page = await client.get("/auth/forgot-password")
    r = await client.post(
        "/auth/forgot-password", data={**hidden_fields(page.text), "email": EMAIL}
    )
    assert r.status_code == 303, r.text
    reset = await client.get(r.headers["location"])
    await kit.services.mailer.drain()
    code = re.findall(r"\b\d{6}\b", mailbox.text_of(mailbox.to(EMAIL)[-1]))[0]
    new_password = "another perfectly fine passphrase"
    done = await client.post(
        "/auth/reset-password",
        data={
            **hidden_fields(reset.text),
            "code": code,
            "password": new_password,
            "password_confirm": new_password,
        },
    )
    assert done.status_code == 303, done.text
    r = await sign_in_password(client, EMAIL, new_password)
    assert r.status_code == 303 and "/sign-in/factor/totp" in r.headers["location"]
    assert not await is_signed_in(client)
    page = await client.get(r.headers["location"])
    assert (await submit_code(client, page, totp.code(clock))).status_code == 303
