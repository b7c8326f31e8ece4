"""
No default accounts (SECURITY.md #9, ASVS 6.3.2): a fresh install has no user, no session
and no pending code, and common admin credentials sign nobody in.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from authkit import AuthKit
from authkit.store.models import (
    EmailAddressRow,
    PasswordCredentialRow,
    SessionRow,
    UserRow,
    VerificationCodeRow,
)

from ..web.flow_helpers import sign_in

pytestmark = pytest.mark.anyio


async def test_fresh_install_has_no_accounts(client: httpx.AsyncClient, kit: AuthKit) -> None:
    """Default accounts (#9): after start-up every identity table is empty."""
    assert (await client.get("/auth/sign-in")).status_code == 200  # starts and migrates
    async with kit.services.db.session() as s:
        for table in (UserRow, EmailAddressRow, PasswordCredentialRow, SessionRow):
            n = (await s.exec(select(func.count()).select_from(table))).one()
            assert n == 0, table.__tablename__
        pending = (await s.exec(select(func.count()).select_from(VerificationCodeRow))).one()
        assert pending == 0


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("admin@example.com", "admin"),
        ("admin@localhost", "administrator"),
        ("root@localhost", "password123"),
        ("admin@authkit.local", "changeme123"),
    ],
)
async def test_default_credentials_sign_nobody_in(
    client: httpx.AsyncClient, email: str, password: str
) -> None:
    """Default accounts (#9): well-known admin credentials are just unknown addresses."""
    r = await sign_in(client, email, password)
    assert r.status_code == 422, r.text
    assert (await client.get("/")).json()["is_signed_in"] is False
