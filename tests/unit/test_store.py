"""The store: the shipped migration builds exactly the models' schema on SQLite and
PostgreSQL, addresses are unique case-insensitively, and secrets are stored hashed."""

from __future__ import annotations

import re

import anyio
import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select

from authkit import AuthKit
from authkit.store import migrate
from authkit.store.db import Database
from authkit.store.models import (
    EmailAddressRow,
    SessionRow,
    SigningKeyRow,
    UserRow,
    VerificationCodeRow,
)

from ..conftest import KitFactory, Mailbox, Store
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, form_token, sign_up

pytestmark = pytest.mark.anyio

TABLES = (
    "users",
    "email_addresses",
    "password_credentials",
    "sessions",
    "verification_codes",
    "signing_keys",
    "outbox",
    "audit_events",
)


async def test_migrations_build_exactly_the_models(store: Store) -> None:
    """After `upgrade`, autogenerate finds no difference between database and models."""
    db = Database(store.url, schema=store.schema)
    try:
        await migrate.upgrade(db)
        await migrate.upgrade(db)  # idempotent

        def diff(conn: Connection) -> list[object]:
            options = {"compare_type": True, "version_table": migrate.VERSION_TABLE}
            context = MigrationContext.configure(conn, opts=options)
            return list(compare_metadata(context, SQLModel.metadata))

        async with db.engine.connect() as conn:
            differences = await conn.run_sync(diff)
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await db.dispose()
    assert differences == []
    assert {"users", "email_addresses", "sessions", "signing_keys", "audit_events"} <= tables


async def test_normalized_email_is_unique(kit: AuthKit) -> None:
    """Two rows for one normalized address cannot coexist: the database refuses."""
    await kit.ensure_started()
    now = kit.services.clock()
    async with kit.services.db.session() as s:
        for n in (1, 2):
            s.add(UserRow(id=f"user_{n}", created_at=now, updated_at=now))
        await s.flush()
        s.add(
            EmailAddressRow(
                id="email_1", user_id="user_1", email="a@x.io", normalized="a@x.io", created_at=now
            )
        )
    with pytest.raises(IntegrityError):
        async with kit.services.db.session() as s:
            s.add(
                EmailAddressRow(
                    id="email_2",
                    user_id="user_2",
                    email="A@x.io",
                    normalized="a@x.io",
                    created_at=now,
                )
            )


async def test_secrets_are_stored_only_hashed_or_encrypted(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """No refresh token, code, password or private key appears in clear in any table."""
    await sign_up(client, kit, mailbox, "hashes@example.com")
    refresh = client.cookies["__refresh"]
    code = mailbox.last_code("hashes@example.com")
    async with kit.services.db.session() as s:
        sessions = (await s.exec(select(SessionRow))).all()
        codes = (await s.exec(select(VerificationCodeRow))).all()
        keys = (await s.exec(select(SigningKeyRow))).all()
        rows: list[str] = []
        for table in TABLES:
            query = text(f"SELECT * FROM {table}")  # noqa: S608 (fixed table names)
            result = await s.exec(query)  # type: ignore[call-overload]
            rows.extend(str(row) for row in result.all())
    dump = "\n".join(rows)
    assert sessions and codes and keys
    assert refresh not in dump and refresh.rsplit(".", 1)[1] not in dump
    assert code not in dump.replace(sessions[0].refresh_hash, "")
    assert PASSWORD not in dump
    assert "PRIVATE KEY" not in dump
    assert all(row.code_hash != code for row in codes)


async def test_parallel_sign_ups_of_one_address_make_one_account(
    make_kit: KitFactory, mailbox: Mailbox
) -> None:
    """20 sign-ups of one address in mixed case, their codes entered at once: one account."""
    # One IP and one address send 20 codes here: lift those limits for this test only.
    generous = "1000/minute"
    kit = make_kit(
        rate_limits={rule: generous for rule in ("sign_up:ip", "code_send:ip", "code_send:account")}
    )
    app = make_host_app(kit)
    # 20 spellings of one address, told apart in the mailbox by their exact case.
    spellings = [
        "".join(c.upper() if n >> i & 1 else c for i, c in enumerate("racecar")) + "@Example.com"
        for n in range(20)
    ]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        for _ in spellings
    ]
    for c, email in zip(clients, spellings, strict=True):
        r = await c.post(
            "/auth/sign-up",
            data={
                "csrf_token": await form_token(c, "/auth/sign-up"),
                "email": email,
                "password": PASSWORD,
            },
        )
        assert r.status_code == 303, r.text
    await kit.services.mailer.drain()
    tokens = [await form_token(c, "/auth/sign-up/verify") for c in clients]
    statuses: list[int] = []

    async def verify(c: httpx.AsyncClient, email: str, token: str) -> None:
        mine = [m for m in mailbox.messages if str(m["To"]).split("@")[0] == email.split("@")[0]]
        code = Mailbox.text_of(mine[-1])
        found = re.search(r"\b(\d{6})\b", code)
        assert found, code
        r = await c.post("/auth/sign-up/verify", data={"csrf_token": token, "code": found[1]})
        statuses.append(r.status_code)

    async with anyio.create_task_group() as tg:
        for c, email, token in zip(clients, spellings, tokens, strict=True):
            tg.start_soon(verify, c, email, token)
    for c in clients:
        await c.aclose()
    async with kit.services.db.session() as s:
        users = (await s.exec(select(UserRow))).all()
        addresses = (await s.exec(select(EmailAddressRow))).all()
    await kit.aclose()
    assert sorted(statuses) == [303] + [410] * 19, statuses
    assert len(users) == 1, users
    assert [a.normalized for a in addresses] == ["racecar@example.com"]
