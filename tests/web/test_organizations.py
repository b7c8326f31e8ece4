"""
Organizations through the host's Python API and the session token: creating one (its
creator its admin, slugs made and checked), members and roles (the last admin kept, even
when two admins demote each other at once), invitations (mailed, accepted once, only by
the invited address, revoked, expired, sent again), verified domains (invite or join on
sign-up), limits, the active organization in the token as Clerk's `o` claim (updated
within one token lifetime when the role changes or the member is removed), `auth()`'s
organization fields and `requires_org`. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import jwt
import pytest
from sqlmodel import col, select

from authkit import AuthKit, ConfigError
from authkit.errors import FieldError, FlowError, RateLimited
from authkit.flows import organizations as org_flows
from authkit.flows.org_invitations import (
    InvitationGone,
    accept_invitation,
    resend_invitation,
    revoke_invitation,
)
from authkit.flows.organizations import NotPermitted, OrganizationNotFound
from authkit.jwt_templates.session_claims import plan_session_claims
from authkit.organizations import load_roles
from authkit.request_auth import Auth
from authkit.sessions import RequestMeta
from authkit.store.models import AuditEventRow, MembershipRow, OrgInvitationRow

from ..conftest import CLOSE_PATH, FakeClock, KitFactory, Mailbox, closable, free_port, serve
from ..hostapp import make_host_app
from .flow_helpers import PASSWORD, csrf_of, host_client, sign_in, sign_up
from .jose_helpers import jose_verify

pytestmark = pytest.mark.anyio

META = RequestMeta(ip_address="203.0.113.9", user_agent="test")
JSON = {"accept": "application/json"}
ROLES = {
    "org:billing": {"name": "Billing", "permissions": ["org:invoices:read", "org:invoices:manage"]},
    "org:member": {"permissions": ["org:invoices:read"]},
}


async def me(c: httpx.AsyncClient) -> dict[str, Any]:
    r = await c.get("/api/me", headers=JSON)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def started(make_kit: KitFactory, **settings: Any) -> AuthKit:
    kit = make_kit(organizations=True, organization_roles=ROLES, **settings)
    await kit.ensure_started()
    return kit


async def user(kit: AuthKit, email: str, **names: str) -> str:
    return (await kit.users.create(email=email, password=PASSWORD, **names)).id


async def switch(kit: AuthKit, c: httpx.AsyncClient, organization_id: str | None) -> None:
    """Make `organization_id` the client's session's active organization, as the
    organizations page's switch does, and file the new session token."""
    claims = (await me(c))["claims"]
    token = await org_flows.set_active(
        kit.services,
        user_id=claims["sub"],
        session_id=claims["sid"],
        organization_id=organization_id,
        meta=META,
    )
    assert token is not None
    c.cookies.set(kit.settings.cookie_names.session, token, domain="testserver.local")


# -- creating and the profile ---------------------------------------------------------------


async def test_the_creator_is_admin_and_slugs_are_made_from_names(make_kit: KitFactory) -> None:
    kit = await started(make_kit)
    ada = await user(kit, "ada@acme.com")
    acme = await kit.organizations.create(name="Acme Café", created_by=ada)
    assert acme.slug == "acme-cafe" and acme.name == "Acme Café"
    again = await kit.organizations.create(name="Acme  Café", created_by=ada)
    assert again.slug == "acme-cafe-2" and again.name == "Acme Café"
    (first, second) = await kit.organizations.memberships(ada)
    assert {first.organization.id, second.organization.id} == {acme.id, again.id}
    assert first.role == "org:admin" and first.role_name == "Admin"
    assert "org:sys_memberships:manage" in first.permissions
    # The admin role has every permission there is, custom ones included.
    assert {"org:invoices:read", "org:invoices:manage"} <= first.permissions
    # A reserved word or a name of symbols still gets a usable slug.
    assert (await kit.organizations.create(name="New")).slug == "new-org"
    assert (await kit.organizations.create(name="!!!")).slug == "organization"
    await kit.aclose()


