"""Sign-up with an emailed code: resending, wrong and expired codes, single use, the
answer for an address that already has an account, and the form's field messages."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.addresses import normalize_email
from authkit.store.models import SessionRow, UserRow

from ..conftest import FakeClock, KitFactory, Mailbox
from ..hostapp import make_host_app
from .flow_helpers import PASSWORD, csrf_of, form_token, sign_up, without_per_response_values
from .flow_helpers import start_sign_up as start

pytestmark = pytest.mark.anyio

ATTEMPT_COOKIE = "__ak_sign_up"
START_AGAIN = "Start again: that sign-up has expired."
CODE_FORMAT = "Enter the 6-digit code from the email."
CODE_INVALID = "That code is incorrect. Check the email and try again."
SIX_DIGITS = re.compile(r"\b\d{6}\b")


def field_error(page: str, name: str) -> str | None:
    """The message shown beside the input `name`, if any."""
    match = re.search(
        rf'<p class="ak-field__error" id="ak-[a-z0-9-]+-{name}-error">(.*?)</p>', page, re.S
    )
    return html.unescape(match.group(1)) if match else None


@asynccontextmanager
async def browser(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser (its own cookie jar) on the same app."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@asynccontextmanager
async def client_for(kit: AuthKit) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on a host app around `kit` (for kits made with other settings)."""
    try:
        async with browser(make_host_app(kit)) as c:
            yield c
    finally:
        await kit.aclose()


