"""
Webhooks against a real receiver on 127.0.0.1 (examples/webhook_receiver, served by
uvicorn, verifying each delivery with the `standardwebhooks` package): the events of
sign-up, profile changes, sign-out, revocation, ban and deletion; retry after the
receiver was down, nothing lost across a restart, order per user, giving up after three
days, replay from the log, requests never waiting for an endpoint. SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select
from starlette.types import Receive, Scope, Send

from authkit import AuthKit
from authkit.store.models import WebhookMessageRow
from authkit.webhooks import new_secret
from authkit.webhooks.outbox import RETRY_FOR

from ..conftest import FakeClock, KitFactory, Mailbox, free_port, serve
from ..examples import example
from .flow_helpers import PASSWORD, csrf_of, host_client, sign_in, sign_out, sign_up

receiver_app = example("webhook_receiver").create_app

pytestmark = pytest.mark.anyio

SECRET = new_secret()


@dataclass
class Receiver:
    """The example receiver on a port of its own; `failing` makes it answer 503 (an
    endpoint error), `stop()`/`start()` take it off the network and back."""

    port: int
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failing: bool = False
    #: Holds every answer until set (an endpoint that is slow to answer).
    release: threading.Event = field(default_factory=threading.Event)
    _stop: Any = None

    def __post_init__(self) -> None:
        self.release.set()
        self.app = receiver_app(SECRET, lambda i, e: self.events.append((i, e)))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.release.wait(30)
            if self.failing:
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)

    def start(self) -> None:
        _, self._stop = serve(self, self.port)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None

    def types(self) -> list[str]:
        return [event["type"] for _, event in self.events]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port())
    r.start()
    yield r
    r.release.set()
    r.stop()


def with_webhooks(make_kit: KitFactory, receiver: Receiver, **overrides: Any) -> AuthKit:
    return make_kit(webhooks=[{"url": receiver.url, "secret": SECRET}], **overrides)


async def rows(kit: AuthKit) -> list[WebhookMessageRow]:
    async with kit.services.db.session() as s:
        found = await s.exec(select(WebhookMessageRow).order_by(col(WebhookMessageRow.seq)))
        return list(found.all())


async def settle(kit: AuthKit) -> None:
    """Wait for the deliveries started in the background."""
    await kit.services.mailer.drain()


async def test_a_sign_up_and_its_session_reach_the_receiver_signed(
    make_kit: KitFactory, receiver: Receiver, mailbox: Mailbox
) -> None:
    """user.created, session.created and email.created (the code mail, as Clerk sends it
    for sites that deliver their own), each verified by standardwebhooks."""
    kit = with_webhooks(make_kit, receiver)
    async with host_client(kit) as c:
        done = await sign_up(c, kit, mailbox, "ada@example.com", first_name="Ada")
        assert done.status_code == 303, done.text
        await settle(kit)
    assert sorted(receiver.types()) == ["email.created", "session.created", "user.created"]
    by_type = {event["type"]: event for _, event in receiver.events}
    user = by_type["user.created"]["data"]
    assert user["object"] == "user" and user["first_name"] == "Ada"
    assert user["email_addresses"][0]["email_address"] == "ada@example.com"
    assert user["email_addresses"][0]["verification"] == {"status": "verified"}
    assert user["password_enabled"] is True and user["banned"] is False
    session = by_type["session.created"]["data"]
    assert session["user_id"] == user["id"] and session["status"] == "active"
    mail = by_type["email.created"]["data"]
    assert mail["to_email_address"] == "ada@example.com"
    assert mailbox.last_code("ada@example.com") in mail["body_plain"]
    assert isinstance(by_type["user.created"]["timestamp"], int)
    assert {r.state for r in await rows(kit)} == {"delivered"}
    await kit.aclose()


async def test_profile_changes_sign_out_and_deletion(
    make_kit: KitFactory, receiver: Receiver, mailbox: Mailbox
) -> None:
    kit = with_webhooks(make_kit, receiver)
    await kit.ensure_started()
    user = await kit.users.create(email="ada@example.com", password=PASSWORD)
    async with host_client(kit) as c:
        assert (await sign_in(c, "ada@example.com")).status_code == 303
        await kit.users.update(user.id, first_name="Ada", last_name="Lovelace")
        await kit.users.update_metadata(user.id, public_metadata={"plan": "pro"})
        assert (await sign_out(c)).status_code == 303
        await settle(kit)
    await kit.users.delete(user.id)
    await settle(kit)
    assert receiver.types() == [
        "user.created",
        "session.created",
        "user.updated",
        "user.updated",
        "session.ended",
        "user.deleted",
    ]
    updated = [e["data"] for _, e in receiver.events if e["type"] == "user.updated"]
    assert (updated[0]["first_name"], updated[0]["last_name"]) == ("Ada", "Lovelace")
    assert updated[1]["public_metadata"] == {"plan": "pro"}
    assert receiver.events[-1][1]["data"] == {"object": "user", "id": user.id, "deleted": True}
    await kit.aclose()


async def test_a_ban_revokes_each_session_and_updates_the_user(
    make_kit: KitFactory, receiver: Receiver
) -> None:
    kit = with_webhooks(make_kit, receiver)
    await kit.ensure_started()
    user = await kit.users.create(email="ada@example.com", password=PASSWORD)
    async with host_client(kit) as phone, host_client(kit) as laptop:
        assert (await sign_in(phone, "ada@example.com")).status_code == 303
        assert (await sign_in(laptop, "ada@example.com")).status_code == 303
    await kit.users.ban(user.id)
    await settle(kit)
    revoked = [e["data"] for _, e in receiver.events if e["type"] == "session.revoked"]
    created = [e["data"] for _, e in receiver.events if e["type"] == "session.created"]
    assert sorted(s["id"] for s in revoked) == sorted(s["id"] for s in created)
    assert {s["status"] for s in revoked} == {"revoked"}
    banned = [e["data"] for _, e in receiver.events if e["type"] == "user.updated"]
    assert banned[-1]["banned"] is True
    await kit.aclose()


async def test_retried_after_the_receiver_was_down(
    make_kit: KitFactory, receiver: Receiver, clock: FakeClock
) -> None:
    """The endpoint is off the network: the event waits with a growing pause, and goes
    out once the receiver is back and the pause is over (a request's sweep sends it)."""
    kit = with_webhooks(make_kit, receiver)
    await kit.ensure_started()
    receiver.stop()
    await kit.users.create(email="ada@example.com", password=PASSWORD)
    await settle(kit)
    (row,) = await rows(kit)
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, None)
    assert "Connect" in row.last_error, row.last_error
    receiver.start()
    async with host_client(kit) as c:
        clock.advance(10)  # within the pause: nothing is tried
        await c.get("/auth/sign-in")
        await settle(kit)
        assert receiver.events == []
        clock.advance(60)
        await c.get("/auth/sign-in")
        await settle(kit)
    assert receiver.types() == ["user.created"]
    (row,) = await rows(kit)
    assert (row.state, row.attempts, row.last_status) == ("delivered", 2, 204)
    await kit.aclose()


