"""
`AuthKit.users`, the Python API hosts call from their own code: get, list, create,
update, ban, unban, revoke_sessions and delete, on SQLite and PostgreSQL, with the effect
each has on a signed-in browser.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import SQLModel, col, select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.errors import FieldError
from authkit.flows.admin import owned_by_user
from authkit.store.models import AuditEventRow, UserRow, VerificationCodeRow
from authkit.user_admin import MAX_PAGE

from ..conftest import FakeClock, Mailbox
from .flow_helpers import PASSWORD, sign_in, sign_up, start_sign_up
from .pipeline_helpers import set_up_totp

pytestmark = pytest.mark.anyio


async def is_signed_in(client: httpx.AsyncClient) -> bool:
    return bool((await client.get("/")).json()["is_signed_in"])


def browser(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_get_and_get_by_email(kit: AuthKit) -> None:
    await kit.ensure_started()
    made = await kit.users.create(email="Ada@Example.com", password=PASSWORD, first_name="Ada")
    assert made.email == "Ada@example.com" and made.first_name == "Ada" and made.email_verified
    assert await kit.users.get(made.id) == made
    assert await kit.users.get_by_email("ADA@example.COM") == made
    assert await kit.users.get("user_nobody") is None
    assert await kit.users.get_by_email("nobody@example.com") is None
    assert await kit.users.get_by_email("not an address") is None


async def test_list_is_newest_first_searchable_and_paged(kit: AuthKit, clock: FakeClock) -> None:
    await kit.ensure_started()
    names = ["ada@example.com", "grace@example.org", "linus@example.net", "per%cent@example.com"]
    for email in names:
        await kit.users.create(email=email, password=PASSWORD, last_name=email[:3].upper())
        clock.advance(1)
    everyone = await kit.users.list()
    assert [u.email for u in everyone] == list(reversed(names))
    assert [u.email for u in await kit.users.list(search="EXAMPLE.ORG")] == [names[1]]
    assert [u.email for u in await kit.users.list(search="lin")] == [names[2]]  # a last name
    # Search text is text: % and _ are not wildcards.
    assert [u.email for u in await kit.users.list(search="per%")] == [names[3]]
    assert await kit.users.list(search="_") == []
    assert await kit.users.list(search="%") == []
    # The start of any word, every word of the search: by index.
    assert [u.email for u in await kit.users.list(search="gr example.o")] == [names[1]]
    assert await kit.users.list(search="race") == []
    assert [u.email for u in await kit.users.list(limit=2, offset=1)] == [names[2], names[1]]
    assert await kit.users.list(limit=-5) == []
    assert len(await kit.users.list(limit=MAX_PAGE * 10)) == len(names)


async def test_update_changes_what_is_given_and_checks_it(kit: AuthKit) -> None:
    await kit.ensure_started()
    user = await kit.users.create(email="ada@example.com", password=PASSWORD, first_name="Ada")
    changed = await kit.users.update(user.id, last_name="  Lovelace ")
    assert changed is not None and (changed.first_name, changed.last_name) == ("Ada", "Lovelace")
    with pytest.raises(FieldError) as refused:
        await kit.users.update(user.id, first_name="x" * 101)
    assert refused.value.field == "first_name"
    with pytest.raises(FieldError):
        await kit.users.update(user.id, last_name="line\nbreak")
    assert (await kit.users.get(user.id)) == changed  # nothing half-applied
    assert await kit.users.update("user_nobody", first_name="X") is None
    async with kit.services.db.session() as s:
        events = (
            await s.exec(select(AuditEventRow.event).where(AuditEventRow.user_id == user.id))
        ).all()
    assert events.count("profile.updated") == 1


async def test_revoke_sessions_signs_browsers_out_within_a_token_lifetime(
    app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    await kit.ensure_started()
    user = await kit.users.create(email="ada@example.com", password=PASSWORD)
    async with browser(app) as kept, browser(app) as ended, browser(app) as also_ended:
        for c in (kept, ended, also_ended):
            assert (await sign_in(c, "ada@example.com")).status_code == 303
        keep = (await kept.get("/")).json()["session_id"]
        assert await kit.users.revoke_sessions(user.id, except_session_id=keep) == 2
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert await is_signed_in(kept)
        assert not await is_signed_in(ended) and not await is_signed_in(also_ended)
        assert await kit.users.revoke_sessions(user.id) == 1
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert not await is_signed_in(kept)
    assert await kit.users.revoke_sessions("user_nobody") == 0


async def test_ban_ends_sessions_and_unban_lets_the_user_back(
    app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    await kit.ensure_started()
    user = await kit.users.create(email="ada@example.com", password=PASSWORD)
    async with browser(app) as c:
        assert (await sign_in(c, "ada@example.com")).status_code == 303
        assert await kit.users.ban(user.id)
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert not await is_signed_in(c)
        assert (await sign_in(c, "ada@example.com")).status_code == 422
        assert (await kit.users.get(user.id)).is_banned  # type: ignore[union-attr]
        assert await kit.users.unban(user.id)
        assert not await kit.users.unban(user.id)  # not banned any more
        assert (await sign_in(c, "ada@example.com")).status_code == 303
    assert not await kit.users.ban("user_nobody")


async def test_delete_removes_every_row_of_the_user_found_in_the_schema(
    app: Starlette, kit: AuthKit, clock: FakeClock, mailbox: Mailbox
) -> None:
    """Sessions, addresses, password, authenticator app, recovery codes, sign-in attempts
    and code steps go; another user's rows stay; the address can sign up again."""
    await kit.ensure_started()
    user = await kit.users.create(email="ada@example.com", password=PASSWORD)
    other = await kit.users.create(email="grace@example.com", password=PASSWORD)
    async with browser(app) as c, browser(app) as g:
        assert (await sign_in(c, "ada@example.com")).status_code == 303
        assert (await sign_in(g, "grace@example.com")).status_code == 303
        await set_up_totp(c, clock)
        async with browser(app) as stranger:  # a sign-up for the taken address: a code step
            await start_sign_up(stranger, "ada@example.com")
        owned = owned_by_user()
        assert {table.name for table, _ in owned} >= {
            "sessions",
            "email_addresses",
            "password_credentials",
            "authenticators",
            "recovery_codes",
            "sign_in_attempts",
        }
        assert await kit.users.delete(user.id)
        assert not await kit.users.delete(user.id)
        async with kit.services.db.session() as s:
            for table, column in owned:
                left = (await s.exec(select(func.count()).where(column == user.id))).one()
                assert left == 0, table.name
                others = (await s.exec(select(func.count()).where(column == other.id))).one()
                if table.name in ("sessions", "email_addresses", "password_credentials"):
                    assert others >= 1, table.name
            codes = (
                await s.exec(
                    select(func.count()).where(
                        col(VerificationCodeRow.email_normalized) == "ada@example.com"
                    )
                )
            ).one()
            assert codes == 0
            assert await s.get(UserRow, user.id) is None
            events = (
                await s.exec(select(AuditEventRow.event).where(AuditEventRow.user_id == user.id))
            ).all()
        assert "user.deleted" in events  # the audit log keeps its rows
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert not await is_signed_in(c)
        assert await is_signed_in(g)
        async with browser(app) as again:
            r = await sign_up(again, kit, mailbox, "ada@example.com")
            assert r.status_code == 303, r.text


def test_every_table_that_points_at_users_is_covered() -> None:
    """A table added later with a foreign key to users is deleted with its user."""
    pointing = {
        table.name
        for table in SQLModel.metadata.sorted_tables
        for key in table.foreign_keys
        if key.column.table.name == "users"
    }
    assert {table.name for table, _ in owned_by_user()} == pointing
