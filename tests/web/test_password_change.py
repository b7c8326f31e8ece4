"""
The Security section's password: change it with the current one (other devices signed
out unless the box is unticked), or set one when the account has none (after "Confirm
it's you"); a notice by email; bad input beside its field; CSRF and throttling. On SQLite
and PostgreSQL.
"""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import delete
from sqlmodel import select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.store.models import AuditEventRow, PasswordCredentialRow

from ..conftest import FakeClock, Mailbox
from .flow_helpers import PASSWORD, csrf_of, sign_in
from .pipeline_helpers import EMAIL, choose_method, hidden_fields, mailed, submit_code

pytestmark = pytest.mark.anyio

PATH = "/auth/user/security/password"
NEW_PASSWORD = "a brand new passphrase"


def browser(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def is_signed_in(client: httpx.AsyncClient) -> bool:
    return bool((await client.get("/")).json()["is_signed_in"])


async def post_change(
    client: httpx.AsyncClient,
    *,
    current: str = PASSWORD,
    new: str = NEW_PASSWORD,
    sign_out_others: bool = True,
) -> httpx.Response:
    page = await client.get(PATH)
    assert page.status_code == 200, page.text
    data = {**hidden_fields(page.text), "current_password": current, "new_password": new}
    if sign_out_others:
        data["sign_out_others"] = "y"
    return await client.post(PATH, data=data)


def error_beside(page: str, field: str) -> str | None:
    match = re.search(rf'id="ak-password-change-{field}-error">([^<]*)<', page)
    return match.group(1) if match else None


async def events(kit: AuthKit) -> list[str]:
    async with kit.services.db.session() as s:
        return list((await s.exec(select(AuditEventRow.event))).all())


async def test_the_form_asks_for_the_current_password_and_ticks_sign_out_others(
    app: Starlette, kit: AuthKit
) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as c:
        assert (await sign_in(c, EMAIL)).status_code == 303
        security = await c.get("/auth/user/security")
        assert 'href="/auth/user/security/password">Change<' in security.text
        page = await c.get(PATH)
        assert 'name="current_password"' in page.text
        assert 'autocomplete="current-password"' in page.text
        assert re.search(r'name="sign_out_others"[^>]*checked', page.text)


async def test_changing_signs_other_devices_out_keeps_this_one_and_mails_a_notice(
    app: Starlette, kit: AuthKit, clock: FakeClock, mailbox: Mailbox
) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as c, browser(app) as other:
        assert (await sign_in(c, EMAIL)).status_code == 303
        assert (await sign_in(other, EMAIL)).status_code == 303
        r = await post_change(c)
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/auth/user/security?done=password_changed"
        assert "Your password was changed." in (await c.get(r.headers["location"])).text
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert await is_signed_in(c)
        assert not await is_signed_in(other)
    async with browser(app) as fresh:
        assert (await sign_in(fresh, EMAIL)).status_code == 422  # the old password
        assert (await sign_in(fresh, EMAIL, NEW_PASSWORD)).status_code == 303
    await kit.services.mailer.drain()
    subjects = [str(m["Subject"]) for m in mailbox.to(EMAIL)]
    assert any("password" in s.lower() for s in subjects), subjects
    assert "password.changed" in await events(kit)


async def test_unticking_the_box_keeps_the_other_devices(
    app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as c, browser(app) as other:
        assert (await sign_in(c, EMAIL)).status_code == 303
        assert (await sign_in(other, EMAIL)).status_code == 303
        assert (await post_change(c, sign_out_others=False)).status_code == 303
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert await is_signed_in(c) and await is_signed_in(other)


async def test_bad_input_is_refused_beside_its_field_and_nothing_changes(
    app: Starlette, kit: AuthKit
) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as c:
        assert (await sign_in(c, EMAIL)).status_code == 303
        cases = [
            ({"current": "not my password"}, "current_password", "That is not your current"),
            ({"current": ""}, "current_password", "This field is required."),
            ({"new": "short"}, "new_password", "at least"),
            ({"new": PASSWORD}, "new_password", "different from your current one"),
            ({"new": EMAIL}, "new_password", ""),
        ]
        for change, field, words in cases:
            r = await post_change(c, **change)  # type: ignore[arg-type]
            assert r.status_code == 422, (change, r.status_code)
            message = error_beside(r.text, field)
            assert message is not None and words in message, (change, message)
            assert PASSWORD not in r.text and NEW_PASSWORD not in r.text  # never echoed
            assert 'name="sign_out_others"' in r.text
    async with browser(app) as fresh:
        assert (await sign_in(fresh, EMAIL)).status_code == 303  # still the old one


async def test_guessing_the_current_password_is_throttled(app: Starlette, kit: AuthKit) -> None:
    """A borrowed, signed-in laptop is not a password oracle: 5 wrong a minute."""
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as c:
        assert (await sign_in(c, EMAIL)).status_code == 303
        answers = [(await post_change(c, current=f"guess {i}")).status_code for i in range(6)]
        assert answers == [422] * 5 + [429], answers
        r = await post_change(c)  # even the right one waits
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


async def test_a_forged_post_changes_nothing(app: Starlette, kit: AuthKit) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as c:
        assert (await sign_in(c, EMAIL)).status_code == 303
        r = await c.post(
            PATH,
            data={
                "csrf_token": "forged",
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
            },
        )
        assert r.status_code == 403
    async with browser(app) as fresh:
        assert (await sign_in(fresh, EMAIL)).status_code == 303


async def test_signed_out_visitors_are_sent_to_sign_in(app: Starlette, kit: AuthKit) -> None:
    await kit.ensure_started()
    async with browser(app) as c:
        r = await c.get(PATH)
        assert r.status_code == 303 and "/auth/sign-in" in r.headers["location"]
        r = await c.post(PATH, data={"csrf_token": csrf_of((await c.get("/auth/sign-in")).text)})
        assert r.status_code == 303 and "/auth/sign-in" in r.headers["location"]


async def test_a_user_without_a_password_sets_one(
    app: Starlette, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Signed in by an emailed code, the user sets a password (no current one asked) and
    can sign in with it from then on."""
    await kit.ensure_started()
    user = await kit.users.create(email=EMAIL, password=PASSWORD)
    async with kit.services.db.session() as s:
        await s.exec(delete(PasswordCredentialRow))  # type: ignore[call-overload]
    async with browser(app) as c:
        step = await choose_method(c, EMAIL, "email_code")
        page = await c.get(step.headers["location"])
        code = re.findall(r"\b\d{6}\b", await mailed(kit, mailbox, EMAIL))[0]
        assert (await submit_code(c, page, code)).status_code == 303
        security = await c.get("/auth/user/security")
        assert "You sign in without a password." in security.text
        form = await c.get(PATH)
        assert form.status_code == 200 and 'name="current_password"' not in form.text
        assert "Set a password" in form.text
        r = await c.post(
            PATH,
            data={**hidden_fields(form.text), "new_password": NEW_PASSWORD, "sign_out_others": "y"},
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"].endswith("done=password_set")
        assert await is_signed_in(c)
    async with browser(app) as fresh:
        assert (await sign_in(fresh, EMAIL, NEW_PASSWORD)).status_code == 303
    assert "password.set" in await events(kit)
    assert (await kit.users.get(user.id)) is not None
