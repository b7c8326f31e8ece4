"""
The Account section's email addresses on SQLite and PostgreSQL: add one with a code sent
to it, sign in with it, make it primary (the old primary is told), remove one (never the
primary, so never the last verified); adding an address another account holds looks the
same and sends the code nowhere; another user's ids are 404 and change nothing; bad input
stays beside its field; the sensitive steps ask "Confirm it's you".
"""

from __future__ import annotations

import re

import httpx
import pytest
from sqlmodel import col, select

from authkit import AuthKit
from authkit.flows.admin import create_user
from authkit.flows.email_addresses import MAX_ADDRESSES
from authkit.store.models import AuditEventRow, EmailAddressRow

from ..conftest import FakeClock, Mailbox
from .flow_helpers import PASSWORD, sign_in, sign_out, without_per_response_values
from .pipeline_helpers import EMAIL, field_error, hidden_fields, mailed, sign_in_password

pytestmark = pytest.mark.anyio

SECOND = "ada.work@example.org"
OTHER = "grace@example.com"
WINDOW = 600


async def signed_in(client: httpx.AsyncClient, kit: AuthKit) -> str:
    await kit.ensure_started()
    user_id = await create_user(kit.services, email=EMAIL, password=PASSWORD)
    assert (await sign_in_password(client)).status_code == 303
    return user_id


def address_ids(page: str) -> dict[str, str]:
    """The addresses listed on the account page, with the id in their action links."""
    found: dict[str, str] = {}
    for match in re.finditer(r'href="/auth/user/emails/([\w]+)/(?:primary|verify|remove)"', page):
        row = page[: match.start()].rsplit("<li", 1)[-1]
        email = re.search(r'class="ak-address" title="([^"]+)"', row)
        assert email, row
        found[email.group(1)] = match.group(1)
    return found


async def start_adding(client: httpx.AsyncClient, email: str) -> httpx.Response:
    page = await client.get("/auth/user/emails/add")
    assert page.status_code == 200, page.text
    return await client.post(
        "/auth/user/emails/add", data={**hidden_fields(page.text), "email": email}
    )


async def add_address(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, email: str
) -> httpx.Response:
    r = await start_adding(client, email)
    assert r.status_code == 303, r.text
    verify = await client.get(r.headers["location"])
    assert verify.status_code == 200
    await kit.services.mailer.drain()
    code = mailbox.last_code(email)
    return await client.post(
        r.headers["location"], data={**hidden_fields(verify.text), "code": code}
    )


async def confirm(client: httpx.AsyncClient, path: str) -> httpx.Response:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return await client.post(path, data=hidden_fields(page.text))


async def rows_of(kit: AuthKit, user_id: str) -> list[EmailAddressRow]:
    async with kit.services.db.session() as s:
        return list(
            (
                await s.exec(select(EmailAddressRow).where(col(EmailAddressRow.user_id) == user_id))
            ).all()
        )


