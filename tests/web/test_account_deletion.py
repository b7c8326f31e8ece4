"""
Deleting one's own account from the Security section: "Confirm it's you" first, then the
phrase typed (kept beside its message when wrong); every row of the user goes, in every
table that has a `user_id` (audit rows stay, for the operator), another user's stay; the
browser is signed out and told, other devices within one token lifetime; a notice by
email; the address can sign up again; CSRF. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import Table, func
from sqlmodel import SQLModel, col, select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.store.models import AuditEventRow, UserRow, VerificationCodeRow

from ..conftest import FakeClock, Mailbox
from .flow_helpers import PASSWORD, form_token, sign_in, sign_up
from .pipeline_helpers import EMAIL, field_error, follow, hidden_fields, set_up_totp

pytestmark = pytest.mark.anyio

PATH = "/auth/user/security/delete"
OTHER = "grace@example.com"
WINDOW = 600
#: The tables the deleted user has rows in before (every table with a `user_id` is
#: checked after).
HELD = (
    "users",
    "email_addresses",
    "password_credentials",
    "sessions",
    "sign_in_attempts",
    "authenticators",
    "recovery_codes",
    "audit_events",
)


def browser(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def is_signed_in(client: httpx.AsyncClient) -> bool:
    return bool((await client.get("/")).json()["is_signed_in"])


async def post_delete(
    client: httpx.AsyncClient, confirmation: str = "Delete account", **extra: str
) -> httpx.Response:
    page = await client.get(PATH)
    assert page.status_code == 200, page.text
    return await client.post(
        PATH, data={**hidden_fields(page.text), "confirmation": confirmation, **extra}
    )


def user_tables() -> list[Table]:
    """Every table of the schema with a `user_id` column, foreign key or not."""
    return [t for t in SQLModel.metadata.sorted_tables if "user_id" in t.c]


async def rows_of(kit: AuthKit, user_id: str) -> dict[str, int]:
    """How many rows each table holds for the user (`users` by its id)."""
    async with kit.services.db.session() as s:
        counts = {
            table.name: (
                await s.exec(
                    select(func.count()).select_from(table).where(table.c.user_id == user_id)
                )
            ).one()
            for table in user_tables()
        }
        counts["users"] = (
            await s.exec(select(func.count()).where(col(UserRow.id) == user_id))
        ).one()
    return counts


async def user_id_of(client: httpx.AsyncClient) -> str:
    user_id = (await client.get("/")).json()["user_id"]
    assert isinstance(user_id, str)
    return user_id


async def test_the_security_page_ends_with_a_delete_row(app: Starlette, kit: AuthKit) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as c:
        assert (await sign_in(c, EMAIL)).status_code == 303
        security = (await c.get("/auth/user/security")).text
        row = re.search(
            r'<a class="([^"]+)" href="/auth/user/security/delete" data-ak-dialog>([^<]+)</a>',
            security,
        )
        assert row is not None and row.group(2) == "Delete account"
        assert "ak-button--secondary-danger" in row.group(1)
        assert security.rindex('class="ak-section"') < row.start()  # the last section
        page = await c.get(PATH)
        assert "Type “Delete account” to confirm" in page.text
        assert 'name="confirmation"' in page.text and 'autocomplete="off"' in page.text
        assert "ak-button--danger" in page.text


async def test_an_old_sign_in_confirms_it_is_you_first(
    app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    """Past the reverification window both the page and a post go to "Confirm it's you";
    the post deletes nothing."""
    await kit.ensure_started()
    user = await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as c:
        assert (await sign_in(c, EMAIL)).status_code == 303
        page = await c.get(PATH)
        clock.advance(WINDOW + 1)
        r = await c.get(PATH)
        assert r.status_code == 303
        assert (
            r.headers["location"]
            == "/auth/reverify?redirect_url=%2Fauth%2Fuser%2Fsecurity%2Fdelete"
        )
        r = await c.post(PATH, data={**hidden_fields(page.text), "confirmation": "Delete account"})
        assert r.status_code == 303 and r.headers["location"].startswith("/auth/reverify")
        assert await kit.users.get(user.id) is not None
        reverify = await follow(c, r)
        done = await c.post(
            "/auth/reverify", data={**hidden_fields(reverify.text), "password": PASSWORD}
        )
        assert done.status_code == 303 and done.headers["location"] == PATH
        assert (await post_delete(c)).status_code == 303
    assert await kit.users.get(user.id) is None


async def test_a_wrong_phrase_is_kept_with_its_message_and_nothing_is_deleted(
    app: Starlette, kit: AuthKit
) -> None:
    await kit.ensure_started()
    user = await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as c:
        assert (await sign_in(c, EMAIL)).status_code == 303
        for typed, words in [
            ("delete my account", "Type “Delete account” exactly as shown."),
            ("Delete  account", "Type “Delete account” exactly as shown."),
            ("   ", "This field is required."),
        ]:
            r = await post_delete(c, typed)
            assert r.status_code == 422, (typed, r.status_code)
            assert field_error(r.text, "confirmation") == words, typed
            assert 'aria-invalid="true"' in r.text
            if typed.strip():
                assert f'name="confirmation" type="text" value="{typed}"' in r.text
        r = await post_delete(c, "x" * 101)
        assert r.status_code == 422 and "at most 100" in (field_error(r.text, "confirmation") or "")
        assert await is_signed_in(c)
    assert await kit.users.get(user.id) is not None


async def test_deleting_removes_every_row_of_the_user_and_only_theirs(
    app: Starlette, kit: AuthKit, clock: FakeClock, mailbox: Mailbox
) -> None:
    """The user has rows in every kind of table (sessions on two devices, an
    authenticator app and recovery codes, sign-in attempts, a pending password reset);
    after the phrase (any case, spaces around it) none is left, in any table with a
    `user_id`, except the audit log the operator keeps. Another user's rows, named in a
    forged `user_id` field, are all still there."""
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    await kit.users.create(email=OTHER, password=PASSWORD)
    async with browser(app) as c, browser(app) as phone, browser(app) as grace:
        assert (await sign_in(c, EMAIL)).status_code == 303
        assert (await sign_in(phone, EMAIL)).status_code == 303
        assert (await sign_in(grace, OTHER)).status_code == 303
        await set_up_totp(c, clock)
        await set_up_totp(grace, clock)
        async with browser(app) as anonymous:
            token = await form_token(anonymous, "/auth/forgot-password")
            reset = await anonymous.post(
                "/auth/forgot-password", data={"csrf_token": token, "email": EMAIL}
            )
            assert reset.status_code == 303, reset.text
        user_id, other_id = await user_id_of(c), await user_id_of(grace)
        before = await rows_of(kit, user_id)
        assert all(before[name] for name in HELD), before
        other_before = await rows_of(kit, other_id)

        r = await post_delete(c, "  delete ACCOUNT ", user_id=other_id)
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/auth/sign-in?deleted=1"
        cleared = [v for k, v in r.headers.multi_items() if k == "set-cookie"]
        assert any(v.startswith("__session=;") or v.startswith('__session="";') for v in cleared)
        assert any(v.startswith("__refresh=;") or v.startswith('__refresh="";') for v in cleared)
        assert r.headers["clear-site-data"] == '"cache"'
        landed = await c.get(r.headers["location"])
        assert landed.status_code == 200
        assert (
            '<div class="ak-alert ak-alert--success" role="status">Your account was deleted.</div>'
            in landed.text
        )
        assert not await is_signed_in(c)

        after = await rows_of(kit, user_id)
        audit = AuditEventRow.__table__.name  # type: ignore[attr-defined]
        assert {name: n for name, n in after.items() if name != audit} == dict.fromkeys(
            (name for name in after if name != audit), 0
        ), after
        # Kept, like the operator's deletion keeps them: they name only ids.
        assert after[audit] > before[audit]
        assert await rows_of(kit, other_id) == other_before
        assert await is_signed_in(grace)
    async with kit.services.db.session() as s:
        pending = (
            await s.exec(
                select(VerificationCodeRow).where(
                    col(VerificationCodeRow.email_normalized) == EMAIL
                )
            )
        ).all()
        deleted = (
            await s.exec(select(AuditEventRow).where(col(AuditEventRow.event) == "user.deleted"))
        ).one()
    assert pending == []
    assert deleted.user_id == user_id and deleted.detail == {"by": "self"}
    assert deleted.user_agent != "authkit-cli"


async def test_a_notice_is_mailed_and_the_address_can_sign_up_again(
    app: Starlette, kit: AuthKit, mailbox: Mailbox
) -> None:
    await kit.ensure_started()
    user = await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as c:
        assert (await sign_in(c, EMAIL)).status_code == 303
        assert (await post_delete(c)).status_code == 303
        await kit.services.mailer.drain()
        notice = mailbox.to(EMAIL)[-1]
        assert str(notice["Subject"]) == "Your authkit account was deleted"
        text = Mailbox.text_of(notice)
        assert "http://testserver/auth/sign-up" in text and EMAIL in text
        assert (await sign_in(c, EMAIL)).status_code == 422  # no such account now
        again = await sign_up(c, kit, mailbox, EMAIL)
        assert again.status_code == 303, again.text
        assert await is_signed_in(c)
        assert await user_id_of(c) != user.id
    assert (await kit.users.get_by_email(EMAIL)) is not None


async def test_a_second_device_is_signed_out_within_one_token_lifetime(
    app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as c, browser(app) as phone:
        assert (await sign_in(c, EMAIL)).status_code == 303
        assert (await sign_in(phone, EMAIL)).status_code == 303
        assert (await post_delete(c)).status_code == 303
        # Its pages already know the account is gone.
        r = await phone.get("/auth/user")
        assert r.status_code == 303 and r.headers["location"] == "/auth/sign-in"
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert not await is_signed_in(phone)  # its refresh found no session
        r = await phone.get("/api/me", headers={"accept": "application/json"})
        assert r.status_code == 401


async def test_with_htmx_the_whole_page_goes_to_sign_in(app: Starlette, kit: AuthKit) -> None:
    await kit.ensure_started()
    user = await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as c:
        assert (await sign_in(c, EMAIL)).status_code == 303
        page = await c.get(PATH)
        htmx = {"HX-Request": "true"}
        wrong = await c.post(
            PATH, data={**hidden_fields(page.text), "confirmation": "nope"}, headers=htmx
        )
        # Only the component, swapped in place, with the phrase kept.
        assert wrong.status_code == 422 and "<html" not in wrong.text
        assert wrong.text.lstrip().startswith('<div class="ak-component" id="ak-delete-account"')
        assert 'value="nope"' in wrong.text
        r = await c.post(
            PATH, data={**hidden_fields(page.text), "confirmation": "Delete account"}, headers=htmx
        )
        assert r.status_code == 200 and r.headers["hx-redirect"] == "/auth/sign-in?deleted=1"
        assert "__session=" in r.headers["set-cookie"]
    assert await kit.users.get(user.id) is None


async def test_a_post_without_its_csrf_token_deletes_nothing(app: Starlette, kit: AuthKit) -> None:
    await kit.ensure_started()
    user = await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as c:
        assert (await sign_in(c, EMAIL)).status_code == 303
        for data in [
            {"confirmation": "Delete account"},
            {"csrf_token": "forged", "confirmation": "Delete account"},
        ]:
            r = await c.post(PATH, data=data)
            assert r.status_code == 403, r.text
        cross = await c.post(
            PATH,
            data={**hidden_fields((await c.get(PATH)).text), "confirmation": "Delete account"},
            headers={"Sec-Fetch-Site": "cross-site"},
        )
        assert cross.status_code == 403
        assert await is_signed_in(c)
    assert await kit.users.get(user.id) is not None


async def test_signed_out_visitors_are_sent_to_sign_in(app: Starlette, kit: AuthKit) -> None:
    await kit.ensure_started()
    async with browser(app) as c:
        r = await c.get(PATH)
        assert r.status_code == 303 and "/auth/sign-in" in r.headers["location"]
        token = await form_token(c, "/auth/sign-in")
        r = await c.post(PATH, data={"csrf_token": token, "confirmation": "Delete account"})
        assert r.status_code == 303 and "/auth/sign-in" in r.headers["location"]