async def post_sign_up(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    token = await form_token(client, "/auth/sign-up")
    data = {"email": "ada@example.com", "password": PASSWORD, **fields}
    return await client.post("/auth/sign-up", data={"csrf_token": token, **data})


async def enter_code(client: httpx.AsyncClient, page: str, code: str) -> httpx.Response:
    return await client.post(
        "/auth/sign-up/verify", data={"csrf_token": csrf_of(page), "code": code}
    )


async def code_for(kit: AuthKit, mailbox: Mailbox, email: str) -> str:
    await kit.services.mailer.drain()
    return mailbox.last_code(email)


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def count(kit: AuthKit, table: type[UserRow] | type[SessionRow]) -> int:
    async with kit.services.db.session() as s:
        return int((await s.exec(select(func.count()).select_from(table))).one())


# -- resending ----------------------------------------------------------------------------


async def test_resend_right_away_says_how_long_to_wait(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Asking for a new code during the cooldown gets 429 and the wait beside the code."""
    page = await start(client, "ada@example.com")
    r = await client.post("/auth/sign-up/resend", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 429, r.text
    assert field_error(r.text, "code") == "Wait 30 seconds before asking for another code.", r.text
    await kit.services.mailer.drain()
    assert len(mailbox.to("ada@example.com")) == 1, "no second mail during the cooldown"


async def test_resend_after_cooldown_mails_a_new_code_and_kills_the_old_one(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """After 31 s a new code arrives; the old code is refused and the new one works."""
    page = await start(client, "ada@example.com")
    old = await code_for(kit, mailbox, "ada@example.com")
    clock.advance(31)
    r = await client.post("/auth/sign-up/resend", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 200, r.text
    assert "We sent a new code to ada@example.com." in r.text
    new = await code_for(kit, mailbox, "ada@example.com")
    assert len(mailbox.to("ada@example.com")) == 2, "a second mail"
    if new != old:  # one chance in a million that they are equal
        refused = await enter_code(client, r.text, old)
        assert refused.status_code == 422, refused.text
        assert field_error(refused.text, "code") == CODE_INVALID, refused.text
    done = await enter_code(client, r.text, new)
    assert done.status_code == 303, done.text
    assert (await client.get("/")).json()["is_signed_in"] is True


# -- wrong, expired and reused codes -------------------------------------------------------


async def test_five_wrong_codes_end_the_attempt_even_for_the_right_code(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """After five wrong tries the sixth, even with the right code, says start again."""
    page = await start(client, "ada@example.com")
    code = await code_for(kit, mailbox, "ada@example.com")
    for attempt in range(5):
        r = await enter_code(client, page.text, other_code(code))
        assert r.status_code == 422, (attempt, r.text)
        assert field_error(r.text, "code") == CODE_INVALID, (attempt, r.text)
    r = await enter_code(client, page.text, code)
    assert r.status_code == 410, r.text
    assert START_AGAIN in r.text
    assert 'action="/auth/sign-up"' in r.text, "back to the sign-up form"
    assert (await client.get("/")).json()["is_signed_in"] is False
    assert await count(kit, UserRow) == 0


async def test_code_is_refused_after_its_lifetime(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """Past code_lifetime the right code no longer creates the account."""
    page = await start(client, "ada@example.com")
    code = await code_for(kit, mailbox, "ada@example.com")
    clock.advance(kit.settings.code_lifetime + 1)
    r = await enter_code(client, page.text, code)
    assert r.status_code == 410, r.text
    assert START_AGAIN in r.text
    assert await count(kit, UserRow) == 0


async def test_replaying_the_verified_attempt_creates_nothing(
    client: httpx.AsyncClient, app: Starlette, kit: AuthKit, mailbox: Mailbox
) -> None:
    """A code is single use: replaying the successful POST with the same cookies fails."""
    page = await start(client, "ada@example.com")
    code = await code_for(kit, mailbox, "ada@example.com")
    saved = dict(client.cookies)
    assert ATTEMPT_COOKIE in saved, saved
    r = await enter_code(client, page.text, code)
    assert r.status_code == 303, r.text
    async with browser(app) as replay:
        for name, value in saved.items():
            replay.cookies.set(name, value)
        again = await enter_code(replay, page.text, code)
        assert again.status_code == 410, again.text
        assert "__session" not in again.headers.get("set-cookie", ""), again.headers
        assert (await replay.get("/")).json()["is_signed_in"] is False
    assert await count(kit, UserRow) == 1
    assert await count(kit, SessionRow) == 1


# -- code formats ---------------------------------------------------------------------------


async def test_code_with_spaces_is_accepted(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """'12 34 56' is read as 123456: spaces people type or paste are ignored."""
    page = await start(client, "ada@example.com")
    code = await code_for(kit, mailbox, "ada@example.com")
    r = await enter_code(client, page.text, f"{code[:2]} {code[2:4]} {code[4:]}")
    assert r.status_code == 303, r.text
    assert (await client.get("/")).json()["is_signed_in"] is True


@pytest.mark.parametrize("typed", ["abcdef", "1234567", "12345"])
async def test_code_that_is_not_six_digits_gets_the_format_message(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, typed: str
) -> None:
    """Letters or the wrong number of digits are answered beside the field, not counted."""
    page = await start(client, "ada@example.com")
    r = await enter_code(client, page.text, typed)
    assert r.status_code == 422, r.text
    assert field_error(r.text, "code") == CODE_FORMAT, r.text
    # A format error is not a guess: all five tries are still there for the real code.
    for _ in range(4):
        await enter_code(client, page.text, typed)
    code = await code_for(kit, mailbox, "ada@example.com")
    r = await enter_code(client, page.text, code)
    assert r.status_code == 303, r.text


# -- an address that already has an account -------------------------------------------------


def _shape(page: str, email: str) -> str:
    page = without_per_response_values(page)
    return page.replace(html.escape(email), "EMAIL").replace(email, "EMAIL")


async def test_sign_up_with_a_taken_address_looks_like_a_fresh_one(
    client: httpx.AsyncClient, app: Starlette, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Same status, redirect and page as a fresh sign-up; the owner is mailed, no code."""
    await sign_up(client, kit, mailbox, "ada@example.com")
    await kit.services.mailer.drain()
    mails_before = len(mailbox.messages)
    async with browser(app) as fresh, browser(app) as taken:
        answers = []
        for c, email in ((fresh, "new.person@example.com"), (taken, "ADA@Example.COM")):
            token = await form_token(c, "/auth/sign-up")
            r = await c.post(
                "/auth/sign-up",
                data={"csrf_token": token, "email": email, "password": PASSWORD},
            )
            shown = await c.get(r.headers["location"]) if r.status_code == 303 else r
            answers.append((r, shown, email))
        (r1, page1, email1), (r2, page2, email2) = answers
        assert r1.status_code == r2.status_code == 303, (r1.text, r2.text)
        assert r1.headers["location"] == r2.headers["location"], (r1.headers, r2.headers)
        assert ATTEMPT_COOKIE in r2.headers.get("set-cookie", ""), r2.headers
        assert page1.status_code == page2.status_code == 200
        shown_email2 = normalize_email(email2).email  # the domain is shown lower-cased
        assert _shape(page1.text, email1) == _shape(page2.text, shown_email2)

        await kit.services.mailer.drain()
        new_mail = mailbox.messages[mails_before:]
        to_owner = [m for m in new_mail if str(m["To"]).casefold() == "ada@example.com"]
        assert len(to_owner) == 1, [str(m["To"]) for m in new_mail]
        assert str(to_owner[0]["Subject"]) == "You already have an account with authkit"
        body = mailbox.text_of(to_owner[0])
        assert not SIX_DIGITS.search(body), body

        # No code was mailed for this attempt, and none completes it.
        wrong = await enter_code(taken, page2.text, "123456")
        fresh_wrong = await enter_code(fresh, page1.text, "123456")
        assert wrong.status_code == fresh_wrong.status_code == 422, wrong.text
        assert field_error(wrong.text, "code") == CODE_INVALID, wrong.text
        assert (await taken.get("/")).json()["is_signed_in"] is False
    assert await count(kit, UserRow) == 1


NOTICE_SUBJECT = "You already have an account with authkit"


@pytest.mark.parametrize(
    ("stored", "typed", "same_account"),
    [
        ("ada@example.com", "ADA@example.com", True),
        # Folds to "strasse" under casefold(), yet is another mailbox (SECURITY.md #2):
        # whether or not it counts as the same account, no notice may go to it.
        ("strasse@example.com", "straße@example.com", False),
    ],
)
async def test_sign_up_with_a_taken_address_mails_the_stored_address(
    client: httpx.AsyncClient,
    app: Starlette,
    kit: AuthKit,
    mailbox: Mailbox,
    stored: str,
    typed: str,
    same_account: bool,
) -> None:
    """The notice goes to the address on file, never the spelling someone typed."""
    await sign_up(client, kit, mailbox, stored)
    await kit.services.mailer.drain()
    before = len(mailbox.messages)
    async with browser(app) as other:
        await start(other, typed)
    await kit.services.mailer.drain()
    sent = [(str(m["To"]), str(m["Subject"])) for m in mailbox.messages[before:]]
    assert len(sent) == 1, sent
    notices = [to for to, subject in sent if subject == NOTICE_SUBJECT]
    assert all(to == stored for to in notices), sent
    if same_account:
        assert notices == [stored], sent


# -- the form's field messages --------------------------------------------------------------


async def test_required_first_name_when_names_are_required(make_kit: KitFactory) -> None:
    """With name_fields="required" an empty first name is refused beside it; input kept."""
    async with client_for(make_kit(name_fields="required")) as c:
        r = await post_sign_up(c, first_name="  ", last_name="Lovelace")
    assert r.status_code == 422, r.text
    assert field_error(r.text, "first_name") == "This field is required.", r.text
    assert 'value="Lovelace"' in r.text, "the other inputs are kept"
    assert 'value="ada@example.com"' in r.text, "the other inputs are kept"
    assert PASSWORD not in r.text


async def test_no_name_inputs_when_names_are_off(make_kit: KitFactory) -> None:
    """With name_fields="off" the form asks only for email and password."""
    async with client_for(make_kit(name_fields="off")) as c:
        r = await c.get("/auth/sign-up")
    assert r.status_code == 200, r.text
    assert 'name="first_name"' not in r.text
    assert 'name="last_name"' not in r.text
    assert 'name="email"' in r.text


async def test_password_equal_to_email_is_refused(client: httpx.AsyncClient) -> None:
    """The email address is the first guess: it cannot be the password."""
    r = await post_sign_up(client, email="ada@example.com", password="Ada@Example.com")
    assert r.status_code == 422, r.text
    assert field_error(r.text, "password") == "Your password must not be your email address."


async def test_too_short_password_message_names_the_minimum(make_kit: KitFactory) -> None:
    """The message says how many characters are needed (the configured minimum)."""
    async with client_for(make_kit(password_min_length=15)) as c:
        r = await post_sign_up(c, password="short pass")
    assert r.status_code == 422, r.text
    assert field_error(r.text, "password") == "Use at least 15 characters.", r.text


async def test_very_long_email_gets_a_message_not_a_500(client: httpx.AsyncClient) -> None:
    """A 300-character email is answered beside the field."""
    r = await post_sign_up(client, email="a" * 288 + "@example.com")
    assert r.status_code == 422, r.text
    message = field_error(r.text, "email") or ""
    assert "too long" in message or "valid email" in message, r.text


@pytest.mark.parametrize("name", ["Ada\x07", "Ada\u202eecalevoL", "A\nda"])
async def test_control_character_in_a_name_gets_a_message(
    client: httpx.AsyncClient, name: str
) -> None:
    """Names with control or format characters are refused beside the field."""
    r = await post_sign_up(client, first_name=name)
    assert r.status_code == 422, r.text
    assert field_error(r.text, "first_name") == "Names cannot contain control characters.", r.text


# -- the code page without a valid attempt ---------------------------------------------------


async def test_code_page_without_an_attempt_goes_back_to_sign_up(
    client: httpx.AsyncClient,
) -> None:
    """GET /sign-up/verify with no attempt cookie redirects to the sign-up form."""
    r = await client.get("/auth/sign-up/verify")
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/auth/sign-up"


async def test_code_page_with_a_tampered_attempt_cookie_goes_back_to_sign_up(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    """A forged or altered attempt cookie counts as no attempt."""
    await start(client, "ada@example.com")
    real = client.cookies[ATTEMPT_COOKIE]
    for forged in (real[:-2] + ("AA" if real[-2:] != "AA" else "BB"), "garbage", "x" * 500):
        async with browser(app) as c:
            c.cookies.set(ATTEMPT_COOKIE, forged)
            r = await c.get("/auth/sign-up/verify")
            assert r.status_code == 303, (forged, r.text)
            assert r.headers["location"] == "/auth/sign-up", forged
