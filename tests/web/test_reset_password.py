"""Forgot and reset password by emailed code or link, on SQLite and on PostgreSQL: no
account enumeration, single use, expiry, tries, every session ended, no auto sign-in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from sqlmodel import select

from authkit import AuthKit
from authkit.flows.admin import ban_user, find_user_id
from authkit.store.models import AuditEventRow, VerificationCodeRow

from ..conftest import FakeClock, Mailbox
from .flow_helpers import (
    PASSWORD,
    csrf_of,
    form_token,
    open_link,
    sign_in,
    sign_out,
    sign_up,
    subtitle_of,
    without_per_response_values,
)

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "a brand new passphrase"
#: The mailed link: its token in the fragment, which a browser never sends.
LINK = re.compile(r"(\S+/reset-password\?link=1#token=)([\w-]+)")


@pytest.fixture
async def other_browser(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A second other_browser on the same site, with its own cookies."""
    async with httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver"
    ) as other:
        yield other


async def forgot(
    client: httpx.AsyncClient, email: str, *, headers: dict[str, str] | None = None
) -> httpx.Response:
    token = await form_token(client, "/auth/forgot-password")
    return await client.post(
        "/auth/forgot-password", data={"csrf_token": token, "email": email}, headers=headers
    )


async def submit_code(
    client: httpx.AsyncClient,
    code: str,
    password: str = NEW_PASSWORD,
    confirm: str | None = None,
) -> httpx.Response:
    token = await form_token(client, "/auth/forgot-password")
    return await client.post(
        "/auth/reset-password",
        data={
            "csrf_token": token,
            "code": code,
            "password": password,
            "password_confirm": password if confirm is None else confirm,
        },
    )


