"""
Impersonation: an admin signs in as a user. The token carries Clerk's `act` (the admin's
sub and sid), `auth(request).actor` names the admin, every authkit page and the
UserButton show the banner with "Stop impersonating", the user's activity shows it, the
password, factors and addresses are out of reach, the session ends within an hour, and
stopping gives the admin their own session back. A forged `act` gets nobody in.
SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import col, select

from authkit import AuthKit, ConfigError
from authkit.sessions import IMPERSONATION_LIFETIME
from authkit.store.models import AuditEventRow, SessionRow

from ..conftest import FakeClock, KitFactory
from .flow_helpers import PASSWORD, csrf_of, host_client, sign_in

pytestmark = pytest.mark.anyio

ADMIN = "admin@example.com"
JSON = {"accept": "application/json"}


async def me(c: httpx.AsyncClient) -> dict[str, object]:
    r = await c.get("/api/me", headers=JSON)
    return r.json() if r.status_code == 200 else {"status": r.status_code}


async def set_up(make_kit: KitFactory) -> tuple[AuthKit, str, str, httpx.AsyncClient]:
    kit = make_kit(admins=ADMIN)
    await kit.ensure_started()
    admin = await kit.users.create(email=ADMIN, password=PASSWORD)
    bob = await kit.users.create(email="bob@example.com", password=PASSWORD, first_name="Bob")
    c = host_client(kit)
    assert (await sign_in(c, ADMIN)).status_code == 303
    return kit, admin.id, bob.id, c


async def impersonate(c: httpx.AsyncClient, user_id: str) -> httpx.Response:
    page = await c.get(f"/auth/admin/users/{user_id}")
    assert page.status_code == 200, page.text
    return await c.post(
        f"/auth/admin/users/{user_id}/impersonate", data={"csrf_token": csrf_of(page.text)}
    )


async def test_the_admin_is_signed_in_as_the_user_with_act(make_kit: KitFactory) -> None:
    kit, admin_id, bob_id, c = await set_up(make_kit)
    admin_session = (await me(c))["claims"]["sid"]  # type: ignore[index]
    r = await impersonate(c, bob_id)
    assert r.status_code == 303 and r.headers["location"] == "/"
    now = await me(c)
    assert now["user_id"] == bob_id
    assert now["claims"]["act"] == {"sub": admin_id, "sid": admin_session}  # type: ignore[index]
    # Every authkit page shows the banner with the way back, and so does the UserButton.
    profile = await c.get("/auth/user")
    assert profile.status_code == 200
    assert "You are signed in as another user, as an admin." in profile.text
    assert 'action="/auth/impersonation/stop"' in profile.text
    header = await c.get("/header")
    assert "You are signed in as bob@example.com, as an admin." in header.text
    # Without impersonation, no banner.
    async with host_client(kit) as bob:
        await sign_in(bob, "bob@example.com")
        assert "Stop impersonating" not in (await bob.get("/auth/user")).text
        assert (await me(bob)).get("claims", {}).get("act") is None  # type: ignore[union-attr]
    await c.aclose()
    await kit.aclose()


async def test_the_password_factors_and_addresses_are_out_of_reach(
    make_kit: KitFactory,
) -> None:
    kit, _, bob_id, c = await set_up(make_kit)
    await impersonate(c, bob_id)
    token = csrf_of((await c.get("/auth/user")).text)
    for path in (
        "/auth/user/security/password",
        "/auth/user/security/totp",
        "/auth/user/security/passkeys/add",
        "/auth/user/security/delete",
        "/auth/user/security/sessions/revoke-others",
        "/auth/user/emails/add",
        "/auth/reverify",
        "/auth/passkeys/register/options",
    ):
        for method in ("GET", "POST"):
            r = await c.request(method, path, data={"csrf_token": token})
            assert r.status_code == 403, (method, path, r.status_code)
            assert "only they can change their password" in r.text
    # Looking is fine, with no control that would answer 403.
    security = await c.get("/auth/user/security")
    profile = await c.get("/auth/user")
    for page in (security, profile):
        assert page.status_code == 200
        assert "you can look but not change their password" in page.text
    assert "/user/security/password" not in security.text
    assert "/user/emails/add" not in profile.text
    assert (await c.get("/auth/user/security/activity")).status_code == 200
    await c.aclose()
    await kit.aclose()


async def test_it_ends_within_an_hour(make_kit: KitFactory, clock: FakeClock) -> None:
    kit, _, bob_id, c = await set_up(make_kit)
    await impersonate(c, bob_id)
    async with kit.services.db.session() as s:
        row = (
            await s.exec(select(SessionRow).where(col(SessionRow.actor_user_id).is_not(None)))
        ).one()
    assert row.expires_at - row.created_at <= IMPERSONATION_LIFETIME
    clock.advance(30 * 60)
    assert (await me(c))["user_id"] == bob_id  # refreshed, within the hour
    clock.advance(31 * 60)
    assert (await me(c)) == {"status": 401}
    await c.aclose()
    await kit.aclose()


async def test_stopping_gives_the_admin_their_session_back_and_the_user_sees_it(
    make_kit: KitFactory,
) -> None:
    kit, admin_id, bob_id, c = await set_up(make_kit)
    await impersonate(c, bob_id)
    page = await c.get("/auth/user")
    r = await c.post("/auth/impersonation/stop", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == f"/auth/admin/users/{bob_id}"
    back = await me(c)
    assert back["user_id"] == admin_id and "act" not in back["claims"]  # type: ignore[operator]
    async with kit.services.db.session() as s:
        row = (
            await s.exec(select(SessionRow).where(col(SessionRow.actor_user_id) == admin_id))
        ).one()
        events = (
            await s.exec(
                select(AuditEventRow.event, AuditEventRow.detail).where(
                    col(AuditEventRow.user_id) == bob_id,
                    col(AuditEventRow.event).startswith("impersonation."),
                )
            )
        ).all()
    assert row.revoked_at is not None
    assert sorted((e, d["actor"]) for e, d in events) == [
        ("impersonation.ended", admin_id),
        ("impersonation.started", admin_id),
    ]
    async with host_client(kit) as bob:
        await sign_in(bob, "bob@example.com")
        activity = await bob.get("/auth/user/security/activity")
    assert "An admin of the site signed in as you" in activity.text
    assert "The admin signed out of your account" in activity.text
    await c.aclose()
    await kit.aclose()


async def test_not_yourself_not_a_banned_user_and_not_for_members(make_kit: KitFactory) -> None:
    kit, admin_id, bob_id, c = await set_up(make_kit)
    page = await c.get(f"/auth/admin/users/{admin_id}")
    r = await c.post(
        f"/auth/admin/users/{admin_id}/impersonate", data={"csrf_token": csrf_of(page.text)}
    )
    assert r.status_code == 422 and "You are signed in as yourself already." in r.text
    await kit.users.ban(bob_id)
    r = await impersonate(c, bob_id)
    assert r.status_code == 422 and "they are banned or gone" in r.text
    carol = await kit.users.create(email="carol@example.com", password=PASSWORD)
    async with host_client(kit) as member:
        await sign_in(member, "carol@example.com")
        token = csrf_of((await member.get("/auth/user")).text)
        r = await member.post(
            f"/auth/admin/users/{carol.id}/impersonate", data={"csrf_token": token}
        )
        assert r.status_code == 404
    await c.aclose()
    await kit.aclose()


async def test_a_forged_act_gets_nobody_in_and_no_setting_can_add_one(
    make_kit: KitFactory, clock: FakeClock
) -> None:
    kit, admin_id, bob_id, c = await set_up(make_kit)
    now = int(clock.now.timestamp())
    forged = jwt.encode(
        {
            "iss": kit.issuer,
            "sub": bob_id,
            "sid": "sess_forged",
            "iat": now,
            "nbf": now,
            "exp": now + 60,
            "act": {"sub": admin_id, "sid": "sess_x"},
        },
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": kit.services.keyring._signing.kid},  # type: ignore[union-attr]
    )
    async with host_client(kit) as stranger:
        stranger.cookies.set(kit.cookie_names.session, forged)
        assert (await me(stranger)) == {"status": 401}
    with pytest.raises(ConfigError, match="act"):
        make_kit(session_claims={"act": "{{user.id}}"})
    await c.aclose()
    await kit.aclose()


def test_the_lifetime_is_an_hour() -> None:
    assert timedelta(hours=1) == IMPERSONATION_LIFETIME


async def test_signing_out_while_impersonating_forgets_the_admins_kept_token(
    make_kit: KitFactory,
) -> None:
    """Sign out from the user's page: nobody stays signed in, and the admin's refresh
    token kept aside is gone from the browser too."""
    kit, _, bob_id, c = await set_up(make_kit)
    await impersonate(c, bob_id)
    kept = kit.cookie_names.of("__ak_actor")
    assert kept in c.cookies
    page = await c.get("/auth/user")
    r = await c.post("/auth/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    assert kept not in c.cookies
    assert (await me(c)) == {"status": 401}
    await c.aclose()
    await kit.aclose()
