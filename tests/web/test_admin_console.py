"""
The admin console (`/auth/admin`): a 404 to everyone but admins (signed out, signed in,
whatever the method); admins by AUTHKIT_ADMINS (address or id) or public_metadata.role;
the users list's search, filters and keyset pages; each action after a recent "Confirm
it's you", CSRF-checked, audited with the admin as actor; the webhook log's replay.
SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from authkit import AuthKit
from authkit.ids import new_id
from authkit.store.models import AuditEventRow, EmailAddressRow, SessionRow, WebhookMessageRow

from ..conftest import FakeClock, KitFactory, Mailbox, free_port
from .flow_helpers import PASSWORD, csrf_of, host_client, sign_in
from .pipeline_helpers import field_error, set_up_totp

pytestmark = pytest.mark.anyio

ADMIN = "admin@example.com"


async def admin_kit(make_kit: KitFactory, **overrides: Any) -> tuple[AuthKit, str]:
    kit = make_kit(admins=ADMIN, **overrides)
    await kit.ensure_started()
    admin = await kit.users.create(email=ADMIN, password=PASSWORD, first_name="Ada")
    return kit, admin.id


async def signed_in(kit: AuthKit, email: str) -> httpx.AsyncClient:
    c = host_client(kit)
    r = await sign_in(c, email)
    assert r.status_code == 303, r.text
    return c


async def post_action(
    c: httpx.AsyncClient, user_id: str, action: str, **data: str
) -> httpx.Response:
    page = await c.get(f"/auth/admin/users/{user_id}")
    assert page.status_code == 200, page.text
    return await c.post(
        f"/auth/admin/users/{user_id}/{action}", data={"csrf_token": csrf_of(page.text), **data}
    )


async def audit(kit: AuthKit, user_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with kit.services.db.session() as s:
        rows = await s.exec(
            select(AuditEventRow)
            .where(col(AuditEventRow.user_id) == user_id)
            .order_by(col(AuditEventRow.at), col(AuditEventRow.id))
        )
        return [(r.event, dict(r.detail)) for r in rows.all()]


async def test_everyone_but_an_admin_gets_the_404_of_an_unknown_page(
    make_kit: KitFactory,
) -> None:
    kit, _ = await admin_kit(make_kit)
    bob = await kit.users.create(email="bob@example.com", password=PASSWORD)
    anonymous = host_client(kit)
    member = await signed_in(kit, "bob@example.com")
    unknown = await anonymous.get("/auth/no-such-page")
    assert unknown.status_code == 404
    paths = [
        "/auth/admin",
        f"/auth/admin/users/{bob.id}",
        f"/auth/admin/users/{bob.id}/ban",
        "/auth/admin/webhooks",
        "/auth/admin/webhooks/1/replay",
    ]
    for c in (anonymous, member):
        for path in paths:
            for method in ("GET", "POST", "PUT", "DELETE"):
                r = await c.request(method, path)
                assert r.status_code == 404, (method, path, r.status_code)
                assert r.text == unknown.text
    # Nothing happened to Bob.
    assert not (await kit.users.get(bob.id)).is_banned  # type: ignore[union-attr]
    for c in (anonymous, member):
        await c.aclose()
    await kit.aclose()


async def test_who_is_an_admin(make_kit: KitFactory) -> None:
    """AUTHKIT_ADMINS by address (any case) or by id, or public_metadata.role == admin."""
    kit = make_kit(admins=" ADMIN@example.com , user_listedbyid ")
    await kit.ensure_started()
    await kit.users.create(email=ADMIN, password=PASSWORD)
    carol = await kit.users.create(email="carol@example.com", password=PASSWORD)
    await kit.users.update_metadata(carol.id, public_metadata={"role": "admin"})
    dave = await kit.users.create(email="dave@example.com", password=PASSWORD)
    await kit.users.update_metadata(dave.id, public_metadata={"role": "Admin"})
    for email, expected in [(ADMIN, 200), ("carol@example.com", 200), ("dave@example.com", 404)]:
        c = await signed_in(kit, email)
        assert (await c.get("/auth/admin")).status_code == expected, email
        await c.aclose()
    await kit.aclose()


async def test_an_organizations_admin_is_no_admin_of_the_site(make_kit: KitFactory) -> None:
    """An admin of nothing but an organization, with it active in the session (the token's
    `o.rol` is admin), gets the console's 404 like any member."""
    kit, _ = await admin_kit(make_kit, organizations=True)
    org_admin = await kit.users.create(email="owner@example.com", password=PASSWORD)
    bob = await kit.users.create(email="bob@example.com", password=PASSWORD)
    team = await kit.organizations.create(name="Team", created_by=org_admin.id)
    c = await signed_in(kit, "owner@example.com")
    listing = await c.get("/auth/organizations")
    switched = await c.post(
        "/auth/organizations",
        data={"csrf_token": csrf_of(listing.text), "organization_id": team.id},
    )
    assert switched.status_code == 303
    me = (await c.get("/api/me", headers={"accept": "application/json"})).json()
    assert me["claims"]["o"]["rol"] == "admin"
    token = csrf_of(listing.text)
    for method, path in [
        ("GET", "/auth/admin"),
        ("GET", f"/auth/admin/users/{bob.id}"),
        ("POST", f"/auth/admin/users/{bob.id}/ban"),
        ("POST", f"/auth/admin/users/{bob.id}/impersonate"),
    ]:
        r = await c.request(method, path, data={"csrf_token": token} if method == "POST" else None)
        assert r.status_code == 404, (method, path)
    assert not (await kit.users.get(bob.id)).is_banned  # type: ignore[union-attr]
    await c.aclose()
    await kit.aclose()


