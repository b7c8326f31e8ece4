"""Fixtures for the command-line tests."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from ..conftest import POSTGRES_URL, TEST_SECRET, needs_postgres


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def cli_env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """AUTHKIT_* variables for a fresh database of each kind."""
    env = {
        "AUTHKIT_SECRET_KEY": TEST_SECRET,
        "AUTHKIT_PASSWORD_HASH_PROFILE": "CHEAPEST",
        "AUTHKIT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db",
    }
    schema = None
    if request.param == "postgres":
        needs_postgres()
        schema = f"t_{secrets.token_hex(6)}"
        env["AUTHKIT_DATABASE_URL"] = POSTGRES_URL
        env["AUTHKIT_DATABASE_SCHEMA"] = schema
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env
    if schema:

        async def drop() -> None:
            conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.close()

        asyncio.run(drop())