@pytest.mark.parametrize(
    ("name", "slug", "field", "code"),
    [
        ("", None, "name", "required"),
        ("x" * 101, None, "name", "too_long"),
        ("Bad\u202ename", None, "name", "name_invalid"),
        ("Acme", "Has Space", "slug", "org_slug_invalid"),
        ("Acme", "-edge", "slug", "org_slug_invalid"),
        ("Acme", "two--hyphens", "slug", "org_slug_invalid"),
        ("Acme", "invitations", "slug", "org_slug_taken"),
        ("Acme", "x" * 65, "slug", "too_long"),
    ],
)
async def test_bad_names_and_slugs_are_refused_on_their_field(
    make_kit: KitFactory, name: str, slug: str | None, field: str, code: str
) -> None:
    kit = await started(make_kit)
    with pytest.raises(FieldError) as caught:
        await kit.organizations.create(name=name, slug=slug)
    assert (caught.value.field, caught.value.code) == (field, code)
    await kit.aclose()


async def test_a_taken_slug_is_refused_and_renaming_keeps_the_rules(make_kit: KitFactory) -> None:
    kit = await started(make_kit)
    ada = await user(kit, "ada@acme.com")
    acme = await kit.organizations.create(name="Acme", slug="acme", created_by=ada)
    other = await kit.organizations.create(name="Other", created_by=ada)
    with pytest.raises(FieldError) as caught:
        await kit.organizations.create(name="Acme 2", slug="acme")
    assert caught.value.field == "slug" and caught.value.code == "org_slug_taken"
    with pytest.raises(FieldError):
        await kit.organizations.update(other.id, slug="acme")
    renamed = await org_flows.update_organization(
        kit.services,
        organization_id=acme.id,
        actor_id=ada,
        name="Acme Inc",
        slug="acme-inc",
        meta=META,
    )
    assert (renamed.name, renamed.slug) == ("Acme Inc", "acme-inc")
    assert (await kit.organizations.get_by_slug("acme-inc")) == renamed
    assert await kit.organizations.get_by_slug("acme") is None
    await kit.aclose()


async def test_organizations_per_user_is_a_limit(make_kit: KitFactory) -> None:
    kit = await started(make_kit, organizations_per_user=2)
    ada = await user(kit, "ada@acme.com")
    await kit.organizations.create(name="One", created_by=ada)
    two = await kit.organizations.create(name="Two", created_by=ada)
    with pytest.raises(FieldError) as caught:
        await kit.organizations.create(name="Three", created_by=ada)
    assert caught.value.code == "org_limit_reached"
    three = await kit.organizations.create(name="Three")
    with pytest.raises(FieldError):
        await kit.organizations.add_member(three.id, ada)
    # Leaving one makes room again.
    await kit.organizations.add_member(two.id, await user(kit, "bob@acme.com"), role="org:admin")
    await org_flows.leave(kit.services, organization_id=two.id, user_id=ada, meta=META)
    await kit.organizations.add_member(three.id, ada)
    await kit.aclose()


# -- members and roles ----------------------------------------------------------------------


async def test_roles_change_members_leave_and_the_last_admin_stays(
    make_kit: KitFactory, mailbox: Mailbox
) -> None:
    kit = await started(make_kit)
    ada, bob = await user(kit, "ada@acme.com", first_name="Ada"), await user(kit, "bob@acme.com")
    acme = await kit.organizations.create(name="Acme", created_by=ada)
    await kit.organizations.add_member(acme.id, bob)
    with pytest.raises(FieldError) as caught:
        await kit.organizations.add_member(acme.id, bob)
    assert caught.value.code == "org_already_member"
    with pytest.raises(FieldError) as caught:
        await kit.organizations.set_role(acme.id, bob, "org:nope")
    assert caught.value.code == "org_role_unknown"
    # The last admin can neither be demoted, nor removed, nor leave.
    for attempt in (
        kit.organizations.set_role(acme.id, ada, "org:member"),
        kit.organizations.remove_member(acme.id, ada),
        org_flows.leave(kit.services, organization_id=acme.id, user_id=ada, meta=META),
    ):
        with pytest.raises(FieldError) as caught:
            await attempt
        assert caught.value.code == "org_last_admin"
    # With a second admin, the first may go.
    assert await kit.organizations.set_role(acme.id, bob, "org:admin")
    await org_flows.leave(kit.services, organization_id=acme.id, user_id=ada, meta=META)
    members = await kit.organizations.members(acme.id)
    assert [(m.email, m.role) for m in members] == [("bob@acme.com", "org:admin")]
    assert await kit.organizations.remove_member(acme.id, ada) is False
    await kit.services.mailer.drain()
    assert [m["subject"] for m in mailbox.to("bob@acme.com")] == [
        "Your role in Acme on authkit is now Admin"
    ]
    await kit.aclose()