async def test_search_filters_sorting_and_keyset_pages(
    make_kit: KitFactory, clock: FakeClock
) -> None:
    kit, _ = await admin_kit(make_kit)
    made = []
    for n in range(30):
        clock.advance(1)
        made.append(
            await kit.users.create(
                email=f"person{n:02d}@example.com", password=PASSWORD, first_name=f"Name{n:02d}"
            )
        )
    await kit.users.ban(made[7].id)
    c = await signed_in(kit, ADMIN)

    def listed(page: str) -> list[str]:
        return re.findall(r'href="/auth/admin/users/(user_[0-9a-z]+)"', page)

    first = await c.get("/auth/admin")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    assert len(listed(first.text)) == 25
    next_url = unescape(re.search(r'href="([^"]+)" rel="next"', first.text).group(1))  # type: ignore[union-attr]
    second = await c.get(next_url)
    assert len(listed(second.text)) == 6
    assert 'rel="next"' not in second.text
    assert set(listed(first.text)).isdisjoint(listed(second.text))
    # Newest first: the last one made leads; oldest first, the admin does.
    assert listed(first.text)[0] == made[-1].id
    oldest = await c.get("/auth/admin", params={"sort": "oldest"})
    assert listed(oldest.text)[1] == made[0].id

    by_address = await c.get("/auth/admin", params={"q": "PERSON1"})
    assert set(listed(by_address.text)) == {u.id for u in made[10:20]}
    by_start = await c.get("/auth/admin", params={"q": "PERSON12@EX"})
    assert listed(by_start.text) == [made[12].id]
    assert "No users match." in (await c.get("/auth/admin", params={"q": "son12@"})).text
    by_name = await c.get("/auth/admin", params={"q": "name29"})
    assert listed(by_name.text) == [made[29].id]
    by_id = await c.get("/auth/admin", params={"q": made[3].id})
    assert listed(by_id.text) == [made[3].id]
    banned = await c.get("/auth/admin", params={"filter": "banned"})
    assert listed(banned.text) == [made[7].id]
    assert "No users match." in (await c.get("/auth/admin", params={"q": "%"})).text
    # A cursor that does not parse is the first page.
    assert listed((await c.get("/auth/admin", params={"after": "garbage"})).text) == listed(
        first.text
    )
    await c.aclose()
    await kit.aclose()


async def test_ban_unban_and_sign_out_everywhere_are_audited_with_the_admin(
    make_kit: KitFactory, clock: FakeClock
) -> None:
    kit, admin_id = await admin_kit(make_kit)
    bob = await kit.users.create(email="bob@example.com", password=PASSWORD)
    bobs_browser = await signed_in(kit, "bob@example.com")
    c = await signed_in(kit, ADMIN)

    r = await post_action(c, bob.id, "ban")
    assert r.status_code == 303 and r.headers["location"].endswith("?done=banned")
    page = await c.get(r.headers["location"])
    assert "The user is banned and signed out everywhere." in page.text
    assert "The account was suspended by an admin" in page.text
    clock.advance(kit.settings.session_token_lifetime + 1)
    assert (
        await bobs_browser.get("/api/me", headers={"accept": "application/json"})
    ).status_code == 401
    r = await post_action(c, bob.id, "unban")
    assert r.headers["location"].endswith("?done=unbanned")
    bobs_browser = await signed_in(kit, "bob@example.com")
    r = await post_action(c, bob.id, "revoke-sessions")
    assert r.headers["location"].endswith("?done=sessions_revoked")
    async with kit.services.db.session() as s:
        live = (
            await s.exec(
                select(SessionRow).where(
                    col(SessionRow.user_id) == bob.id, col(SessionRow.revoked_at).is_(None)
                )
            )
        ).all()
    assert live == []
    events = await audit(kit, bob.id)
    by_admin = {(e, d["actor"]) for e, d in events if "actor" in d}
    assert by_admin == {
        ("user.banned", admin_id),
        ("user.unbanned", admin_id),
        ("sessions.revoked", admin_id),
    }
    await bobs_browser.aclose()
    await c.aclose()
    await kit.aclose()