async def test_nothing_is_lost_across_a_restart(
    make_kit: KitFactory, receiver: Receiver, clock: FakeClock
) -> None:
    """Written while the receiver was down, by a process that then stopped: the next
    process sends them."""
    first = with_webhooks(make_kit, receiver)
    await first.ensure_started()
    receiver.stop()
    await first.users.create(email="ada@example.com", password=PASSWORD)
    await first.users.create(email="bob@example.com", password=PASSWORD)
    await first.aclose()
    receiver.start()
    clock.advance(60)
    second = with_webhooks(make_kit, receiver)
    async with host_client(second) as c:
        await c.get("/auth/sign-in")
        await settle(second)
    assert receiver.types() == ["user.created", "user.created"]
    await second.aclose()


async def test_each_users_events_keep_their_order(
    make_kit: KitFactory, receiver: Receiver, clock: FakeClock
) -> None:
    """While Ada's first event fails, her later ones wait behind it; Bob's go through."""
    kit = with_webhooks(make_kit, receiver)
    await kit.ensure_started()
    receiver.failing = True
    ada = await kit.users.create(email="ada@example.com", password=PASSWORD)
    await settle(kit)
    receiver.failing = False
    await kit.users.update(ada.id, first_name="Ada")
    await kit.users.create(email="bob@example.com", password=PASSWORD)
    await settle(kit)
    assert [
        (e["type"], e["data"]["email_addresses"][0]["email_address"]) for _, e in receiver.events
    ] == [("user.created", "bob@example.com")]
    (first, *_) = await rows(kit)
    assert (first.state, first.last_status, first.last_error) == ("pending", 503, "answered 503")
    clock.advance(60)
    await kit.services.webhooks.deliver_due()
    about_ada = [e["type"] for _, e in receiver.events if e["data"]["id"] == ada.id]
    assert about_ada == ["user.created", "user.updated"]
    await kit.aclose()