async def submit_link(
    client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    csrf = await form_token(client, "/auth/forgot-password")
    return await client.post(
        "/auth/reset-password",
        data={
            "csrf_token": csrf,
            "token": token,
            "password": password,
            "password_confirm": password,
        },
    )


def link_to(token: str) -> str:
    """The mailed link of `token`, without the site."""
    return f"/auth/reset-password?link=1#token={token}"


async def mails_to(kit: AuthKit, mailbox: Mailbox, email: str) -> list[str]:
    await kit.services.mailer.drain()
    return [Mailbox.text_of(m) for m in mailbox.to(email)]


async def reset_mail(kit: AuthKit, mailbox: Mailbox, email: str) -> tuple[str, str]:
    """The code and the link's token of the newest reset mail to `email`."""
    body = (await mails_to(kit, mailbox, email))[-1]
    code = re.search(r"\b(\d{6})\b", body)
    link = LINK.search(body)
    assert code and link, body
    return code.group(1), link.group(2)


async def new_user(client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, email: str) -> None:
    r = await sign_up(client, kit, mailbox, email)
    assert r.status_code == 303, r.text
    await sign_out(client)


def _cookie_shapes(r: httpx.Response) -> list[str]:
    return sorted(re.sub(r"=[^;]*", "=…", h, count=1) for h in r.headers.get_list("set-cookie"))


def _masked(html: str) -> str:
    return without_per_response_values(html)


async def test_known_and_unknown_email_get_the_same_answer(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    kit: AuthKit,
    mailbox: Mailbox,
) -> None:
    """Status, redirect, cookie and page are the same; only a real account gets mail."""
    await new_user(client, kit, mailbox, "margaret@example.com")
    before = len(mailbox.messages)
    known = await forgot(client, "margaret@example.com")
    unknown = await forgot(other_browser, "nobodyxx@example.com")
    assert known.status_code == unknown.status_code == 303, known.text
    assert known.headers["location"] == unknown.headers["location"]
    assert known.headers["location"].startswith("/auth/reset-password")
    assert _cookie_shapes(known) == _cookie_shapes(unknown)
    assert "__ak_reset=" in known.headers["set-cookie"]
    known_page = await client.get(known.headers["location"])
    unknown_page = await other_browser.get(unknown.headers["location"])
    assert known_page.status_code == unknown_page.status_code == 200
    notice = "If an account exists for margaret@example.com, we sent a 6-digit code and a link."
    assert notice in known_page.text
    assert _masked(known_page.text).replace("margaret", "nobodyxx") == _masked(unknown_page.text)
    assert dict(known_page.headers).keys() == dict(unknown_page.headers).keys()
    assert len(await mails_to(kit, mailbox, "margaret@example.com")) == 2  # sign-up + reset
    assert await mails_to(kit, mailbox, "nobodyxx@example.com") == []
    assert len(mailbox.messages) == before + 1
    # The unknown attempt takes codes like a real one and refuses them all alike.
    r = await submit_code(other_browser, "123456")
    assert r.status_code == 422, r.text
    assert "That code is incorrect" in r.text


async def test_reset_by_code_changes_the_password_and_ends_every_session(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    kit: AuthKit,
    mailbox: Mailbox,
    clock: FakeClock,
) -> None:
    """Old password out, new one in, every earlier session over, owner told, no sign-in."""
    email = "ada@example.com"
    await sign_up(client, kit, mailbox, email)
    assert (await sign_in(other_browser, email)).status_code == 303
    assert (await other_browser.get("/")).json()["is_signed_in"] is True

    r = await forgot(client, email)
    r = await client.get(r.headers["location"])
    assert r.status_code == 200, r.text
    assert r.headers["referrer-policy"] == "no-referrer"
    assert 'name="code"' in r.text
    assert "Confirm new password" in r.text
    code, _ = await reset_mail(kit, mailbox, email)
    r = await submit_code(client, code)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/auth/sign-in?reset=1&redirect_url=%2F"
    # Not signed in automatically: this other_browser's session cookies are gone.
    assert (await client.get("/")).json()["is_signed_in"] is False
    page = await client.get(r.headers["location"])
    assert "Your password was changed. Sign in with your new password." in page.text

    clock.advance(kit.settings.session_token_lifetime + 1)
    assert (await other_browser.get("/")).json()["is_signed_in"] is False
    assert (await sign_in(client, email, PASSWORD)).status_code == 422
    assert (await sign_in(client, email, NEW_PASSWORD)).status_code == 303
    assert (await client.get("/")).json()["is_signed_in"] is True
    last = (await mails_to(kit, mailbox, email))[-1]
    assert "was just changed" in last
    assert "http://testserver/auth/forgot-password" in last
    async with kit.services.db.session() as s:
        events = [e.event for e in (await s.exec(select(AuditEventRow))).all()]
    assert "password.reset" in events


async def test_reset_by_link_works_in_another_browser(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    kit: AuthKit,
    mailbox: Mailbox,
) -> None:
    """The mailed link needs no cookie: a fresh other_browser sets the password, no code
    field. The token is never in a URL: the page posts it from the fragment (#34)."""
    email = "grace@example.com"
    await new_user(client, kit, mailbox, email)
    await forgot(client, email)
    _, token = await reset_mail(kit, mailbox, email)
    landing = await other_browser.get("/auth/reset-password?link=1")
    assert landing.status_code == 200, landing.text
    assert landing.headers["referrer-policy"] == "no-referrer"
    assert "data-ak-link-handoff" in landing.text
    r = await open_link(other_browser, link_to(token))
    # Taken into a cookie, and on to a URL without it.
    assert r.status_code == 303, r.text
    assert r.headers["referrer-policy"] == "no-referrer"
    assert token not in r.headers["location"]
    r = await other_browser.get(r.headers["location"])
    assert r.status_code == 200, r.text
    assert token not in str(r.url)
    assert r.headers["referrer-policy"] == "no-referrer"
    assert 'name="code"' not in r.text
    assert f'name="token" value="{token}"' in r.text
    assert subtitle_of(r.text) == "Choose a new password for grace@example.com."
    r = await other_browser.post(
        "/auth/reset-password",
        data={
            "csrf_token": csrf_of(r.text),
            "token": token,
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        },
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/auth/sign-in?reset=1")
    assert (await sign_in(other_browser, email, PASSWORD)).status_code == 422
    assert (await sign_in(other_browser, email, NEW_PASSWORD)).status_code == 303


async def test_link_opened_with_javascript_off_where_the_reset_was_asked_takes_the_code(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Without JavaScript the page cannot read the fragment: the browser that asked for
    the reset gets the code form, and the code of the same mail sets the password."""
    email = "mary@example.com"
    await new_user(client, kit, mailbox, email)
    await forgot(client, email)
    code, _ = await reset_mail(kit, mailbox, email)
    r = await client.get("/auth/reset-password?link=1")
    assert r.status_code == 200, r.text
    assert r.headers["referrer-policy"] == "no-referrer"
    assert 'name="code"' in r.text and "Enter the code from the email" in r.text
    assert "If an account exists" not in r.text
    assert (await submit_code(client, code)).status_code == 303
    assert (await sign_in(client, email, NEW_PASSWORD)).status_code == 303


async def test_link_pasted_with_javascript_off_in_another_browser_sets_the_password(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    kit: AuthKit,
    mailbox: Mailbox,
) -> None:
    """Another browser without JavaScript is asked for the link; the pasted link opens
    the new-password form like the page's script would."""
    email = "sophie@example.com"
    await new_user(client, kit, mailbox, email)
    await forgot(client, email)
    _, token = await reset_mail(kit, mailbox, email)
    landing = await other_browser.get("/auth/reset-password?link=1")
    assert landing.status_code == 200, landing.text
    assert "Paste the link from the email to choose a new password." in landing.text
    assert 'id="ak-reset-password-link"' in landing.text and 'name="code"' not in landing.text
    assert 'href="/auth/forgot-password"' in landing.text
    r = await open_link(other_browser, f"http://testserver{link_to(token)}", paste=True)
    assert r.status_code == 303 and token not in r.headers["location"], r.text
    page = await other_browser.get(r.headers["location"])
    assert subtitle_of(page.text) == "Choose a new password for sophie@example.com."
    r = await submit_link(other_browser, token)
    assert r.status_code == 303, r.text
    assert (await sign_in(other_browser, email, NEW_PASSWORD)).status_code == 303


async def test_pasting_something_that_is_not_the_link_is_refused_beside_the_field(
    other_browser: httpx.AsyncClient,
) -> None:
    """No token-shaped value: a message beside the field, the text not echoed, nothing
    looked up and no cookie."""
    csrf = csrf_of((await other_browser.get("/auth/reset-password?link=1")).text)
    for pasted in ("", "hello <b>there</b>", "http://testserver/auth/reset-password?link=1"):
        r = await other_browser.post(
            "/auth/reset-password", data={"csrf_token": csrf, "link": pasted}
        )
        assert r.status_code == 422, r.text
        assert (
            'id="ak-reset-password-link-error"' in r.text
            and "Paste the whole link from the email." in r.text
        )
        assert "<b>there" not in r.text
        assert "set-cookie" not in r.headers or "__ak_reset_link" not in r.headers["set-cookie"]


async def test_handing_over_the_link_needs_the_csrf_token(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    kit: AuthKit,
    mailbox: Mailbox,
) -> None:
    """A forged post of a token is refused before the token is looked up or stored (a
    login-CSRF-like planting of someone's link); the link still works afterwards."""
    email = "emmy@example.com"
    await new_user(client, kit, mailbox, email)
    await forgot(client, email)
    _, token = await reset_mail(kit, mailbox, email)
    await other_browser.get("/auth/reset-password?link=1")
    r = await other_browser.post("/auth/reset-password", data={"link": token})
    assert r.status_code == 403, r.text
    assert "__ak_reset_link" not in r.headers.get("set-cookie", "")
    assert token not in r.text
    assert (await open_link(other_browser, link_to(token))).status_code == 303


async def test_a_link_mailed_with_its_token_in_the_query_still_works_during_its_life(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    kit: AuthKit,
    mailbox: Mailbox,
) -> None:
    """Links mailed before the token moved to the fragment (minutes old at most when a
    site upgrades) are still taken: out of the URL into the cookie, as before."""
    email = "lise@example.com"
    await new_user(client, kit, mailbox, email)
    await forgot(client, email)
    _, token = await reset_mail(kit, mailbox, email)
    r = await other_browser.get(f"/auth/reset-password?token={token}")
    assert r.status_code == 303 and token not in r.headers["location"], r.text
    page = await other_browser.get(r.headers["location"])
    assert f'name="token" value="{token}"' in page.text


async def test_link_works_once(client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox) -> None:
    """A used link shows the expired page, with a way to ask for a new one."""
    email = "linus@example.com"
    await new_user(client, kit, mailbox, email)
    await forgot(client, email)
    code, token = await reset_mail(kit, mailbox, email)
    assert (await submit_link(client, token)).status_code == 303
    r = await open_link(client, link_to(token))
    assert r.status_code == 410, r.text
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "This link has expired or was already used." in r.text
    assert 'href="/auth/forgot-password"' in r.text
    assert token not in r.text
    r = await submit_link(client, token, "yet another passphrase")
    assert r.status_code == 410, r.text
    # The code of the same mail died with the link.
    assert (await submit_code(client, code, "yet another passphrase")).status_code == 410
    assert (await sign_in(client, email, NEW_PASSWORD)).status_code == 303


async def test_a_reset_kills_every_other_open_reset_of_the_account(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    kit: AuthKit,
    mailbox: Mailbox,
) -> None:
    """An older mail's link stops working once the password was reset with a newer one."""
    email = "hedy@example.com"
    await new_user(client, kit, mailbox, email)
    await forgot(client, email)
    _, first = await reset_mail(kit, mailbox, email)
    await forgot(other_browser, email)
    _, second = await reset_mail(kit, mailbox, email)
    assert first != second
    assert (await submit_link(other_browser, second)).status_code == 303
    assert (await submit_link(client, first, "yet another passphrase")).status_code == 410
    assert (await sign_in(client, email, NEW_PASSWORD)).status_code == 303


async def test_parallel_use_of_one_link_succeeds_once(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Ten simultaneous posts of the same link: exactly one sets a password."""
    email = "barbara@example.com"
    await new_user(client, kit, mailbox, email)
    await forgot(client, email)
    _, token = await reset_mail(kit, mailbox, email)
    statuses: list[int] = []

    async def use(n: int) -> None:
        statuses.append((await submit_link(client, token, f"{NEW_PASSWORD} {n}")).status_code)

    async with anyio.create_task_group() as tg:
        for n in range(10):
            tg.start_soon(use, n)
    assert sorted(statuses) == [303] + [410] * 9


async def test_code_expires(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """Past the code lifetime neither the code nor the link works, and the page says so."""
    email = "ken@example.com"
    await new_user(client, kit, mailbox, email)
    await forgot(client, email)
    code, token = await reset_mail(kit, mailbox, email)
    clock.advance(kit.settings.code_lifetime + 1)
    r = await submit_code(client, code)
    assert r.status_code == 410, r.text
    assert "That reset has expired or was used up. Ask for a new code." in r.text
    assert (await open_link(client, link_to(token))).status_code == 410
    r = await client.get("/auth/reset-password")
    assert r.status_code == 303
    assert r.headers["location"] == "/auth/forgot-password"
    assert (await sign_in(client, email, PASSWORD)).status_code == 303


async def test_five_wrong_codes_end_the_attempt(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Each wrong code is counted; after five even the right code is refused."""
    email = "margaret@example.com"
    await new_user(client, kit, mailbox, email)
    await forgot(client, email)
    code, token = await reset_mail(kit, mailbox, email)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        r = await submit_code(client, wrong)
        assert r.status_code == 422, r.text
        assert 'id="ak-reset-password-code-error"' in r.text
        assert "That code is incorrect" in r.text
    r = await submit_code(client, code)
    assert r.status_code == 410, r.text
    assert (await open_link(client, link_to(token))).status_code == 410
    assert (await sign_in(client, email, PASSWORD)).status_code == 303


async def test_mismatched_confirmation_is_refused_beside_the_field(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """The message sits beside the confirmation; the code stays, the passwords do not."""
    email = "joan@example.com"
    await new_user(client, kit, mailbox, email)
    await forgot(client, email)
    code, _ = await reset_mail(kit, mailbox, email)
    r = await submit_code(client, code, NEW_PASSWORD, "a brand new passphrasE")
    assert r.status_code == 422, r.text
    assert 'id="ak-reset-password-password_confirm-error"' in r.text
    assert "The passwords do not match." in r.text
    assert f'value="{code}"' in r.text
    assert NEW_PASSWORD not in r.text
    assert "passphrasE" not in r.text
    # Not a wrong code: the attempt is intact and the right input now succeeds.
    assert (await submit_code(client, code)).status_code == 303


async def test_weak_new_password_is_refused(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """The new password passes the same rules as at sign-up."""
    email = "frances@example.com"
    await new_user(client, kit, mailbox, email)
    await forgot(client, email)
    code, token = await reset_mail(kit, mailbox, email)
    r = await submit_code(client, code, "manchesterunited")
    assert r.status_code == 422, r.text
    assert 'id="ak-reset-password-password-error"' in r.text
    assert "This password is too easy to guess." in r.text
    r = await submit_link(client, token, "short")
    assert r.status_code == 422, r.text
    assert "Use at least 15 characters." in r.text
    assert f'name="token" value="{token}"' in r.text
    assert (await sign_in(client, email, PASSWORD)).status_code == 303


async def test_posts_need_the_csrf_token(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Both forms refuse a post without the token, and nothing is sent or changed."""
    email = "radia@example.com"
    await new_user(client, kit, mailbox, email)
    sent = len(await mails_to(kit, mailbox, email))
    r = await client.post("/auth/forgot-password", data={"email": email})
    assert r.status_code == 403, r.text
    assert len(await mails_to(kit, mailbox, email)) == sent
    await forgot(client, email)
    code, token = await reset_mail(kit, mailbox, email)
    fields = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    r = await client.post("/auth/reset-password", data={"code": code, **fields})
    assert r.status_code == 403, r.text
    r = await client.post("/auth/reset-password", data={"token": token, **fields})
    assert r.status_code == 403, r.text
    assert (await sign_in(client, email, PASSWORD)).status_code == 303


async def test_no_password_code_or_token_reaches_the_audit_log(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Audit rows and stored attempts hold no secret in clear."""
    email = "katherine@example.com"
    await new_user(client, kit, mailbox, email)
    await forgot(client, email)
    code, token = await reset_mail(kit, mailbox, email)
    wrong = "000000" if code != "000000" else "111111"
    await submit_code(client, wrong)
    await submit_code(client, code, "password")
    assert (await submit_code(client, code)).status_code == 303
    async with kit.services.db.session() as s:
        audit = (await s.exec(select(AuditEventRow))).all()
        attempts = (await s.exec(select(VerificationCodeRow))).all()
    events = {row.event for row in audit}
    assert {"password_reset.started", "password_reset.code_failed", "password.reset"} <= events
    dumped = repr([row.model_dump() for row in (*audit, *attempts)])
    for secret in (code, wrong, token, PASSWORD, NEW_PASSWORD):
        assert secret not in dumped


async def test_mailed_link_ignores_the_host_header(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """A forged Host header cannot point the link at another site."""
    email = "alan@example.com"
    await new_user(client, kit, mailbox, email)
    r = await forgot(client, email, headers={"host": "evil.example"})
    assert r.status_code == 303, r.text
    body = (await mails_to(kit, mailbox, email))[-1]
    assert "evil.example" not in body
    match = LINK.search(body)
    assert match, body
    assert match.group(1) == f"{kit.settings.base_url}/auth/reset-password?link=1#token="


async def test_mail_goes_to_the_stored_address_not_the_typed_one(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Another spelling of the address mails the stored one (Django CVE-2019-19844)."""
    await new_user(client, kit, mailbox, "Ada@example.com")
    r = await forgot(client, "ADA@example.com")
    page = await client.get(r.headers["location"])
    assert "If an account exists for ADA@example.com," in page.text
    await kit.services.mailer.drain()
    assert str(mailbox.messages[-1]["To"]) == "Ada@example.com"


async def test_banned_account_gets_no_mail(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """A banned account cannot come back through a reset; the page is the usual one."""
    email = "mallory@example.com"
    await new_user(client, kit, mailbox, email)
    user_id = await find_user_id(kit.services, email)
    assert user_id is not None
    await ban_user(kit.services, user_id)
    sent = len(await mails_to(kit, mailbox, email))
    r = await forgot(client, email)
    assert r.status_code == 303, r.text
    assert len(await mails_to(kit, mailbox, email)) == sent


async def test_reset_page_without_an_attempt_goes_to_the_first_step(
    client: httpx.AsyncClient,
) -> None:
    """No cookie and no token: back to the email form; a bogus token: the expired page."""
    r = await client.get("/auth/reset-password")
    assert r.status_code == 303
    assert r.headers["location"] == "/auth/forgot-password"
    r = await client.get("/auth/reset-password?token=<script>alert(1)</script>")
    assert r.status_code == 410, r.text
    assert "<script>alert(1)" not in r.text
    r = await open_link(client, link_to("made-up-but-token-shaped-0123456789"))
    assert r.status_code == 410, r.text
    assert "This link has expired or was already used." in r.text
    assert "made-up-but" not in r.text
    r = await client.get("/auth/forgot-password")
    assert r.status_code == 200, r.text
    assert 'name="email"' in r.text


async def test_sign_in_page_links_to_reset_and_shows_only_the_fixed_notice(
    client: httpx.AsyncClient,
) -> None:
    """The link keeps redirect_url; only ?reset=1 shows the notice, never query text."""
    r = await client.get("/auth/sign-in?redirect_url=%2Fdashboard")
    assert 'href="/auth/forgot-password?redirect_url=/dashboard"' in r.text
    assert "Your password was changed" not in r.text
    r = await client.get("/auth/sign-in?reset=Your+account+was+hacked")
    assert "Your password was changed" not in r.text
    assert "hacked" not in r.text
    r = await client.get("/auth/forgot-password?redirect_url=%2Fdashboard")
    assert 'name="redirect_url" value="/dashboard"' in r.text
