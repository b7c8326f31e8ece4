"""
Pre-registration squatting (SECURITY.md #7; django-allauth 64.2.1): someone signs up with
the victim's address and never verifies it. Nothing exists until the code is entered, so
the victim's own sign-up gets the account, the squatter's password never works, and the
squatter's attempt cannot be completed afterwards.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.store.models import SessionRow, UserRow

from ..conftest import Mailbox
from ..web.flow_helpers import csrf_of, form_token, sign_in, sign_out, sign_up

pytestmark = pytest.mark.anyio

VICTIM = "victim@example.com"
SQUATTER_PASSWORD = "the squatter's own passphrase"
VICTIM_PASSWORD = "the victim's real passphrase"


async def count(kit: AuthKit, table: type[UserRow | SessionRow]) -> int:
    async with kit.services.db.session() as s:
        return int((await s.exec(select(func.count()).select_from(table))).one())


async def test_unverified_squatter_gets_nothing_and_the_victim_gets_the_account(
    client: httpx.AsyncClient, app: Starlette, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Account squatting (#7): an unverified sign-up creates nothing the squatter can use."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as squatter:
        token = await form_token(squatter, "/auth/sign-up")
        r = await squatter.post(
            "/auth/sign-up",
            data={"csrf_token": token, "email": VICTIM, "password": SQUATTER_PASSWORD},
        )
        assert r.status_code == 303, r.text
        squatter_page = await squatter.get(r.headers["location"])
        await kit.services.mailer.drain()
        squatter_code = mailbox.last_code(VICTIM)  # went to the victim's inbox, not the squatter
        assert await count(kit, UserRow) == 0, "no account before the code"
        # The squatter's password does not sign in while the attempt is pending...
        assert (await sign_in(squatter, VICTIM, SQUATTER_PASSWORD)).status_code == 422

        # ...the victim signs up on their own and gets the account...
        r = await sign_up(client, kit, mailbox, VICTIM, VICTIM_PASSWORD)
        assert r.status_code == 303, r.text
        await sign_out(client)

        # ...and the squatter's attempt is dead even with the code it never saw.
        r = await squatter.post(
            "/auth/sign-up/verify",
            data={"csrf_token": csrf_of(squatter_page.text), "code": squatter_code},
        )
        assert r.status_code in (410, 422), r.text
        assert not any(
            c.startswith("__session=") and not c.startswith("__session=;")
            for c in r.headers.get_list("set-cookie")
        ), r.headers
        assert (await sign_in(squatter, VICTIM, SQUATTER_PASSWORD)).status_code == 422
    assert (await sign_in(client, VICTIM, VICTIM_PASSWORD)).status_code == 303
    assert await count(kit, UserRow) == 1
