"""
A sign-in racing a password reset (issue #11, defect 1). A sign-in with the old
password that read the hash before the reset finished used to create its session after
the reset's "end every session" had run, and keep it. Now the user's credential
generation moves with every credential change (reset, ban, second factor on or off), a
sign-in creates its session only if the generation it started under is still current,
and a session committed under an older one is refused at its first refresh.

The races are made deterministic with gates: the sign-in is held at a precise point
(just after checking the old password; just before inserting its session) while the
reset runs to its end, then released.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.flows import sign_in as sign_in_flow
from authkit.flows.admin import ban_user, create_user
from authkit.store.models import SessionRow, UserRow

from ..conftest import FakeClock, Mailbox
from ..web.flow_helpers import PASSWORD, form_token, sign_in
from .throttle_helpers import forgot, reset_mail

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"
NEW_PASSWORD = "an entirely new passphrase"


def browser(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def reset_by_link(client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox) -> None:
    assert (await forgot(client, EMAIL)).status_code == 303
    _, token = await reset_mail(kit, mailbox, EMAIL)
    csrf = await form_token(client, "/auth/forgot-password")
    r = await client.post(
        "/auth/reset-password",
        data={
            "csrf_token": csrf,
            "token": token,
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        },
    )
    assert r.status_code == 303, r.text


async def usable_sessions(kit: AuthKit) -> list[SessionRow]:
    async with kit.services.db.session() as s:
        return list(
            (await s.exec(select(SessionRow).where(SessionRow.revoked_at == None))).all()  # noqa: E711
        )


Gate = Callable[..., Awaitable[Any]]


def held(real: Gate, reached: anyio.Event, release: anyio.Event, *, after: bool) -> Gate:
    """`real`, stopping (before or after it runs) until `release` is set."""

    async def gated(*args: Any, **kwargs: Any) -> Any:
        if not after:
            reached.set()
            await release.wait()
        result = await real(*args, **kwargs)
        if after:
            reached.set()
            await release.wait()
        return result

    return gated


@pytest.mark.parametrize("hold", ["after_the_password_check", "before_the_session_insert"])
async def test_a_sign_in_racing_a_reset_keeps_no_session(
    app: Starlette,
    kit: AuthKit,
    mailbox: Mailbox,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    hold: str,
) -> None:
    """The old password's sign-in, held while a reset completes, ends with no session
    that outlives its first token: refused at once, or at its first refresh."""
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    reached, release = anyio.Event(), anyio.Event()
    if hold == "after_the_password_check":
        hasher = kit.services.hasher
        monkeypatch.setattr(hasher, "verify", held(hasher.verify, reached, release, after=True))
    else:
        monkeypatch.setattr(
            sign_in_flow,
            "create_session",
            held(sign_in_flow.create_session, reached, release, after=False),
        )
    result: dict[str, httpx.Response] = {}
    async with browser(app) as attacker, browser(app) as owner:

        async def old_password_sign_in() -> None:
            result["r"] = await sign_in(attacker, EMAIL, PASSWORD)

        async with anyio.create_task_group() as tg:
            tg.start_soon(old_password_sign_in)
            await reached.wait()
            await reset_by_link(owner, kit, mailbox)
            release.set()
        r = result["r"]
        assert r.status_code in (303, 422, 503), r.text
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert (await attacker.get("/")).json()["is_signed_in"] is False
    # Whatever was committed, nothing of the old credential can refresh.
    for row in await usable_sessions(kit):
        async with kit.services.db.session() as s:
            user = await s.get(UserRow, row.user_id)
        assert user is not None and row.credential_generation != user.credential_generation
    async with browser(app) as owner:
        assert (await sign_in(owner, EMAIL, NEW_PASSWORD)).status_code == 303


async def test_a_ban_during_a_sign_in_leaves_no_session(
    app: Starlette, kit: AuthKit, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ban while the sign-in is between its check and its session: refused too."""
    await kit.ensure_started()
    user_id = await create_user(kit.services, email=EMAIL, password=PASSWORD)
    reached, release = anyio.Event(), anyio.Event()
    hasher = kit.services.hasher
    monkeypatch.setattr(hasher, "verify", held(hasher.verify, reached, release, after=True))
    result: dict[str, httpx.Response] = {}
    async with browser(app) as c:

        async def sign_in_now() -> None:
            result["r"] = await sign_in(c, EMAIL, PASSWORD)

        async with anyio.create_task_group() as tg:
            tg.start_soon(sign_in_now)
            await reached.wait()
            assert await ban_user(kit.services, user_id)
            release.set()
        assert result["r"].status_code == 422, result["r"].text
        assert (await c.get("/")).json()["is_signed_in"] is False
    assert await usable_sessions(kit) == []
