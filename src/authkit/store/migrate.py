"""
Runs the Alembic migrations that ship inside the package, on the async engine.

authkit records its revision in its own version table, `authkit_alembic_version`, so a
host's own Alembic history (in `alembic_version`) lives beside it in the same database.
Databases migrated before that have authkit's row in `alembic_version`: the first upgrade
moves it across, leaving any other row there alone.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, Table, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InterfaceError, OperationalError

from ..errors import StoreError
from .db import Database

__all__ = ["MIGRATIONS_DIR", "VERSION_TABLE", "alembic_config", "upgrade"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: Where authkit's revision is kept (a host's Alembic keeps its own in `alembic_version`).
VERSION_TABLE = "authkit_alembic_version"
#: Where versions before 0.2 kept it, shared with a host's Alembic.
LEGACY_VERSION_TABLE = "alembic_version"


def alembic_config(connection: Connection | None = None, schema: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    return config


async def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """
    Bring the database to `revision` (default: the newest); returns the revision it was
    at (None: a database without authkit's tables) and the one it is at now.

    Raises:
        StoreError: the database cannot be reached.
    """
    try:
        async with db.engine.begin() as conn:
            if db.schema:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{db.schema}"'))
            await conn.run_sync(_adopt_legacy_version, db.schema)
            before = await conn.run_sync(_current, db.schema)
            await conn.run_sync(
                lambda sync_conn: command.upgrade(alembic_config(sync_conn, db.schema), revision)
            )
            after = await conn.run_sync(_current, db.schema)
    except (OperationalError, InterfaceError, OSError) as exc:
        raise StoreError(f"database unavailable: {type(exc).__name__}") from exc
    return before, after


def _context(connection: Connection, schema: str | None, version_table: str) -> MigrationContext:
    options: dict[str, str] = {"version_table": version_table}
    if schema:
        options["version_table_schema"] = schema
    return MigrationContext.configure(connection, opts=options)


def _current(connection: Connection, schema: str | None) -> str | None:
    return _context(connection, schema, VERSION_TABLE).get_current_revision()


def _adopt_legacy_version(connection: Connection, schema: str | None) -> None:
    """Move authkit's revision out of `alembic_version` (where it was kept before) into
    its own table, once; rows of anyone else's history stay where they are."""
    tables = set(inspect(connection).get_table_names(schema=schema))
    if VERSION_TABLE in tables or LEGACY_VERSION_TABLE not in tables:
        return
    legacy = Table(
        LEGACY_VERSION_TABLE, MetaData(), Column("version_num", String(32)), schema=schema
    )
    rows = {row[0] for row in connection.execute(legacy.select())}
    script = ScriptDirectory.from_config(alembic_config())
    ours = {revision.revision for revision in script.walk_revisions()}
    moving = rows & ours
    if not moving:
        return
    context = _context(connection, schema, VERSION_TABLE)
    for revision in sorted(moving):  # one, unless authkit's history ever branches
        context.stamp(script, revision)
    connection.execute(legacy.delete().where(legacy.c.version_num.in_(moving)))
    if not rows - moving:
        # Only authkit's row was there: the table was authkit's, made by an older version.
        legacy.drop(connection)