async def test_permissions_decide_who_may_do_what(make_kit: KitFactory) -> None:
    """member vs admin vs outsider vs another organization's admin."""
    kit = await started(make_kit)
    ada, bob, eve = [await user(kit, f"{n}@acme.com") for n in ("ada", "bob", "eve")]
    acme = await kit.organizations.create(name="Acme", created_by=ada)
    evil = await kit.organizations.create(name="Evil", created_by=eve)
    await kit.organizations.add_member(acme.id, bob)
    svc = kit.services
    # A member sees the members but cannot manage them, nor rename or delete.
    _, total = await org_flows.members_of(svc, organization_id=acme.id, actor_id=bob)
    assert total == 2
    with pytest.raises(NotPermitted):
        await org_flows.set_role(
            svc, organization_id=acme.id, user_id=bob, role="org:admin", actor_id=bob, meta=META
        )
    with pytest.raises(NotPermitted):
        await org_flows.update_organization(
            svc, organization_id=acme.id, actor_id=bob, name="Mine", meta=META
        )
    with pytest.raises(NotPermitted):
        await org_flows.delete_organization(svc, organization_id=acme.id, actor_id=bob, meta=META)
    # An outsider, even another organization's admin, is told there is no such thing.
    for actor in (eve,):
        with pytest.raises(OrganizationNotFound):
            await org_flows.members_of(svc, organization_id=acme.id, actor_id=actor)
        with pytest.raises(OrganizationNotFound):
            await org_flows.remove_member(
                svc, organization_id=acme.id, user_id=bob, actor_id=actor, meta=META
            )
        with pytest.raises(OrganizationNotFound):
            await org_flows.add_member(
                svc, organization_id=acme.id, user_id=actor, actor_id=actor, meta=META
            )
    assert await org_flows.organization_by_slug(svc, user_id=eve, slug=acme.slug) is None
    assert await org_flows.organization_by_slug(svc, user_id=bob, slug=acme.slug) is not None
    # Acme's admin has no say in Evil.
    with pytest.raises(OrganizationNotFound):
        await org_flows.delete_organization(svc, organization_id=evil.id, actor_id=ada, meta=META)
    # A custom role's permissions count.
    await kit.organizations.set_role(acme.id, bob, "org:billing")
    (membership,) = [m for m in await kit.organizations.memberships(bob)]
    assert membership.permissions == {"org:invoices:read", "org:invoices:manage"}
    await kit.aclose()


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(make_kit: KitFactory) -> None:
    kit = await started(make_kit)
    ada, bob = await user(kit, "ada@acme.com"), await user(kit, "bob@acme.com")
    acme = await kit.organizations.create(name="Acme", created_by=ada)
    await kit.organizations.add_member(acme.id, bob, role="org:admin")

    async def demote(actor: str, target: str) -> str:
        try:
            await org_flows.set_role(
                kit.services,
                organization_id=acme.id,
                user_id=target,
                role="org:member",
                actor_id=actor,
                meta=META,
            )
        except (FieldError, NotPermitted) as exc:
            return exc.code
        return "done"

    outcomes = await asyncio.gather(demote(ada, bob), demote(bob, ada))
    assert sorted(outcomes) in (["done", "org_not_permitted"], ["done", "org_last_admin"])
    roles = [m.role for m in await kit.organizations.members(acme.id)]
    assert sorted(roles) == ["org:admin", "org:member"]
    await kit.aclose()


