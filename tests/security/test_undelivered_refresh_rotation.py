"""
Rotated refresh cookies that never reach the browser (issue #11, defect 3): a WebSocket
handshake carrying only `__refresh`, and a host endpoint that crashed into Starlette's
500 page (outside authkit's middleware), each rotated the refresh token without a
Set-Cookie; 30 s later the browser's only token was taken for a stolen copy and the
session revoked. Now a rotation is recorded only as the response that carries it
starts, and WebSockets are authenticated by `__session` alone.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.types import Message

from authkit import AuthKit
from authkit.flows.admin import create_user
from authkit.store.models import AuditEventRow, SessionRow

from ..conftest import FakeClock
from ..web.flow_helpers import PASSWORD, sign_in

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"


async def websocket(app: Starlette, cookies: str) -> list[Message]:
    """Open /ws on the ASGI app with these cookies; returns what the server sent."""
    sent: list[Message] = []
    incoming = iter([{"type": "websocket.connect"}, {"type": "websocket.disconnect"}])

    async def receive() -> Message:
        return next(incoming, {"type": "websocket.disconnect"})

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "websocket",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "headers": [(b"cookie", cookies.encode()), (b"host", b"testserver")],
        "scheme": "ws",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "subprotocols": [],
    }
    await app(scope, receive, send)
    return sent


async def signed_in(client: httpx.AsyncClient, kit: AuthKit) -> None:
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    assert (await sign_in(client, EMAIL)).status_code == 303


async def generation(kit: AuthKit) -> int:
    async with kit.services.db.session() as s:
        [row] = (await s.exec(select(SessionRow))).all()
    return row.refresh_generation


async def still_signed_in_after_the_grace(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    clock.advance(31)  # past REFRESH_REUSE_GRACE: a rotated-out token would be "reuse"
    assert (await client.get("/")).json()["is_signed_in"] is True
    async with kit.services.db.session() as s:
        events = [e.event for e in (await s.exec(select(AuditEventRow))).all()]
        [row] = (await s.exec(select(SessionRow))).all()
    assert "session.refresh_reused" not in events and row.revoked_at is None


async def test_a_websocket_handshake_never_rotates_the_refresh_token(
    client: httpx.AsyncClient, app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    """With a fresh `__session` the socket knows the user; with only `__refresh` it is
    anonymous and nothing rotates; the browser's refresh token keeps working."""
    await signed_in(client, kit)
    session, refresh = client.cookies["__session"], client.cookies["__refresh"]
    [_, hello, *_] = await websocket(app, f"__session={session}; __refresh={refresh}")
    assert '"user_id":"user_' in hello.get("text", ""), hello
    clock.advance(kit.settings.session_token_lifetime + 1)
    before = await generation(kit)
    sent = await websocket(app, f"__refresh={refresh}")
    assert sent[0]["type"] == "websocket.accept" and not sent[0].get("headers")
    assert sent[1]["text"] == '{"user_id":null}', sent
    assert await generation(kit) == before
    await still_signed_in_after_the_grace(client, kit, clock)


async def test_a_crashing_host_endpoint_does_not_rotate_the_refresh_token(
    client: httpx.AsyncClient, app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    """The host's 500 page carries no Set-Cookie, so no rotation is recorded."""
    await signed_in(client, kit)
    clock.advance(kit.settings.session_token_lifetime + 1)
    before = await generation(kit)
    crashing = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://testserver",
        cookies=client.cookies,
    )
    async with crashing:
        r = await crashing.get("/boom")
    assert r.status_code == 500 and not r.headers.get_list("set-cookie")
    assert await generation(kit) == before
    await still_signed_in_after_the_grace(client, kit, clock)


async def test_a_delivered_rotation_still_catches_a_replayed_token(
    client: httpx.AsyncClient, app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    """Control: once the new cookie went out and was used, the old one after the grace
    is a copy, and the session is revoked as before."""
    await signed_in(client, kit)
    old = client.cookies["__refresh"]
    clock.advance(kit.settings.session_token_lifetime + 1)
    assert (await client.get("/")).json()["is_signed_in"] is True  # rotated, delivered
    assert client.cookies["__refresh"] != old
    clock.advance(31)
    replay = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        cookies={"__refresh": old},
    )
    async with replay:
        assert (await replay.get("/")).json()["is_signed_in"] is False
    async with kit.services.db.session() as s:
        [row] = (await s.exec(select(SessionRow))).all()
    assert row.revoked_at is not None