async def test_given_up_after_three_days_then_replayed_from_the_log(
    make_kit: KitFactory, receiver: Receiver, clock: FakeClock
) -> None:
    kit = with_webhooks(make_kit, receiver)
    await kit.ensure_started()
    receiver.failing = True
    user = await kit.users.create(email="ada@example.com", password=PASSWORD)
    await settle(kit)
    attempts = 1
    while (await rows(kit))[0].state == "pending":
        clock.advance(6 * 3600)
        await kit.services.webhooks.deliver_due()
        attempts += 1
        assert attempts < 40
    (row,) = await rows(kit)
    assert row.state == "failed" and row.attempts == attempts
    assert row.next_attempt_at - row.created_at <= RETRY_FOR + timedelta(seconds=1)
    (logged,) = await kit.services.webhooks.log()
    assert (logged.state, logged.event_type, logged.about) == ("failed", "user.created", user.id)
    assert '"type":"user.created"' in logged.payload

    receiver.failing = False
    new_seq = await kit.services.webhooks.replay(logged.seq)
    await settle(kit)
    assert new_seq is not None
    replayed = await kit.services.webhooks.get(new_seq)
    assert replayed is not None and replayed.state == "delivered"
    assert replayed.replay_of == logged.seq and replayed.id == logged.id
    assert receiver.events[0][0] == logged.id  # the same webhook-id, sent again
    assert await kit.services.webhooks.replay(10_000) is None
    await kit.aclose()


async def test_a_request_never_waits_for_an_endpoint(
    make_kit: KitFactory, receiver: Receiver
) -> None:
    """The receiver holds its answer: the sign-in is answered meanwhile."""
    kit = with_webhooks(make_kit, receiver)
    await kit.ensure_started()
    await kit.users.create(email="ada@example.com", password=PASSWORD)
    await settle(kit)
    receiver.release.clear()
    async with host_client(kit) as c:
        r = await sign_in(c, "ada@example.com")
        assert r.status_code == 303
        assert receiver.types() == ["user.created"]  # session.created still held
        receiver.release.set()
        await settle(kit)
    assert receiver.types() == ["user.created", "session.created"]
    await kit.aclose()


async def test_an_unknown_address_writes_a_skipped_event_never_sent(
    make_kit: KitFactory, receiver: Receiver
) -> None:
    """forgot-password for an unknown address does the same database work as for a
    known one (no timing tell), and nothing is sent or logged."""
    kit = with_webhooks(make_kit, receiver)
    async with host_client(kit) as c:
        page = await c.get("/auth/forgot-password")
        data = {"csrf_token": csrf_of(page.text), "email": "nobody@example.com"}
        assert (await c.post("/auth/forgot-password", data=data)).status_code == 303
        await settle(kit)
    assert [r.state for r in await rows(kit)] == ["skipped"]
    assert receiver.events == []
    assert await kit.services.webhooks.log() == []
    await kit.aclose()


