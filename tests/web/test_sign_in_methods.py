"""The sign-in pipeline's first factors: the password, a code by email and a magic link;
"Use another method"; what the session records; and the attempt's statuses."""

from __future__ import annotations

import re

import httpx
import jwt
import pytest
from sqlmodel import col, select

from authkit import AuthKit
from authkit.flows.admin import create_user
from authkit.store.models import AuditEventRow, SessionRow, SignInAttemptRow

from ..conftest import FakeClock, KitFactory, Mailbox
from ..hostapp import make_host_app
from .flow_helpers import PASSWORD, csrf_of, open_link, subtitle_of
from .pipeline_helpers import (
    EMAIL,
    alert_text,
    choose_method,
    field_error,
    follow,
    link_in,
    mailed,
    sign_in_password,
    submit_code,
)

pytestmark = pytest.mark.anyio

NOBODY = "nobody@example.com"


async def make_user(kit: AuthKit, email: str = EMAIL) -> str:
    await kit.ensure_started()
    return await create_user(kit.services, email=email, password=PASSWORD)


def session_claims(client: httpx.AsyncClient) -> dict[str, object]:
    token = client.cookies.get("__session")
    assert token, client.cookies
    return dict(jwt.decode(token, options={"verify_signature": False}))


async def sessions(kit: AuthKit) -> list[SessionRow]:
    async with kit.services.db.session() as s:
        return list((await s.exec(select(SessionRow))).all())


async def is_signed_in(client: httpx.AsyncClient) -> bool:
    return bool((await client.get("/")).json()["is_signed_in"])


# -- the password ------------------------------------------------------------------------------


async def test_password_sign_in_records_the_factor_on_the_session_and_in_the_token(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """The session row keeps amr and when the factor was verified; the token has fva."""
    user_id = await make_user(kit)
    r = await sign_in_password(client)
    assert r.status_code == 303, r.text
    [row] = await sessions(kit)
    assert (row.user_id, row.amr, row.first_factor_at, row.second_factor_at) == (
        user_id,
        ["password"],
        clock.now,
        None,
    )
    assert session_claims(client)["fva"] == [0, -1]
    clock.advance(5 * 60 + kit.settings.session_token_lifetime)
    assert await is_signed_in(client)  # refreshed: the new token counts the minutes
    assert session_claims(client)["fva"] == [6, -1]


async def test_sign_in_in_one_step_writes_a_completed_attempt(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """A right password with no second factor completes the attempt with the session."""
    await make_user(kit)
    assert (await sign_in_password(client)).status_code == 303
    async with kit.services.db.session() as s:
        [attempt] = (await s.exec(select(SignInAttemptRow))).all()
    [row] = await sessions(kit)
    assert (attempt.status, attempt.first_factor, attempt.session_id) == (
        "complete",
        "password",
        row.id,
    )


async def test_the_first_page_offers_the_configured_methods(
    make_kit: KitFactory,
) -> None:
    """Without passwords the first page has no password field; "Use another method"
    appears only when there is another method."""
    kit = make_kit(sign_in_methods="email_code")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_host_app(kit)), base_url="http://testserver"
    ) as c:
        page = await c.get("/auth/sign-in")
        assert 'name="password"' not in page.text
        assert 'name="method" value="email_code"' in page.text
        assert "Use another method" not in page.text
    await kit.aclose()


# -- a code by email ---------------------------------------------------------------------------


