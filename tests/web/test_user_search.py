"""
Finding users by the start of any word of a name or an address, by index
(search_terms.py): the words follow every change in the commit that makes it (sign-up,
profile, import, deletion), a database migrated from before the table gets the words of
the users already there, and the query is a range on the term index. SQLite and
PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import col, select

from authkit import AuthKit
from authkit.flows.admin_console import find_users
from authkit.search_terms import terms_of
from authkit.store import migrate
from authkit.store.db import Database
from authkit.store.models import UserSearchTermRow

from ..conftest import KitFactory, Mailbox, Store
from ..hostapp import make_host_app
from .flow_helpers import PASSWORD, sign_up

pytestmark = pytest.mark.anyio

BEFORE = datetime(2026, 1, 1, tzinfo=UTC)


async def found(kit: AuthKit, search: str) -> list[str]:
    return sorted(u.email for u in await kit.users.list(search=search))


def test_the_words_of_a_user() -> None:
    assert terms_of("Jean-Luc", "O\u2019Brien", ["jl.obrien+work@Mail.Acme.com"]) == {
        "jean-luc", "jean", "luc", "o\u2019brien", "o", "brien",
        "jl.obrien+work@mail.acme.com", "jl.obrien+work", "jl", "obrien", "work",
        "mail.acme.com", "mail", "acme", "com",
    }  # fmt: skip
    assert terms_of("", "", []) == set()


async def test_the_words_follow_every_change(kit: AuthKit, mailbox: Mailbox) -> None:
    await kit.ensure_started()
    ada = await kit.users.create(
        email="ada.l@engines.example.com", password=PASSWORD, first_name="Ada", last_name="Lovelace"
    )
    await kit.users.create(email="grace@navy.example.org", password=PASSWORD, first_name="Grace")
    assert await found(kit, "LOVE") == ["ada.l@engines.example.com"]
    assert await found(kit, "engines") == ["ada.l@engines.example.com"]
    assert await found(kit, "ada love") == ["ada.l@engines.example.com"]
    assert await found(kit, "ada grace") == []
    assert await found(kit, "example") == ["ada.l@engines.example.com", "grace@navy.example.org"]
    await kit.users.update(ada.id, last_name="Byron")
    assert await found(kit, "love") == []
    assert await found(kit, "byr") == ["ada.l@engines.example.com"]
    # Signed up through the pages: found at once.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_host_app(kit)), base_url="http://testserver"
    ) as c:
        assert (await sign_up(c, kit, mailbox, "katherine@nasa.example.net")).status_code == 303
    assert await found(kit, "nasa") == ["katherine@nasa.example.net"]
    # Deleted: gone with the user.
    await kit.users.delete(ada.id)
    assert await found(kit, "byr") == []
    async with kit.services.db.session() as s:
        left = (
            await s.exec(select(UserSearchTermRow).where(col(UserSearchTermRow.user_id) == ada.id))
        ).all()
    assert left == []
    await kit.aclose()


async def test_the_console_and_the_api_search_alike(kit: AuthKit) -> None:
    await kit.ensure_started()
    await kit.users.create(
        email="x@acme.com", password=PASSWORD, first_name="Marie", last_name="Curie"
    )
    page = await find_users(kit.services, search="cur")
    assert [row.user.email for row in page.users] == ["x@acme.com"]
    assert await found(kit, "cur") == ["x@acme.com"]
    await kit.aclose()


async def test_a_database_from_before_gets_the_words_of_its_users(
    make_kit: KitFactory, store: Store
) -> None:
    db = Database(store.url, schema=store.schema)
    await migrate.upgrade(db, "0017")
    # Users written by the authkit of before the table (its words did not exist).
    async with db.engine.begin() as conn:
        users = "users" if store.schema is None else f'"{store.schema}".users'
        addresses = (
            "email_addresses" if store.schema is None else f'"{store.schema}".email_addresses'
        )
        for n, (first, last, email) in enumerate(
            [
                ("Ada", "Lovelace", "ada@engines.example.com"),
                ("Alan", "Turing", "alan@bletchley.example.org"),
            ]
        ):
            await conn.execute(
                text(
                    f"INSERT INTO {users} (id, first_name, last_name, created_at, updated_at, "  # noqa: S608
                    "banned_at, locked, credential_generation, public_metadata, private_metadata, "
                    "unsafe_metadata) VALUES (:id, :first, :last, :now, :now, NULL, false, 0, "
                    "'{}', '{}', '{}')"
                ),
                {"id": f"user_old{n}", "first": first, "last": last, "now": BEFORE},
            )
            await conn.execute(
                text(
                    f"INSERT INTO {addresses} (id, user_id, email, normalized, is_primary, "  # noqa: S608
                    "verified_at, created_at) VALUES (:id, :user, :email, :email, true, NULL, :now)"
                ),
                {
                    "id": f"addr_old{n}",
                    "user": f"user_old{n}",
                    "email": email,
                    "now": BEFORE,
                },
            )
    await migrate.upgrade(db)
    await db.dispose()
    kit = make_kit()
    await kit.ensure_started()
    assert await found(kit, "turing") == ["alan@bletchley.example.org"]
    assert await found(kit, "engines") == ["ada@engines.example.com"]
    await kit.aclose()
