"""
authkit's Alembic history lives in its own version table, `authkit_alembic_version`, so a
host's own Alembic history (`alembic_version`) can share the database; a database
migrated by an older authkit has its row moved across once, and anyone else's rows stay.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from authkit.store import migrate
from authkit.store.db import Database

from ..conftest import Store

pytestmark = pytest.mark.anyio

HOST_REVISION = "host0001beef"


def head() -> str:
    revision = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert revision is not None
    return revision


def qualified(store: Store, name: str) -> str:
    return f'"{store.schema}".{name}' if store.schema else name


async def version_rows(db: Database, store: Store) -> dict[str, list[str] | None]:
    """Each version table's rows (None: the table does not exist)."""

    def read(conn: Connection) -> dict[str, list[str] | None]:
        tables = set(inspect(conn).get_table_names(schema=store.schema))
        found: dict[str, list[str] | None] = {}
        for name in ("alembic_version", "authkit_alembic_version"):
            if name not in tables:
                found[name] = None
                continue
            query = f"SELECT version_num FROM {qualified(store, name)}"  # noqa: S608 (ours)
            rows = conn.execute(text(query))
            found[name] = sorted(row[0] for row in rows)
        return found

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)


async def run(db: Database, *statements: str) -> None:
    async with db.engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def host_history(db: Database, store: Store, *revisions: str) -> None:
    """What a host's own Alembic leaves: `alembic_version` holding its revisions."""
    if store.schema:
        await run(db, f'CREATE SCHEMA IF NOT EXISTS "{store.schema}"')
    name = qualified(store, "alembic_version")
    await run(
        db,
        f"CREATE TABLE {name} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
        *(f"INSERT INTO {name} VALUES ('{revision}')" for revision in revisions),  # noqa: S608
    )


async def test_a_new_database_gets_authkits_own_version_table(store: Store) -> None:
    db = Database(store.url, schema=store.schema)
    try:
        assert await migrate.upgrade(db) == (None, head())
        assert await version_rows(db, store) == {
            "alembic_version": None,
            "authkit_alembic_version": [head()],
        }
    finally:
        await db.dispose()


async def test_a_hosts_alembic_history_lives_beside_authkits(store: Store) -> None:
    """The host migrated first: its row stays, untouched, and authkit's tables are built
    (before, authkit read the host's revision as its own and stopped: unknown revision)."""
    db = Database(store.url, schema=store.schema)
    try:
        await host_history(db, store, HOST_REVISION)
        assert await migrate.upgrade(db) == (None, head())
        assert await migrate.upgrade(db) == (head(), head())
        assert await version_rows(db, store) == {
            "alembic_version": [HOST_REVISION],
            "authkit_alembic_version": [head()],
        }
    finally:
        await db.dispose()


@pytest.mark.parametrize("with_host_row", [False, True], ids=["alone", "shared"])
async def test_an_older_databases_row_is_moved_across_once(
    store: Store, with_host_row: bool
) -> None:
    """A database an older authkit migrated (its row in `alembic_version`) is at head
    already: the row moves to authkit's table, no migration runs again, the legacy table
    goes when nothing else was in it and stays with the host's row otherwise."""
    db = Database(store.url, schema=store.schema)
    try:
        await migrate.upgrade(db)
        await run(db, f"DROP TABLE {qualified(store, 'authkit_alembic_version')}")
        await host_history(db, store, head(), *([HOST_REVISION] if with_host_row else []))

        assert await migrate.upgrade(db) == (head(), head())
        assert await version_rows(db, store) == {
            "alembic_version": [HOST_REVISION] if with_host_row else None,
            "authkit_alembic_version": [head()],
        }
        assert await migrate.upgrade(db) == (head(), head())
    finally:
        await db.dispose()


async def test_an_older_database_at_an_older_revision_is_moved_then_upgraded(
    store: Store,
) -> None:
    """Moved from where it was, then brought to head from there (not from nothing)."""
    db = Database(store.url, schema=store.schema)
    first = "0001"
    try:
        assert await migrate.upgrade(db, first) == (None, first)
        await run(db, f"DROP TABLE {qualified(store, 'authkit_alembic_version')}")
        await host_history(db, store, first)

        assert await migrate.upgrade(db) == (first, head())
        assert (await version_rows(db, store))["alembic_version"] is None
    finally:
        await db.dispose()