async def test_email_code_signs_in(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """Email me a code → the code page → the mailed code → signed in, with amr email_code."""
    await make_user(kit)
    r = await choose_method(client, EMAIL, "email_code", redirect_url="/dashboard")
    page = await follow(client, r)
    assert subtitle_of(page.text) == "Enter the 6-digit code we sent to ada@example.com."
    code = re.search(r"\b(\d{6})\b", await mailed(kit, mailbox, EMAIL))
    assert code
    done = await submit_code(client, page, code.group(1))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/dashboard"
    assert await is_signed_in(client)
    [row] = await sessions(kit)
    assert row.amr == ["email_code"] and row.first_factor_at == clock.now


async def test_email_code_for_an_unknown_address_looks_the_same_and_mails_nothing(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """No enumeration: the same code page, no mail, and every code is wrong."""
    await make_user(kit)
    known = await follow(client, await choose_method(client, EMAIL, "email_code"))
    client.cookies.clear()
    unknown = await follow(client, await choose_method(client, NOBODY, "email_code"))
    assert known.status_code == unknown.status_code == 200
    strip = re.compile(r'value="[^"]*"|nonce="[^"]*"|ada@example\.com|nobody@example\.com')
    assert strip.sub("", known.text) == strip.sub("", unknown.text)
    await kit.services.mailer.drain()
    assert mailbox.to(NOBODY) == []
    r = await submit_code(client, unknown, "123456")
    assert r.status_code == 422, r.text
    assert field_error(r.text, "code") == "That code is incorrect. Check the email and try again."


async def test_wrong_email_code_keeps_the_page_and_says_so(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """A wrong or malformed code: a message beside the field, still on the code page."""
    await make_user(kit)
    page = await follow(client, await choose_method(client, EMAIL, "email_code"))
    r = await submit_code(client, page, "12ab")
    assert r.status_code == 422
    assert field_error(r.text, "code") == "Enter the 6-digit code from the email."
    code = re.search(r"\b(\d{6})\b", await mailed(kit, mailbox, EMAIL))
    assert code
    wrong = "000000" if code.group(1) != "000000" else "111111"
    r = await submit_code(client, page, wrong)
    assert r.status_code == 422
    assert "we sent to ada@example.com" in subtitle_of(r.text)
    assert not await is_signed_in(client)


async def test_a_new_code_replaces_the_old_one_after_the_cooldown(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """ "Send a new code" waits 30 s; then the newest code works and the old one not."""
    await make_user(kit)
    page = await follow(client, await choose_method(client, EMAIL, "email_code"))
    first = re.findall(r"\b\d{6}\b", await mailed(kit, mailbox, EMAIL))[0]
    resend = re.findall(r'action="([^"]+/resend[^"]*)"', page.text)[0].replace("&amp;", "&")
    too_soon = await client.post(resend, data={"csrf_token": csrf_of(page.text)})
    assert too_soon.status_code == 422, too_soon.text
    assert "Wait" in (field_error(too_soon.text, "code") or ""), too_soon.text
    clock.advance(31)
    again = await client.post(resend, data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 200, again.text
    assert "We sent a new code to ada@example.com." in again.text
    second = re.findall(r"\b\d{6}\b", await mailed(kit, mailbox, EMAIL))[0]
    if first != second:
        r = await submit_code(client, again, first)
        assert r.status_code == 422, r.text
    assert (await submit_code(client, again, second)).status_code == 303


# -- a magic link ----------------------------------------------------------------------------


async def test_magic_link_signs_in_after_a_confirming_post(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """The link's token never reaches a URL (it is in the fragment, posted by the page),
    opening it only shows a button (mail scanners cannot use it up), and the POST signs
    in where the visitor was going."""
    await make_user(kit)
    waiting = await follow(
        client, await choose_method(client, EMAIL, "email_link", redirect_url="/dashboard")
    )
    assert subtitle_of(waiting.text) == "We sent a sign-in link to ada@example.com."
    link = link_in(await mailed(kit, mailbox, EMAIL))
    assert link.startswith("/auth/sign-in/link#token=")
    landing = await client.get("/auth/sign-in/link")
    assert landing.status_code == 200, landing.text
    assert landing.headers["referrer-policy"] == "no-referrer"
    assert 'id="ak-email-link-link"' in landing.text and "data-ak-link-handoff" in landing.text
    landed = await open_link(client, link)
    assert landed.status_code == 303 and "token" not in landed.headers["location"]
    assert landed.headers["referrer-policy"] == "no-referrer"
    confirm = await client.get(landed.headers["location"])
    assert confirm.status_code == 200, confirm.text
    assert subtitle_of(confirm.text) == "Continue as ada@example.com."
    assert not await is_signed_in(client)  # opening the link changed nothing
    done = await client.post("/auth/sign-in/link", data={"csrf_token": csrf_of(confirm.text)})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/dashboard"
    assert await is_signed_in(client)
    [row] = await sessions(kit)
    assert row.amr == ["email_link"]


async def test_magic_link_pasted_with_javascript_off_signs_in(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Without JavaScript the landing page cannot read the fragment: it asks for the
    link, and the pasted link leads to the same confirming button."""
    await make_user(kit)
    await choose_method(client, EMAIL, "email_link", redirect_url="/dashboard")
    link = link_in(await mailed(kit, mailbox, EMAIL))
    landing = await client.get("/auth/sign-in/link")
    assert "Paste the link from the email to sign in" in landing.text, landing.text
    assert (
        '<label class="ak-field__label" for="ak-email-link-link">Link from the email</label>'
        in (landing.text)
    )
    assert 'href="/auth/sign-in/methods"' in landing.text  # another way, with no link at all
    confirm = await follow(client, await open_link(client, f"http://testserver{link}", paste=True))
    assert subtitle_of(confirm.text) == "Continue as ada@example.com."
    assert not await is_signed_in(client)
    done = await client.post("/auth/sign-in/link", data={"csrf_token": csrf_of(confirm.text)})
    assert done.status_code == 303 and done.headers["location"] == "/dashboard", done.text
    assert await is_signed_in(client)


async def test_magic_link_handover_refuses_a_forged_post_and_a_pasted_non_link(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Handing a token over is a CSRF-checked post (no planting someone's link in a
    browser); text that holds no token gets a message beside the field."""
    await make_user(kit)
    await choose_method(client, EMAIL, "email_link")
    token = link_in(await mailed(kit, mailbox, EMAIL)).split("#token=")[1]
    r = await client.post("/auth/sign-in/link", data={"link": token})
    assert r.status_code == 403, r.text
    assert "__ak_sign_in_link" not in r.headers.get("set-cookie", "")
    csrf = csrf_of((await client.get("/auth/sign-in/link")).text)
    r = await client.post("/auth/sign-in/link", data={"csrf_token": csrf, "link": "not a link"})
    assert r.status_code == 422, r.text
    assert field_error(r.text, "link") == "Paste the whole link from the email."
    assert not await is_signed_in(client)


async def test_magic_link_mailed_with_its_token_in_the_query_still_works(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """A link mailed before the token moved to the fragment (10 minutes old at most when
    a site upgrades) is still taken out of the URL into the cookie, as before."""
    await make_user(kit)
    await choose_method(client, EMAIL, "email_link")
    token = link_in(await mailed(kit, mailbox, EMAIL)).split("#token=")[1]
    landed = await client.get(f"/auth/sign-in/link?token={token}")
    assert landed.status_code == 303 and token not in landed.headers["location"]
    confirm = await follow(client, landed)
    assert subtitle_of(confirm.text) == "Continue as ada@example.com."


async def test_magic_link_works_once(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """A used link says it expired."""
    await make_user(kit)
    await choose_method(client, EMAIL, "email_link")
    link = link_in(await mailed(kit, mailbox, EMAIL))
    confirm = await follow(client, await open_link(client, link))
    assert (
        await client.post("/auth/sign-in/link", data={"csrf_token": csrf_of(confirm.text)})
    ).status_code == 303
    again = await open_link(client, link)
    assert again.status_code == 410, again.text
    assert "The sign-in link has expired or was already used." in again.text


async def test_magic_link_in_another_browser_is_refused_when_same_browser_is_on(
    app: object, kit: AuthKit, mailbox: Mailbox, client: httpx.AsyncClient
) -> None:
    """By default the link works only where it was asked for; elsewhere it says so."""
    await make_user(kit)
    await choose_method(client, EMAIL, "email_link")
    link = link_in(await mailed(kit, mailbox, EMAIL))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
    ) as other:
        landed = await follow(other, await open_link(other, link))
        assert landed.status_code == 403, landed.text
        assert "works only in the browser where you asked for it" in landed.text
        assert not await is_signed_in(other)
    # The browser that asked can still use it.
    confirm = await follow(client, await open_link(client, link))
    assert confirm.status_code == 200


async def test_magic_link_in_another_browser_signs_that_browser_in_when_allowed(
    make_kit: KitFactory, mailbox: Mailbox
) -> None:
    """With AUTHKIT_EMAIL_LINK_SAME_BROWSER off, the browser that opens the link signs in."""
    kit = make_kit(email_link_same_browser=False)
    await make_user(kit)
    app = make_host_app(kit)

    def browser() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )

    async with browser() as asking, browser() as phone:
        await choose_method(asking, EMAIL, "email_link")
        link = link_in(await mailed(kit, mailbox, EMAIL))
        confirm = await follow(phone, await open_link(phone, link))
        assert confirm.status_code == 200, confirm.text
        done = await phone.post("/auth/sign-in/link", data={"csrf_token": csrf_of(confirm.text)})
        assert done.status_code == 303, done.text
        assert await is_signed_in(phone)
        assert not await is_signed_in(asking)
    await kit.aclose()


# -- "Use another method" ----------------------------------------------------------------------


async def test_use_another_method_lists_every_method_and_keeps_the_address(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """The list has one button per method; from a code page it keeps the typed address."""
    await make_user(kit)
    methods = await client.get("/auth/sign-in/methods")
    for method in ("password", "email_code", "email_link"):
        assert f'name="method" value="{method}"' in methods.text, methods.text
    page = await follow(client, await choose_method(client, EMAIL, "email_code"))
    assert "Use another method" in page.text or "Sign in with your password" in page.text
    again = await client.get("/auth/sign-in/methods")
    assert 'value="ada@example.com"' in again.text


async def test_choosing_the_password_shows_the_password_field_without_an_error(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """Password from the list: the first page, address kept, nothing flagged yet."""
    await make_user(kit)
    r = await choose_method(client, EMAIL, "password")
    assert r.status_code == 200, r.text
    assert 'name="password"' in r.text and 'value="ada@example.com"' in r.text
    assert field_error(r.text, "password") is None and alert_text(r.text) is None


async def test_a_method_the_site_does_not_offer_is_refused(
    make_kit: KitFactory,
) -> None:
    """A forged `method` outside AUTHKIT_SIGN_IN_METHODS changes nothing."""
    kit = make_kit(sign_in_methods="password")
    await make_user(kit)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_host_app(kit)), base_url="http://testserver"
    ) as c:
        r = await choose_method(c, EMAIL, "email_code")
        assert r.status_code == 422, r.text
        assert alert_text(r.text) == "That sign-in method is not available."
    await kit.aclose()


# -- the attempt -------------------------------------------------------------------------------


async def test_an_attempt_expires_after_ten_minutes(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """After 10 minutes the code page sends the visitor back to start, with a sentence."""
    await make_user(kit)
    page = await follow(client, await choose_method(client, EMAIL, "email_code"))
    code = re.findall(r"\b\d{6}\b", await mailed(kit, mailbox, EMAIL))[0]
    clock.advance(10 * 60 + 1)
    r = await submit_code(client, page, code)
    assert r.status_code == 303, r.text
    start = await client.get(r.headers["location"])
    assert alert_text(start.text) == "That sign-in has expired. Please start again."
    assert not await is_signed_in(client)


async def test_every_step_is_audited_with_its_method(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """A wrong code and a right one: sign_in.failed then sign_in, both naming email_code."""
    await make_user(kit)
    page = await follow(client, await choose_method(client, EMAIL, "email_code"))
    code = re.findall(r"\b\d{6}\b", await mailed(kit, mailbox, EMAIL))[0]
    wrong = "000000" if code != "000000" else "111111"
    assert (await submit_code(client, page, wrong)).status_code == 422
    clock.advance(1)
    assert (await submit_code(client, page, code)).status_code == 303
    async with kit.services.db.session() as s:
        rows = (
            await s.exec(
                select(AuditEventRow)
                .where(col(AuditEventRow.event).in_(["sign_in", "sign_in.failed"]))
                .order_by(col(AuditEventRow.at))
            )
        ).all()
    assert [(r.event, r.detail.get("method"), r.detail.get("reason")) for r in rows] == [
        ("sign_in.failed", "email_code", "wrong_code"),
        ("sign_in", "email_code", None),
    ]


async def test_the_embedded_sign_in_offers_the_same_methods(
    client: httpx.AsyncClient, make_kit: KitFactory
) -> None:
    """`{{ authkit.sign_in() }}` in a host page shows the first page as the sub-app does:
    the password field and "Use another method", or only the address when the first
    method sends a code."""
    page = await client.get("/embedded")
    assert page.status_code == 200, page.text
    assert 'name="password"' in page.text and "Use another method" in page.text
    assert "/auth/sign-in/methods?redirect_url=%2Fembedded" in page.text
    kit = make_kit(sign_in_methods="email_link,password")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_host_app(kit)), base_url="http://testserver"
    ) as c:
        page = await c.get("/embedded")
        assert 'name="password"' not in page.text
        assert 'name="method" value="email_link"' in page.text
    await kit.aclose()
