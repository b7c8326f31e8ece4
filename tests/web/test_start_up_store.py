"""
Start-up and the store: a fresh SQLite host signs up with no migration step (auto-migrate
is on by default for SQLite, off for PostgreSQL); missing tables stop start-up with
"authkit's tables are missing: run `authkit db upgrade`", not "database unavailable";
and a real outage logs its cause.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from authkit import AuthKit, Settings

from ..conftest import TEST_SECRET, KitFactory, Mailbox, free_port
from ..hostapp import make_host_app
from .flow_helpers import sign_up

pytestmark = pytest.mark.anyio


def test_auto_migrate_defaults_on_for_sqlite_and_off_for_postgresql() -> None:
    sqlite = Settings(secret_key=TEST_SECRET, database_url="sqlite+aiosqlite:///x.db")
    postgres = Settings(secret_key=TEST_SECRET, database_url="postgresql+asyncpg://u@h/db")
    assert sqlite.auto_migrate is None and sqlite.migrates_at_start_up is True
    assert postgres.migrates_at_start_up is False
    assert Settings(
        secret_key=TEST_SECRET, database_url="postgresql+asyncpg://u@h/db", auto_migrate=True
    ).migrates_at_start_up
    assert not Settings(secret_key=TEST_SECRET, auto_migrate=False).migrates_at_start_up


async def test_a_fresh_sqlite_host_signs_up_with_no_migration_step(
    make_kit: KitFactory, mailbox: Mailbox, store: object
) -> None:
    kit = make_kit(auto_migrate=None)
    if not kit.settings.database_url.startswith("sqlite"):
        kit_settings = kit.settings
        assert kit_settings.migrates_at_start_up is False
        await kit.aclose()
        return
    try:
        app = make_host_app(kit)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as c:
            done = await sign_up(c, kit, mailbox, "new@example.com")
            assert done.status_code == 303, done.text
            assert (await c.get("/")).json()["is_signed_in"] is True
    finally:
        await kit.aclose()


async def test_missing_tables_say_run_authkit_db_upgrade(
    make_kit: KitFactory, caplog: pytest.LogCaptureFixture
) -> None:
    kit = make_kit(auto_migrate=False)  # a new database, never upgraded
    try:
        app = make_host_app(kit)
        with caplog.at_level(logging.WARNING):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as c:
                page = await c.get("/auth/sign-in")
        assert page.status_code == 503
        assert "authkit's tables are missing: run `authkit db upgrade`" in caplog.text
        assert "database unavailable" not in caplog.text
    finally:
        await kit.aclose()


async def test_a_real_outage_logs_its_cause(caplog: pytest.LogCaptureFixture) -> None:
    kit = AuthKit(
        secret_key=TEST_SECRET,
        database_url=f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none",
    )
    try:
        app = make_host_app(kit)
        with caplog.at_level(logging.WARNING):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as c:
                page = await c.get("/auth/sign-in")
        assert page.status_code == 503
        assert "database unavailable" in caplog.text
        assert "(ConnectionRefusedError" in caplog.text or "(OSError" in caplog.text, caplog.text
    finally:
        await kit.aclose()