async def test_deleting_an_organization_takes_its_members_and_invitations(
    make_kit: KitFactory,
) -> None:
    kit = await started(make_kit)
    ada = await user(kit, "ada@acme.com")
    acme = await kit.organizations.create(name="Acme", created_by=ada)
    await kit.organizations.invite(acme.id, "new@acme.com")
    await kit.organizations.delete(acme.id)
    assert await kit.organizations.get(acme.id) is None
    assert await kit.organizations.memberships(ada) == []
    async with kit.services.db.session() as s:
        assert (await s.exec(select(MembershipRow))).all() == []
        assert (await s.exec(select(OrgInvitationRow))).all() == []
        events = (
            await s.exec(
                select(AuditEventRow.event).where(
                    col(AuditEventRow.event).startswith("organization.")
                )
            )
        ).all()
    assert {"organization.created", "organization.member_added", "organization.deleted"} <= set(
        events
    )
    with pytest.raises(OrganizationNotFound):
        await kit.organizations.delete(acme.id)
    await kit.aclose()


# -- invitations ----------------------------------------------------------------------------


def link_token(mailbox: Mailbox, address: str) -> str:
    text = Mailbox.text_of(mailbox.to(address)[-1])
    found = re.search(r"/organizations/invitations/([A-Za-z0-9_-]+)", text)
    assert found, text
    return found.group(1)


