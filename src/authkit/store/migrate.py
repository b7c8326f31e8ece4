"""
Runs the Alembic migrations that ship inside the package, on the async engine.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InterfaceError, OperationalError

from ..errors import StoreError
from .db import Database

__all__ = ["MIGRATIONS_DIR", "alembic_config", "upgrade"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


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
            before = await conn.run_sync(_current, db.schema)
            await conn.run_sync(
                lambda sync_conn: command.upgrade(alembic_config(sync_conn, db.schema), revision)
            )
            after = await conn.run_sync(_current, db.schema)
    except (OperationalError, InterfaceError, OSError) as exc:
        raise StoreError(f"database unavailable: {type(exc).__name__}") from exc
    return before, after


def _current(connection: Connection, schema: str | None) -> str | None:
    options = {"version_table_schema": schema} if schema else {}
    return MigrationContext.configure(connection, opts=options).get_current_revision()
