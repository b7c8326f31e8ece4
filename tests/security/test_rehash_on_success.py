"""Old-parameter hashes are upgraded after a successful sign-in only (SECURITY.md #15):
a wrong password never rewrites the stored hash."""

from __future__ import annotations

import pytest
from sqlmodel import select

from authkit.flows.admin import create_user
from authkit.store.models import PasswordCredentialRow

from ..conftest import KitFactory
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, sign_in

pytestmark = pytest.mark.anyio


async def _stored_hash(kit: object) -> str:
    async with kit.services.db.session() as s:  # type: ignore[attr-defined]
        row = (await s.exec(select(PasswordCredentialRow))).one()
    return str(row.password_hash)


async def test_failed_sign_in_leaves_an_old_hash_alone_and_success_upgrades_it(
    make_kit: KitFactory,
) -> None:
    """A wrong password never rewrites the hash; the right one upgrades it to the new profile."""
    import httpx

    old_kit = make_kit()  # CHEAPEST, the old parameters
    await old_kit.ensure_started()
    await create_user(old_kit.services, email="rehash@example.com", password=PASSWORD)
    old_hash = await _stored_hash(old_kit)
    await old_kit.aclose()

    kit = make_kit(password_hash_profile="RFC_9106_LOW_MEMORY")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_host_app(kit)), base_url="http://testserver"
    ) as client:
        assert (await sign_in(client, "rehash@example.com", "not the password")).status_code == 422
        assert await _stored_hash(kit) == old_hash
        assert (await sign_in(client, "rehash@example.com")).status_code == 303
    new_hash = await _stored_hash(kit)
    await kit.aclose()
    assert new_hash != old_hash
    assert new_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