async def test_an_invitation_is_mailed_and_accepted_once_by_the_invited_address(
    make_kit: KitFactory, mailbox: Mailbox
) -> None:
    kit = await started(make_kit)
    ada = await user(kit, "ada@acme.com", first_name="Ada", last_name="Lovelace")
    acme = await kit.organizations.create(name="Acme", created_by=ada)
    invitation = await kit.organizations.invite(
        acme.id, "Bob@Acme.com", role="org:billing", inviter_id=ada
    )
    assert invitation.status == "pending" and invitation.role_name == "Billing"
    await kit.services.mailer.drain()
    (message,) = mailbox.to("Bob@acme.com")
    assert message["subject"] == "Ada Lovelace invited you to join Acme on authkit"
    token = link_token(mailbox, "Bob@acme.com")
    # The link says what it is for, without an account.
    shown = await kit.organizations.invitations(acme.id)
    assert [i.email for i in shown] == ["Bob@acme.com"]
    # Someone else's account cannot take it.
    eve = await user(kit, "eve@acme.com")
    with pytest.raises(FlowError) as caught:
        await accept_invitation(kit.services, user_id=eve, token=token, meta=META)
    assert caught.value.code == "org_invitation_other_address"
    bob = await user(kit, "bob@acme.com")
    # Two tabs accepting at once: one membership, the other told it is used.
    results = await asyncio.gather(
        accept_invitation(kit.services, user_id=bob, token=token, meta=META),
        accept_invitation(kit.services, user_id=bob, token=token, meta=META),
        return_exceptions=True,
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    assert len(accepted) == 1 and accepted[0].role == "org:billing"
    assert all(isinstance(r, InvitationGone) for r in results if isinstance(r, BaseException))
    assert [m.organization.id for m in await kit.organizations.memberships(bob)] == [acme.id]
    with pytest.raises(InvitationGone):
        await accept_invitation(kit.services, user_id=bob, token=token, meta=META)
    assert await kit.organizations.invitations(acme.id) == []
    await kit.aclose()


async def test_revoked_expired_and_resent_invitations(
    make_kit: KitFactory, mailbox: Mailbox, clock: FakeClock
) -> None:
    kit = await started(make_kit)
    ada, bob = await user(kit, "ada@acme.com"), await user(kit, "bob@acme.com")
    acme = await kit.organizations.create(name="Acme", created_by=ada)
    first = await kit.organizations.invite(acme.id, "bob@acme.com")
    await kit.services.mailer.drain()
    old = link_token(mailbox, "bob@acme.com")
    # Resending gives a new link; the old one stops working.
    assert await on_invitation(resend_invitation, kit, acme.id, first.id, ada)
    await kit.services.mailer.drain()
    new = link_token(mailbox, "bob@acme.com")
    assert new != old
    with pytest.raises(InvitationGone):
        await accept_invitation(kit.services, user_id=bob, token=old, meta=META)
    # Revoked: gone. Another organization's admin cannot revoke it (IDOR).
    eve = await user(kit, "eve@acme.com")
    await kit.organizations.create(name="Evil", created_by=eve)
    with pytest.raises(OrganizationNotFound):
        await on_invitation(revoke_invitation, kit, acme.id, first.id, eve)
    assert await on_invitation(revoke_invitation, kit, acme.id, first.id, ada)
    with pytest.raises(InvitationGone):
        await accept_invitation(kit.services, user_id=bob, token=new, meta=META)
    # Expired: gone, and listed as expired until revoked.
    second = await kit.organizations.invite(acme.id, "bob@acme.com")
    await kit.services.mailer.drain()
    token = link_token(mailbox, "bob@acme.com")
    clock.advance(kit.settings.organization_invitation_lifetime + 1)
    with pytest.raises(InvitationGone):
        await accept_invitation(kit.services, user_id=bob, token=token, meta=META)
    assert [(i.id, i.status) for i in await kit.organizations.invitations(acme.id)] == [
        (second.id, "expired")
    ]
    await kit.aclose()


def on_invitation(
    flow: Any, kit: AuthKit, organization_id: str, invitation_id: str, actor: str
) -> Any:
    """An invitation flow (resend, revoke) as `actor`, from the organization's page."""
    return flow(
        kit.services,
        organization_id=organization_id,
        invitation_id=invitation_id,
        actor_id=actor,
        meta=META,
    )


async def test_members_and_pending_invitations_count_against_the_limit(
    make_kit: KitFactory,
) -> None:
    kit = await started(make_kit, organization_max_members=3)
    ada = await user(kit, "ada@acme.com")
    acme = await kit.organizations.create(name="Acme", created_by=ada)
    await kit.organizations.invite(acme.id, "one@acme.com")
    await kit.organizations.invite(acme.id, "two@acme.com")
    with pytest.raises(FieldError) as caught:
        await kit.organizations.invite(acme.id, "three@acme.com")
    assert caught.value.code == "org_full"
    # Inviting an address again replaces its invitation: no extra seat.
    await kit.organizations.invite(acme.id, "two@acme.com", role="org:billing")
    with pytest.raises(FieldError) as caught:
        await kit.organizations.invite(acme.id, "ada@acme.com")
    assert caught.value.code == "org_already_member"
    await kit.aclose()


async def test_invitations_are_rate_limited_per_organization(make_kit: KitFactory) -> None:
    kit = make_kit(organizations=True, rate_limits={"org_invite:account": "3/minute"})
    await kit.ensure_started()
    acme = await kit.organizations.create(name="Acme")
    for n in range(3):
        await kit.organizations.invite(acme.id, f"p{n}@acme.com")
    with pytest.raises(RateLimited):
        await kit.organizations.invite(acme.id, "p9@acme.com")
    other = await kit.organizations.create(name="Other")
    await kit.organizations.invite(other.id, "p9@acme.com")
    await kit.aclose()


# -- verified domains -----------------------------------------------------------------------


async def test_a_domain_needs_a_verified_address_there_and_enrolls_on_sign_up(
    make_kit: KitFactory, mailbox: Mailbox
) -> None:
    kit = await started(make_kit)
    ada = await user(kit, "ada@acme.com")
    acme = await kit.organizations.create(name="Acme", created_by=ada)
    add = org_flows_domain(kit, acme.id, ada)
    with pytest.raises(FieldError) as caught:
        await add("other.com", "join")
    assert caught.value.code == "org_domain_unverified"
    with pytest.raises(FieldError) as caught:
        await add("gmail.com", "join")
    assert caught.value.code == "org_domain_public"
    with pytest.raises(FieldError) as caught:
        await add("not a domain", "join")
    assert caught.value.code == "org_domain_invalid"
    domain = await add("ACME.com", "join")
    assert domain.domain == "acme.com" and domain.verified
    beta = await kit.organizations.create(name="Beta")
    await kit.organizations.add_domain(beta.id, "beta.com", enrollment="invite")
    with pytest.raises(FieldError) as caught:
        await kit.organizations.add_domain(beta.id, "acme.com")
    assert caught.value.code == "org_domain_taken"
    # Signing up with an address at a `join` domain makes a member; at an `invite`
    # domain, an invitation waiting on the organizations page.
    async with host_client(kit) as c:
        assert (await sign_up(c, kit, mailbox, "carol@acme.com")).status_code == 303
        carol = (await me(c))["user_id"]
    assert [(m.organization.id, m.role) for m in await kit.organizations.memberships(carol)] == [
        (acme.id, "org:member")
    ]
    async with host_client(kit) as c:
        assert (await sign_up(c, kit, mailbox, "dan@beta.com")).status_code == 303
        dan = (await me(c))["user_id"]
    assert await kit.organizations.memberships(dan) == []
    from authkit.flows.org_invitations import invitations_for_user

    (waiting,) = await invitations_for_user(kit.services, dan)
    assert waiting.organization_id == beta.id
    membership = await accept_invitation(
        kit.services, user_id=dan, invitation_id=waiting.id, meta=META
    )
    assert membership.organization.id == beta.id
    await kit.aclose()


def org_flows_domain(kit: AuthKit, organization_id: str, actor: str) -> Any:
    from authkit.flows.org_invitations import add_domain

    async def add(domain: str, enrollment: str) -> Any:
        return await add_domain(
            kit.services,
            organization_id=organization_id,
            domain=domain,
            enrollment=enrollment,
            actor_id=actor,
            meta=META,
        )

    return add


# -- the active organization in the token ---------------------------------------------------


async def test_the_token_carries_the_active_organization_and_follows_role_changes(
    make_kit: KitFactory, clock: FakeClock
) -> None:
    kit = await started(make_kit)
    ada, bob = await user(kit, "ada@acme.com"), await user(kit, "bob@acme.com")
    acme = await kit.organizations.create(name="Acme", slug="acme", created_by=ada)
    await kit.organizations.add_member(acme.id, bob, role="org:billing")
    async with host_client(kit) as c:
        assert (await sign_in(c, "bob@acme.com")).status_code == 303
        assert "o" not in (await me(c))["claims"]
        await switch(kit, c, acme.id)
        claims = (await me(c))["claims"]
        assert claims["o"] == {
            "id": acme.id,
            "slg": "acme",
            "rol": "billing",
            "per": "invoices:manage,invoices:read",
        }
        # A changed role shows at the next token (one token lifetime at most).
        await kit.organizations.set_role(acme.id, bob, "org:member")
        assert (await me(c))["claims"]["o"]["rol"] == "billing"
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert (await me(c))["claims"]["o"] == {
            "id": acme.id,
            "slg": "acme",
            "rol": "member",
            "per": "invoices:read,sys_memberships:read",
        }
        # Removed: the claim is gone at the next token, and stays gone.
        await kit.organizations.remove_member(acme.id, bob)
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert "o" not in (await me(c))["claims"]
        # Switching into an organization one is not in is refused.
        with pytest.raises(OrganizationNotFound):
            await switch(kit, c, acme.id)
    await kit.aclose()


async def test_requires_org_and_auth_read_the_claim(make_kit: KitFactory) -> None:
    kit = await started(make_kit)
    ada = await user(kit, "ada@acme.com")
    acme = await kit.organizations.create(name="Acme", slug="acme", created_by=ada)
    async with host_client(kit) as c:
        assert (await c.get("/org/invoices", headers=JSON)).status_code == 401
        await sign_in(c, "ada@acme.com")
        r = await c.get("/org/invoices", headers=JSON)
        assert r.status_code == 403 and r.json()["error"] == "organization_required"
        page = await c.get("/org/invoices")
        assert page.status_code == 303
        assert page.headers["location"] == "/auth/organizations?redirect_url=%2Forg%2Finvoices"
        await switch(kit, c, acme.id)
        r = await c.get("/org/invoices", headers=JSON)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "org_id": acme.id,
            "org_slug": "acme",
            "org_role": "org:admin",
            "can_read": True,
        }
        await kit.organizations.add_member(acme.id, await user(kit, "bob@acme.com"))
    async with host_client(kit) as c:
        await sign_in(c, "bob@acme.com")
        await switch(kit, c, acme.id)
        r = await c.get("/org/invoices", headers=JSON)
        assert r.status_code == 403 and r.json() == {"error": "forbidden"}
        assert (await c.get("/org/invoices")).status_code == 403
    await kit.aclose()


