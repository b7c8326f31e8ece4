"""
The async engine and session scope. SQLite (aiosqlite) runs in WAL mode with a busy
timeout so concurrent requests wait instead of failing; PostgreSQL (asyncpg) may keep
authkit's tables in their own schema.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, TimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from ..errors import ConfigError, StoreError

__all__ = [
    "CommitHooks",
    "Database",
    "is_missing_table",
]


class CommitHooks:
    """What runs around every commit of `Database.session()`: `before` inside the
    transaction (to add rows that must commit with the change, e.g. webhook events),
    `after` once it committed (to start sending them)."""

    def __init__(self) -> None:
        self.before: list[Callable[[AsyncSession], Awaitable[None]]] = []
        self.after: list[Callable[[AsyncSession], None]] = []


SQLITE_BUSY_TIMEOUT_MS = 10_000
#: How long a request waits for a pooled connection before it gets the 503 page
#: (SQLAlchemy's default, 30 s, is longer than anyone waits for a page).
POOL_TIMEOUT_SECONDS = 5


class Database:
    """
    Owns the engine. `async with db.session() as s:` gives a session that commits on
    success, rolls back on error, and turns connection failures into `StoreError`.
    """

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self.is_sqlite = url.startswith("sqlite")
        self.hooks = CommitHooks()
        try:
            self.engine: AsyncEngine = _make_engine(url, schema)
        except ModuleNotFoundError as exc:
            if exc.name == "asyncpg":
                raise ConfigError(
                    "AUTHKIT_DATABASE_URL names PostgreSQL, and its driver is not installed: "
                    "pip install 'authkit[postgres]'."
                ) from None
            raise

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        try:
            async with AsyncSession(self.engine, expire_on_commit=False) as s:
                yield s
                for before in self.hooks.before:
                    await before(s)
                await s.commit()
                for after in self.hooks.after:
                    after(s)
        except IntegrityError:
            raise
        # TimeoutError: every pooled connection stayed busy for POOL_TIMEOUT_SECONDS.
        except (OperationalError, DBAPIError, TimeoutError, OSError) as exc:
            raise StoreError(f"database unavailable: {type(exc).__name__}") from exc

    async def dispose(self) -> None:
        await self.engine.dispose()


def _make_engine(url: str, schema: str | None) -> AsyncEngine:
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "pool_timeout": POOL_TIMEOUT_SECONDS}
    if url.startswith("sqlite"):
        kwargs = {
            "pool_timeout": POOL_TIMEOUT_SECONDS,
            "connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        }
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if schema:
        kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
    return create_async_engine(url, **kwargs)


def is_missing_table(exc: BaseException | None) -> bool:
    """Whether a database error says a table is not there (SQLite's "no such table",
    PostgreSQL's undefined_table, 42P01), as against the database being unreachable."""
    if exc is None:
        return False
    original = getattr(exc, "orig", None)
    if getattr(original, "sqlstate", None) == "42P01" or getattr(exc, "sqlstate", None) == "42P01":
        return True
    text = f"{exc} {original or ''}"
    return (
        "no such table" in text
        or "UndefinedTable" in type(original).__name__
        or ("does not exist" in text and "relation" in text)
    )