async def test_an_endpoint_takes_only_its_events(
    make_kit: KitFactory, receiver: Receiver, mailbox: Mailbox
) -> None:
    kit = make_kit(webhooks=[{"url": receiver.url, "secret": SECRET, "events": ["user.created"]}])
    async with host_client(kit) as c:
        await sign_up(c, kit, mailbox, "ada@example.com")
        await settle(kit)
    assert receiver.types() == ["user.created"]
    await kit.aclose()


async def test_without_endpoints_nothing_is_written(make_kit: KitFactory, mailbox: Mailbox) -> None:
    kit = make_kit()
    async with host_client(kit) as c:
        await sign_up(c, kit, mailbox, "ada@example.com")
    assert await rows(kit) == []
    await kit.aclose()


async def test_a_sweep_sends_at_most_its_batch_and_claims_nothing_more(
    make_kit: KitFactory, receiver: Receiver
) -> None:
    """Three due events, a batch of two: two sent, the third left unclaimed for the
    next sweep (not held for two minutes with an attempt counted)."""
    kit = with_webhooks(make_kit, receiver)
    await kit.ensure_started()
    kit.services.webhooks.send_soon = lambda: None  # type: ignore[method-assign]
    for name in ("ada", "bob", "cy"):
        await kit.users.create(email=f"{name}@example.com", password=PASSWORD)
    assert await kit.services.webhooks.deliver_due(limit=2) == 2
    left = [r for r in await rows(kit) if r.state == "pending"]
    assert [(r.attempts, r.claimed_until) for r in left] == [(0, None)]
    assert await kit.services.webhooks.deliver_due(limit=2) == 1
    assert await kit.services.webhooks.deliver_due() == 0
    assert len(receiver.events) == 3
    await kit.aclose()


async def test_organization_events_reach_the_receiver_in_order(
    make_kit: KitFactory, receiver: Receiver, mailbox: Mailbox
) -> None:
    """Clerk's organization, organizationMembership and organizationInvitation events,
    verified by the receiver, in the order the changes were made."""
    kit = with_webhooks(make_kit, receiver, organizations=True)
    await kit.ensure_started()
    ada = await kit.users.create(email="ada@example.com", password=PASSWORD, first_name="Ada")
    bob = await kit.users.create(email="bob@example.com", password=PASSWORD)
    acme = await kit.organizations.create(
        name="Acme", slug="acme", created_by=ada.id, private_metadata={"crm": 7}
    )
    await kit.organizations.add_member(acme.id, bob.id)
    await kit.organizations.set_role(acme.id, bob.id, "org:admin")
    await kit.organizations.update(acme.id, name="Acme Inc")
    invitation = await kit.organizations.invite(acme.id, "carol@example.com")
    await kit.organizations.revoke_invitation(acme.id, invitation.id)
    await kit.organizations.remove_member(acme.id, bob.id)
    await kit.organizations.delete(acme.id)
    await settle(kit)
    organization_events = [t for t in receiver.types() if t.startswith("organization")]
    assert organization_events == [
        "organization.created",
        "organizationMembership.created",
        "organizationMembership.created",
        "organizationMembership.updated",
        "organization.updated",
        "organizationInvitation.created",
        "organizationInvitation.revoked",
        "organizationMembership.deleted",
        "organization.deleted",
    ]
    data = {e["type"]: e["data"] for _, e in receiver.events}
    assert data["organization.created"]["private_metadata"] == {"crm": 7}
    assert data["organization.updated"]["name"] == "Acme Inc"
    updated = data["organizationMembership.updated"]
    assert updated["role"] == "org:admin" and updated["organization"]["id"] == acme.id
    assert updated["public_user_data"]["identifier"] == "bob@example.com"
    assert "org:sys_memberships:manage" in updated["permissions"]
    assert data["organizationInvitation.revoked"]["status"] == "revoked"
    assert data["organizationInvitation.created"]["email_address"] == "carol@example.com"
    assert data["organization.deleted"] == {
        "object": "organization",
        "id": acme.id,
        "slug": "acme",
        "deleted": True,
    }
    await kit.aclose()