def test_auth_reads_the_o_claim_without_io() -> None:
    state = Auth(
        user_id="user_1",
        claims={"o": {"id": "org_1", "slg": "acme", "rol": "admin", "per": "a:b,sys_x:y"}},
    )
    assert (state.org_id, state.org_slug, state.org_role) == ("org_1", "acme", "org:admin")
    assert state.org_permissions == {"org:a:b", "org:sys_x:y"}
    assert state.has(permission="org:a:b") and state.has(role="org:admin")
    assert not state.has(permission="org:a:c")
    assert not state.has(permission="org:a:b", role="org:member")
    personal = Auth(user_id="user_1", claims={})
    assert personal.org_id is None and personal.org_permissions == frozenset()
    assert not personal.has(permission="org:a:b")
    forged = Auth(user_id="user_1", claims={"o": ["org_1"]})
    assert forged.org_id is None
    with pytest.raises(TypeError):
        state.has()


@pytest.mark.parametrize(
    ("roles", "says"),
    [
        ({"admin": {"permissions": []}}, "must look like org:<name>"),
        ({"org:x": {"permissions": ["invoices:read"]}}, "org:<feature>:<action>"),
        ({"org:x": {"permissions": ["org:sys_billing:read"]}}, "is not a system permission"),
        ({"org:x": {"permissions": "org:a:b"}}, "must be a list"),
        ({"org:x": {"perms": []}}, "has no setting 'perms'"),
        (
            {
                "org:x": {
                    "permissions": [f"org:feature_{n:02}:a_long_action_name" for n in range(40)]
                }
            },
            "bytes of the session token",
        ),
    ],
)
def test_role_settings_are_checked_at_start(roles: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_roles(roles)
    assert says in str(caught.value)


def test_role_settings_read_json_and_toml_files(tmp_path: Any) -> None:
    path = tmp_path / "roles.toml"
    path.write_text('[roles."org:viewer"]\nname = "Viewer"\npermissions = ["org:reports:read"]\n')
    roles = load_roles(str(path))
    assert [r.key for r in roles] == ["org:admin", "org:member", "org:viewer"]
    assert roles.can("org:admin", "org:reports:read")
    assert roles.name_of("org:viewer") == "Viewer"
    inline = load_roles('{"org:viewer": {"permissions": ["org:reports:read"]}}')
    assert inline.get("org:viewer") is not None


async def test_org_shortcodes_in_templates_and_session_claims(make_kit: KitFactory) -> None:
    kit = await started(
        make_kit,
        jwt_templates={
            "team": {
                "claims": {
                    "org": "{{org.slug}}",
                    "name": "{{org.name}}",
                    "role": "{{org.role}}",
                    "perms": "{{org.permissions}}",
                    "plan": "{{org.public_metadata.plan || 'free'}}",
                    "label": "{{org.name}} ({{org.role}})",
                }
            }
        },
        session_claims={"team": "{{org.slug || 'personal'}}"},
    )
    ada = await user(kit, "ada@acme.com")
    acme = await kit.organizations.create(
        name="Acme", slug="acme", created_by=ada, public_metadata={"plan": "pro"}
    )
    async with host_client(kit) as c:
        await sign_in(c, "ada@acme.com")
        personal = jwt.decode(
            (await c.get("/auth/tokens/team")).json()["jwt"], options={"verify_signature": False}
        )
        assert (personal["org"], personal["plan"], personal["label"]) == (None, "free", " ()")
        assert (await me(c))["claims"]["team"] == "personal"
        await switch(kit, c, acme.id)
        assert (await me(c))["claims"]["team"] == "acme"
        token = (await c.get("/auth/tokens/team")).json()["jwt"]
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["org"] == "acme" and claims["name"] == "Acme"
        assert claims["role"] == "org:admin" and claims["plan"] == "pro"
        assert "org:sys_memberships:manage" in claims["perms"]
        assert claims["label"] == "Acme (org:admin)"
    await kit.aclose()


def test_session_claims_cannot_read_organization_metadata() -> None:
    with pytest.raises(ConfigError) as caught:
        plan_session_claims({"m": "{{org.public_metadata}}"}, base_url="https://example.com")
    assert "org.public_metadata" in str(caught.value)


async def test_with_organizations_off_the_token_carries_no_organization(
    make_kit: KitFactory,
) -> None:
    kit = make_kit()
    await kit.ensure_started()
    ada = await user(kit, "ada@acme.com")
    acme = await kit.organizations.create(name="Acme", created_by=ada)
    async with host_client(kit) as c:
        await sign_in(c, "ada@acme.com")
        await switch(kit, c, acme.id)
        assert "o" not in (await me(c))["claims"]
    # Only then is the cookie's room for `o` kept from AUTHKIT_SESSION_CLAIMS.
    claims = {"m": "{{user.public_metadata}}"}
    without = plan_session_claims(claims, base_url="https://example.com")
    with_orgs = plan_session_claims(claims, base_url="https://example.com", organizations=True)
    assert with_orgs.cap("public_metadata") < without.cap("public_metadata")
    await kit.aclose()


async def test_jose_reads_the_o_claim_and_a_removed_member_loses_it(
    make_kit: KitFactory, clock: FakeClock
) -> None:
    """npm jose, fetching our JWKS over HTTP, verifies a session token carrying `o`; once
    the member is removed, the next token (within one token lifetime) has none."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    setup = await started(make_kit, base_url=base_url)
    ada = await user(setup, "ada@acme.com")
    bob = await user(setup, "bob@acme.com")
    acme = await setup.organizations.create(name="Acme", slug="acme", created_by=ada)
    await setup.organizations.add_member(acme.id, bob, role="org:billing")
    live = make_kit(base_url=base_url, organizations=True, organization_roles=ROLES)
    url, stop = serve(closable(make_host_app(live), live), port=port)
    session_cookie = live.settings.cookie_names.session
    issuer, jwks_url = f"{base_url}/auth", f"{base_url}/auth/.well-known/jwks.json"
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await sign_in(http, "bob@acme.com")).status_code == 303
            page = await http.get("/auth/organizations")
            r = await http.post(
                "/auth/organizations",
                data={"csrf_token": csrf_of(page.text), "organization_id": acme.id},
            )
            assert r.status_code == 303
            code, verified, stderr = await jose_verify(
                jwks_url, http.cookies[session_cookie], issuer
            )
            assert code == 0, stderr
            assert verified["payload"]["o"] == {
                "id": acme.id,
                "slg": "acme",
                "rol": "billing",
                "per": "invoices:manage,invoices:read",
            }
            await setup.organizations.remove_member(acme.id, bob)
            clock.advance(live.settings.session_token_lifetime + 1)
            assert (await http.get("/api/me", headers=JSON)).status_code == 200
            code, verified, stderr = await jose_verify(
                jwks_url, http.cookies[session_cookie], issuer, now=clock().timestamp()
            )
            assert code == 0, stderr
            assert verified["payload"]["sub"] == bob and "o" not in verified["payload"]
            await http.post(CLOSE_PATH)
    finally:
        stop()
        await setup.aclose()