async def test_reset_two_step_and_mark_an_address_verified(
    make_kit: KitFactory, clock: FakeClock
) -> None:
    kit, admin_id = await admin_kit(make_kit)
    bob = await kit.users.create(email="bob@example.com", password=PASSWORD)
    bobs_browser = await signed_in(kit, "bob@example.com")
    await set_up_totp(bobs_browser, clock)
    c = await signed_in(kit, ADMIN)
    page = await c.get(f"/auth/admin/users/{bob.id}")
    assert "Recovery codes left: 10" in page.text
    r = await post_action(c, bob.id, "reset-mfa")
    assert r.headers["location"].endswith("?done=mfa_reset")
    assert "Reset two-step" not in (await c.get(r.headers["location"])).text
    r = await post_action(c, bob.id, "reset-mfa")
    assert r.headers["location"].endswith("?done=nothing")

    address_id = new_id("email")
    async with kit.services.db.session() as s:
        s.add(
            EmailAddressRow(
                id=address_id,
                user_id=bob.id,
                email="bob.work@example.com",
                normalized="bob.work@example.com",
                is_primary=False,
                created_at=clock.now,
            )
        )
    unverified = await c.get("/auth/admin", params={"filter": "unverified"})
    assert bob.id in unverified.text
    # Another user's address id changes nothing.
    r = await post_action(c, admin_id, "verify-address", address_id=address_id)
    assert r.headers["location"].endswith("?done=nothing")
    r = await post_action(c, bob.id, "verify-address", address_id=address_id)
    assert r.headers["location"].endswith("?done=address_verified")
    async with kit.services.db.session() as s:
        row = await s.get(EmailAddressRow, address_id)
    assert row is not None and row.verified_at is not None
    events = [(e, d.get("actor")) for e, d in await audit(kit, bob.id)]
    assert ("mfa.disabled", admin_id) in events and ("email.verified", admin_id) in events
    await bobs_browser.aclose()
    await c.aclose()
    await kit.aclose()


async def test_metadata_editors_check_before_saving_and_keep_what_was_typed(
    make_kit: KitFactory,
) -> None:
    kit, admin_id = await admin_kit(make_kit)
    bob = await kit.users.create(email="bob@example.com", password=PASSWORD)
    c = await signed_in(kit, ADMIN)
    typed = {
        "public_metadata": '{"plan": "pro"}',
        "private_metadata": '{"stripe": ',
        "unsafe_metadata": "[1, 2]",
    }
    r = await post_action(c, bob.id, "metadata", **typed)
    assert r.status_code == 422, r.text
    assert field_error(r.text, "private_metadata") is not None
    assert (
        "{&#34;stripe&#34;: </textarea>" in r.text or "{&quot;stripe&quot;: </textarea>" in r.text
    )
    assert (await kit.users.get(bob.id)).public_metadata == {}  # type: ignore[union-attr]
    typed["private_metadata"] = '{"stripe": "cus_1"}'
    r = await post_action(c, bob.id, "metadata", **typed)
    assert r.status_code == 422
    assert field_error(r.text, "unsafe_metadata") == "Metadata must be a JSON object."
    typed["unsafe_metadata"] = ""
    r = await post_action(c, bob.id, "metadata", **typed)
    assert r.headers["location"].endswith("?done=metadata_saved")
    user = await kit.users.get(bob.id)
    assert user is not None
    assert (user.public_metadata, user.private_metadata, user.unsafe_metadata) == (
        {"plan": "pro"},
        {"stripe": "cus_1"},
        {},
    )
    page = await c.get(f"/auth/admin/users/{bob.id}")
    assert json.dumps({"plan": "pro"}, indent=2).replace('"', "&#34;") in page.text
    assert ("metadata.updated", admin_id) in [
        (e, d.get("actor")) for e, d in await audit(kit, bob.id)
    ]
    await c.aclose()
    await kit.aclose()