async def test_add_verify_and_sign_in_with_the_new_address(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    user_id = await signed_in(client, kit)
    r = await add_address(client, kit, mailbox, SECOND)
    assert r.status_code == 303 and r.headers["location"] == "/auth/user?done=email_added"
    page = (await client.get(r.headers["location"])).text
    assert "The email address was added." in page
    assert set(address_ids(page)) == {SECOND}  # the primary has no actions
    assert "Primary" in page and "Unverified" not in page
    rows = await rows_of(kit, user_id)
    assert {(r.email, r.is_primary, r.verified_at is not None) for r in rows} == {
        (EMAIL, True, True),
        (SECOND, False, True),
    }
    await sign_out(client)
    assert (await sign_in(client, SECOND)).status_code == 303
    assert (await client.get("/")).json()["user_id"] == user_id


async def test_a_pending_address_is_listed_unverified_and_can_be_removed(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    user_id = await signed_in(client, kit)
    assert (await start_adding(client, SECOND)).status_code == 303
    page = (await client.get("/auth/user")).text
    assert "Unverified" in page
    pending = address_ids(page)[SECOND]
    assert f"/auth/user/emails/{pending}/verify" in page
    r = await confirm(client, f"/auth/user/emails/{pending}/remove")
    assert r.status_code == 303 and r.headers["location"] == "/auth/user?done=email_removed"
    assert SECOND not in (await client.get("/auth/user")).text
    assert [r.email for r in await rows_of(kit, user_id)] == [EMAIL]


async def test_a_wrong_code_stays_beside_the_field(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    await signed_in(client, kit)
    r = await start_adding(client, SECOND)
    verify = await client.get(r.headers["location"])
    bad = await client.post(
        r.headers["location"], data={**hidden_fields(verify.text), "code": "000000"}
    )
    assert bad.status_code == 422
    assert field_error(bad.text, "code") == "That code is incorrect. Check the email and try again."
    assert 'value="000000"' in bad.text
    shape = await client.post(
        r.headers["location"], data={**hidden_fields(verify.text), "code": "12ab"}
    )
    assert field_error(shape.text, "code") == "Enter the 6-digit code from the email."


async def test_an_address_of_another_account_looks_the_same_and_gets_no_code(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Enumeration: the page is the same as for a free address; the code goes nowhere,
    and only the holder hears about it, at their own address."""
    await signed_in(client, kit)
    await create_user(kit.services, email=OTHER, password=PASSWORD)
    free = await start_adding(client, SECOND)
    taken = await start_adding(client, OTHER)
    assert free.status_code == taken.status_code == 303
    free_page = await client.get(free.headers["location"])
    taken_page = await client.get(taken.headers["location"])
    assert taken_page.status_code == free_page.status_code == 200

    def shape(page: httpx.Response, email: str, location: str) -> str:
        step_id = location.split("/")[-2]
        text = page.text.replace(email, "ADDRESS").replace(step_id, "STEP")
        return without_per_response_values(text)

    assert shape(free_page, SECOND, free.headers["location"]) == shape(
        taken_page, OTHER, taken.headers["location"]
    )
    await kit.services.mailer.drain()
    notice = Mailbox.text_of(mailbox.to(OTHER)[-1])
    assert "already belongs to your account" in notice
    assert not re.search(r"\b\d{6}\b", notice)  # no code that could complete it
    # Every 6-digit code fails: none was ever sent for it.
    for code in ("123456", "000000"):
        r = await client.post(
            taken.headers["location"], data={**hidden_fields(taken_page.text), "code": code}
        )
        assert field_error(r.text, "code") is not None


async def test_bad_input_on_the_add_form(client: httpx.AsyncClient, kit: AuthKit) -> None:
    await signed_in(client, kit)
    r = await start_adding(client, "not an address")
    assert r.status_code == 422
    assert field_error(r.text, "email") == "Enter a valid email address."
    assert 'value="not an address"' in r.text
    r = await start_adding(client, EMAIL.upper())
    assert field_error(r.text, "email") == "That address is already on your account."
    r = await start_adding(client, "x" * 300 + "@example.com")
    assert r.status_code == 422 and field_error(r.text, "email")


async def test_at_most_ten_addresses(client: httpx.AsyncClient, kit: AuthKit) -> None:
    await signed_in(client, kit)
    for n in range(MAX_ADDRESSES - 1):
        assert (await start_adding(client, f"a{n}@example.net")).status_code == 303
    r = await start_adding(client, "one-too-many@example.net")
    assert r.status_code == 422
    assert field_error(r.text, "email") == (
        f"You can have at most {MAX_ADDRESSES} email addresses. Remove one first."
    )


async def test_make_primary_tells_the_old_address(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    user_id = await signed_in(client, kit)
    await add_address(client, kit, mailbox, SECOND)
    second = address_ids((await client.get("/auth/user")).text)[SECOND]
    r = await confirm(client, f"/auth/user/emails/{second}/primary")
    assert r.headers["location"] == "/auth/user?done=email_primary_changed"
    page = (await client.get(r.headers["location"])).text
    assert "Your primary email address was changed." in page
    assert f'id="ak-user-profile-email" title="{SECOND}"' in page
    notice = await mailed(kit, mailbox, EMAIL)
    assert SECOND in notice and "primary email address" in notice
    rows = {r.email: r.is_primary for r in await rows_of(kit, user_id)}
    assert rows == {EMAIL: False, SECOND: True}
    async with kit.services.db.session() as s:
        events = (
            await s.exec(select(AuditEventRow.event).where(AuditEventRow.user_id == user_id))
        ).all()
    assert {"email.added", "email.primary_changed"} <= set(events)
    # The old primary can now be removed; the new one cannot.
    first = address_ids(page)[EMAIL]
    assert (await confirm(client, f"/auth/user/emails/{first}/remove")).status_code == 303
    assert [r.email for r in await rows_of(kit, user_id)] == [SECOND]
    assert (await client.get(f"/auth/user/emails/{second}/remove")).status_code == 404


async def test_the_primary_is_never_removed(client: httpx.AsyncClient, kit: AuthKit) -> None:
    user_id = await signed_in(client, kit)
    primary = (await rows_of(kit, user_id))[0].id
    assert (await client.get(f"/auth/user/emails/{primary}/remove")).status_code == 404
    page = await client.get("/auth/user/emails/add")  # any page: a CSRF token
    r = await client.post(f"/auth/user/emails/{primary}/remove", data=hidden_fields(page.text))
    assert r.status_code == 404
    assert len(await rows_of(kit, user_id)) == 1


async def test_a_confirm_dialog_for_an_address_removed_meanwhile_reloads_the_page(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """The dialog's form posts with htmx, which swaps error responses too: the 404 for an
    address removed in another tab says to load the page afresh (no error page inside
    the profile); without htmx it stays a plain 404 page."""
    await signed_in(client, kit)
    assert (await start_adding(client, SECOND)).status_code == 303
    pending = address_ids((await client.get("/auth/user")).text)[SECOND]
    path = f"/auth/user/emails/{pending}/remove"
    dialog = await client.get(path)
    assert (await client.post(path, data=hidden_fields(dialog.text))).status_code == 303
    htmx = {"HX-Request": "true", "HX-Target": "div#ak-confirm-action"}
    stale = await client.post(path, data=hidden_fields(dialog.text), headers=htmx)
    assert stale.status_code == 404 and stale.headers["hx-refresh"] == "true"
    plain = await client.post(path, data=hidden_fields(dialog.text))
    assert plain.status_code == 404 and "hx-refresh" not in plain.headers
    assert "Page not found" in plain.text


async def test_another_users_addresses_are_404_and_untouched(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, app: object
) -> None:
    await signed_in(client, kit)
    other_id = await create_user(kit.services, email=OTHER, password=PASSWORD)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
    ) as other:
        assert (await sign_in(other, OTHER)).status_code == 303
        await add_address(other, kit, mailbox, "grace.two@example.com")
        r = await start_adding(other, "grace.pending@example.com")
        pending = r.headers["location"].split("/")[-2]
    theirs = {r.email: r.id for r in await rows_of(kit, other_id)}
    token_page = await client.get("/auth/user/emails/add")
    for address_id in (theirs[OTHER], theirs["grace.two@example.com"], pending, "email_nope"):
        for action in ("primary", "remove", "verify"):
            path = f"/auth/user/emails/{address_id}/{action}"
            assert (await client.get(path)).status_code == 404, path
            posted = await client.post(
                path, data={**hidden_fields(token_page.text), "code": "123456"}
            )
            assert posted.status_code == 404, path
        resend = await client.post(
            f"/auth/user/emails/{address_id}/resend", data=hidden_fields(token_page.text)
        )
        assert resend.status_code == 404
    after = {r.email: (r.id, r.is_primary) for r in await rows_of(kit, other_id)}
    assert after == {
        OTHER: (theirs[OTHER], True),
        "grace.two@example.com": (theirs["grace.two@example.com"], False),
    }


async def test_csrf_is_required(client: httpx.AsyncClient, kit: AuthKit) -> None:
    user_id = await signed_in(client, kit)
    r = await client.post("/auth/user/emails/add", data={"email": SECOND})
    assert r.status_code == 403
    assert "Your form expired" in r.text
    assert len(await rows_of(kit, user_id)) == 1


async def test_adding_and_primary_ask_to_confirm_it_is_you(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    await signed_in(client, kit)
    await add_address(client, kit, mailbox, SECOND)
    second = address_ids((await client.get("/auth/user")).text)[SECOND]
    clock.advance(WINDOW + 1)
    for path in (
        "/auth/user/emails/add",
        f"/auth/user/emails/{second}/primary",
        f"/auth/user/emails/{second}/remove",
    ):
        r = await client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/auth/reverify"), path


async def test_resend_mails_a_new_code_after_the_cooldown(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    await signed_in(client, kit)
    r = await start_adding(client, SECOND)
    verify_path = r.headers["location"]
    resend_path = verify_path.replace("/verify", "/resend")
    page = await client.get(verify_path)
    too_soon = await client.post(resend_path, data=hidden_fields(page.text, 1))
    assert too_soon.status_code == 422
    clock.advance(31)
    again = await client.post(resend_path, data=hidden_fields(page.text, 1))
    assert again.status_code == 303 and again.headers["location"].endswith("?sent=1")
    await kit.services.mailer.drain()
    assert len(mailbox.to(SECOND)) == 2
    fresh = mailbox.last_code(SECOND)
    page = await client.get(again.headers["location"])
    assert "We sent a new code." in page.text
    done = await client.post(verify_path, data={**hidden_fields(page.text), "code": fresh})
    assert done.status_code == 303