async def test_delete_a_user_and_never_yourself(make_kit: KitFactory) -> None:
    kit, admin_id = await admin_kit(make_kit)
    bob = await kit.users.create(email="bob@example.com", password=PASSWORD)
    c = await signed_in(kit, ADMIN)
    for action in ("ban", "delete"):
        r = await post_action(c, admin_id, action)
        assert r.status_code == 422
        assert "You cannot do that to your own account here." in r.text
    r = await post_action(c, bob.id, "delete")
    assert r.status_code == 303 and r.headers["location"] == "/auth/admin?deleted=1"
    assert (
        "The user and everything of theirs is deleted." in (await c.get(r.headers["location"])).text
    )
    assert await kit.users.get(bob.id) is None
    assert (await c.get(f"/auth/admin/users/{bob.id}")).status_code == 404
    deleted = [d for e, d in await audit(kit, bob.id) if e == "user.deleted"]
    assert deleted and deleted[0]["actor"] == admin_id
    await c.aclose()
    await kit.aclose()


async def test_actions_need_csrf_a_recent_confirmation_and_a_real_target(
    make_kit: KitFactory, clock: FakeClock
) -> None:
    kit, _ = await admin_kit(make_kit)
    bob = await kit.users.create(email="bob@example.com", password=PASSWORD)
    c = await signed_in(kit, ADMIN)
    r = await c.post(f"/auth/admin/users/{bob.id}/ban", data={"csrf_token": "forged"})
    assert r.status_code == 403
    assert (await c.get(f"/auth/admin/users/{bob.id}/ban")).status_code == 405
    assert (await post_action(c, bob.id, "promote")).status_code == 404
    token = csrf_of((await c.get(f"/auth/admin/users/{bob.id}")).text)
    r = await c.post("/auth/admin/users/user_nobody/ban", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=nothing")
    assert (await c.get(r.headers["location"])).status_code == 404
    clock.advance(kit.settings.reverification_window + 60)
    r = await post_action(c, bob.id, "ban")
    assert r.status_code == 303
    assert r.headers["location"].startswith(
        "/auth/reverify?redirect_url=%2Fauth%2Fadmin%2Fusers%2F"
    )
    assert not (await kit.users.get(bob.id)).is_banned  # type: ignore[union-attr]
    await c.aclose()
    await kit.aclose()


async def test_the_webhook_log_and_its_replay(make_kit: KitFactory) -> None:
    url = f"http://127.0.0.1:{free_port()}/webhooks"  # nothing listens: every try fails
    secret = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
    kit, _ = await admin_kit(make_kit, webhooks=[{"url": url, "secret": secret}])
    await kit.services.mailer.drain()
    c = await signed_in(kit, ADMIN)
    page = await c.get("/auth/admin/webhooks")
    assert page.status_code == 200
    assert "user.created" in page.text and url in page.text
    seq = re.search(r'action="/auth/admin/webhooks/(\d+)/replay"', page.text).group(1)  # type: ignore[union-attr]
    r = await c.post(f"/auth/admin/webhooks/{seq}/replay", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=replayed")
    async with kit.services.db.session() as s:
        replays = (
            await s.exec(
                select(WebhookMessageRow).where(col(WebhookMessageRow.replay_of) == int(seq))
            )
        ).all()
    assert len(replays) == 1
    assert (
        await c.post("/auth/admin/webhooks/999999/replay", data={"csrf_token": csrf_of(page.text)})
    ).status_code == 404
    await c.aclose()
    await kit.aclose()


async def test_create_a_user_and_mistakes_come_back_beside_their_fields(
    make_kit: KitFactory,
) -> None:
    kit, admin_id = await admin_kit(make_kit)
    c = await signed_in(kit, ADMIN)
    page = await c.get("/auth/admin/users/new")
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_of(page.text),
        "email": "not an address",
        "first_name": "Grace",
        "last_name": "Hopper",
        "password": "a perfectly fine passphrase",
    }
    r = await c.post("/auth/admin/users/new", data=data)
    assert r.status_code == 422
    assert field_error(r.text, "email") is not None
    assert 'value="Grace"' in r.text and "a perfectly fine passphrase" not in r.text
    r = await c.post("/auth/admin/users/new", data={**data, "email": ADMIN})
    assert r.status_code == 422 and field_error(r.text, "email") is not None
    r = await c.post("/auth/admin/users/new", data={**data, "email": "grace@example.com"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=created")
    grace = await kit.users.get_by_email("grace@example.com")
    assert grace is not None and grace.email_verified and grace.first_name == "Grace"
    assert ("user.created", admin_id) in [
        (e, d.get("actor")) for e, d in await audit(kit, grace.id)
    ]
    async with host_client(kit) as newcomer:
        r = await sign_in(newcomer, "grace@example.com", "a perfectly fine passphrase")
        assert r.status_code == 303
    await c.aclose()
    await kit.aclose()


async def test_send_a_password_reset(make_kit: KitFactory, mailbox: Mailbox) -> None:
    kit, admin_id = await admin_kit(make_kit)
    bob = await kit.users.create(email="bob@example.com", password=PASSWORD)
    c = await signed_in(kit, ADMIN)
    r = await post_action(c, bob.id, "send-reset")
    assert r.headers["location"].endswith("?done=reset_sent")
    await kit.services.mailer.drain()
    assert "/reset-password?link=1#token=" in mailbox.text_of(mailbox.to("bob@example.com")[-1])
    started = [d for e, d in await audit(kit, bob.id) if e == "password_reset.started"]
    assert started and started[0]["actor"] == admin_id
    await kit.users.ban(bob.id)
    r = await post_action(c, bob.id, "send-reset")
    assert r.headers["location"].endswith("?done=nothing")
    await c.aclose()
    await kit.aclose()


async def test_forget_failed_sign_ins_lets_a_locked_out_user_in(make_kit: KitFactory) -> None:
    """Someone guessed at Bob's password until the per-account throttle shut him out;
    the admin's "Forget failed sign-ins" lets him sign in at once."""
    kit, admin_id = await admin_kit(make_kit)
    bob = await kit.users.create(email="bob@example.com", password=PASSWORD)
    async with host_client(kit) as guesser:
        for n in range(5):
            r = await sign_in(guesser, "bob@example.com", f"wrong guess {n}")
            assert r.status_code == 422, r.status_code
    async with host_client(kit) as real_bob:
        assert (await sign_in(real_bob, "bob@example.com")).status_code == 429
        c = await signed_in(kit, ADMIN)
        r = await post_action(c, bob.id, "forget-failures")
        assert r.headers["location"].endswith("?done=failures_forgotten")
        page = await c.get(r.headers["location"])
        assert "An admin let sign-in attempts start afresh" in page.text
        assert (await sign_in(real_bob, "bob@example.com")).status_code == 303
    events = [(e, d.get("actor")) for e, d in await audit(kit, bob.id)]
    assert ("sign_in.throttle_cleared", admin_id) in events
    await c.aclose()
    await kit.aclose()


async def test_lock_then_unlock(make_kit: KitFactory, clock: FakeClock) -> None:
    """A lock is a ban meant to be lifted: signed out everywhere, no sign-in, "Locked"
    rather than "Banned"; "Unlock" lifts it (never a ban)."""
    kit, admin_id = await admin_kit(make_kit)
    bob = await kit.users.create(email="bob@example.com", password=PASSWORD)
    carol = await kit.users.create(email="carol@example.com", password=PASSWORD)
    bobs_browser = await signed_in(kit, "bob@example.com")
    c = await signed_in(kit, ADMIN)
    r = await post_action(c, bob.id, "lock")
    assert r.headers["location"].endswith("?done=locked")
    page = await c.get(r.headers["location"])
    assert "Locked" in page.text and ">Unlock<" in page.text
    clock.advance(kit.settings.session_token_lifetime + 1)
    assert (
        await bobs_browser.get("/api/me", headers={"accept": "application/json"})
    ).status_code == 401
    async with host_client(kit) as again:
        assert (await sign_in(again, "bob@example.com")).status_code != 303
    listing = await c.get("/auth/admin", params={"filter": "banned"})
    assert bob.id in listing.text and "Locked" in listing.text
    # Unlock lifts a lock, never a ban.
    await post_action(c, carol.id, "ban")
    r = await post_action(c, carol.id, "unlock")
    assert r.headers["location"].endswith("?done=nothing")
    r = await post_action(c, bob.id, "unlock")
    assert r.headers["location"].endswith("?done=unlocked")
    async with host_client(kit) as again:
        assert (await sign_in(again, "bob@example.com")).status_code == 303
    events = [(e, d.get("actor")) for e, d in await audit(kit, bob.id)]
    assert ("user.locked", admin_id) in events and ("user.unlocked", admin_id) in events
    await bobs_browser.aclose()
    await c.aclose()
    await kit.aclose()
