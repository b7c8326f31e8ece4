"""
The organizations pages as a browser without JavaScript uses them (plain forms, CSRF,
redirects), and their authorization: member vs admin vs outsider vs another
organization's admin, and IDOR on every id in a path or form. Bad input comes back with
the message beside its field and what was typed kept. The components in a host page.
SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from authkit import AuthKit

from ..conftest import FakeClock, KitFactory, Mailbox
from .flow_helpers import PASSWORD, csrf_of, form_with, host_client, sign_in, sign_up

pytestmark = pytest.mark.anyio

JSON = {"accept": "application/json"}


async def claims(c: httpx.AsyncClient) -> dict[str, Any]:
    return dict((await c.get("/api/me", headers=JSON)).json()["claims"])


async def started(make_kit: KitFactory, **settings: Any) -> AuthKit:
    kit = make_kit(organizations=True, **settings)
    await kit.ensure_started()
    return kit


async def post(c: httpx.AsyncClient, page: str, action: str, **fields: str) -> httpx.Response:
    """Post the form whose action is `action` on the page at `page`, as a browser does."""
    html = (await c.get(page)).text
    return await c.post(action, data={"csrf_token": csrf_of(html), **fields})


@asynccontextmanager
async def signed_in(kit: AuthKit, email: str) -> AsyncIterator[httpx.AsyncClient]:
    async with host_client(kit) as c:
        if await kit.users.get_by_email(email) is None:
            await kit.users.create(email=email, password=PASSWORD)
        assert (await sign_in(c, email)).status_code == 303
        yield c


async def test_the_pages_exist_only_when_organizations_are_on(make_kit: KitFactory) -> None:
    kit = make_kit()
    await kit.ensure_started()
    async with signed_in(kit, "ada@acme.com") as c:
        for path in ("/auth/organizations", "/auth/organizations/new", "/auth/organizations/x"):
            assert (await c.get(path)).status_code == 404
        assert (await c.get("/auth/organizations/invitations/abc")).status_code == 404
    await kit.aclose()


async def test_signed_out_visitors_go_to_sign_in(make_kit: KitFactory) -> None:
    kit = await started(make_kit)
    async with host_client(kit) as c:
        r = await c.get("/auth/organizations/new")
        assert r.status_code == 303
        assert r.headers["location"].startswith("/auth/sign-in?redirect_url=")
    await kit.aclose()


async def test_creating_one_makes_it_active_and_bad_input_keeps_what_was_typed(
    make_kit: KitFactory,
) -> None:
    kit = await started(make_kit)
    async with signed_in(kit, "ada@acme.com") as c:
        r = await post(
            c, "/auth/organizations/new", "/auth/organizations/new", name="", slug="My Team"
        )
        assert r.status_code == 422
        assert "This field is required." in r.text
        assert 'value="My Team"' in r.text
        r = await post(
            c, "/auth/organizations/new", "/auth/organizations/new", name="Acme", slug=""
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/auth/organizations/acme?done=created"
        o = (await claims(c))["o"]
        assert (o["slg"], o["rol"]) == ("acme", "admin")
        page = await c.get("/auth/organizations/acme?done=created")
        assert page.status_code == 200
        assert "Organization created." in page.text and "You are Admin here." in page.text
        # A taken slug, refused beside its field, the name kept.
        r = await post(
            c, "/auth/organizations/new", "/auth/organizations/new", name="Other", slug="acme"
        )
        assert r.status_code == 422
        assert "That address is taken. Choose another." in r.text and 'value="Other"' in r.text
        # Without a CSRF token: refused.
        r = await c.post("/auth/organizations/new", data={"name": "Evil"})
        assert r.status_code == 403
    await kit.aclose()


async def test_switching_goes_on_to_a_safe_redirect_url(make_kit: KitFactory) -> None:
    kit = await started(make_kit)
    ada = await kit.users.create(email="ada@acme.com", password=PASSWORD)
    acme = await kit.organizations.create(name="Acme", slug="acme", created_by=ada.id)
    async with signed_in(kit, "ada@acme.com") as c:
        listing = await c.get("/auth/organizations")
        assert listing.status_code == 200
        assert "Personal account" in listing.text and "Acme" in listing.text
        token = csrf_of(listing.text)
        r = await c.post(
            "/auth/organizations",
            data={"csrf_token": token, "organization_id": acme.id, "redirect_url": "/dashboard"},
        )
        assert r.status_code == 303 and r.headers["location"] == "/dashboard"
        assert (await claims(c))["o"]["id"] == acme.id
        # Another site is never a destination; the personal account is an empty id.
        r = await c.post(
            "/auth/organizations",
            data={"csrf_token": token, "organization_id": "", "redirect_url": "https://evil.com/"},
        )
        assert r.status_code == 303 and not r.headers["location"].startswith("https://evil")
        assert "o" not in await claims(c)
        # An organization one is not in: refused on the page, nothing switched.
        other = await kit.organizations.create(name="Other")
        r = await c.post(
            "/auth/organizations", data={"csrf_token": token, "organization_id": other.id}
        )
        assert r.status_code == 422
        assert "There is no such organization, or you are not in it." in r.text
        assert "o" not in await claims(c)
    await kit.aclose()


async def test_members_admins_and_outsiders_see_and_do_what_their_role_allows(
    make_kit: KitFactory,
) -> None:
    kit = await started(make_kit)
    ada = await kit.users.create(email="ada@acme.com", password=PASSWORD)
    bob = await kit.users.create(email="bob@acme.com", password=PASSWORD, first_name="Bob")
    eve = await kit.users.create(email="eve@evil.com", password=PASSWORD)
    acme = await kit.organizations.create(name="Acme", slug="acme", created_by=ada.id)
    evil = await kit.organizations.create(name="Evil", slug="evil", created_by=eve.id)
    await kit.organizations.add_member(acme.id, bob.id)
    carl = await kit.users.create(email="carl@evil.com", password=PASSWORD)
    await kit.organizations.add_member(evil.id, carl.id)
    page = "/auth/organizations/acme"
    async with signed_in(kit, "bob@acme.com") as bob_c:
        seen = await bob_c.get(page)
        assert seen.status_code == 200
        assert "ada@acme.com" in seen.text and "Send invitation" not in seen.text
        assert 'action="/auth/organizations/acme/profile"' not in seen.text
        # A member posting an admin's action is told the role does not allow it.
        r = await post(bob_c, page, f"{page}/remove", user_id=ada.id)
        assert r.status_code == 422
        assert "Your role in this organization does not allow that." in r.text
        r = await post(bob_c, page, f"{page}/invite", email="x@acme.com", role="org:member")
        assert r.status_code == 422
    async with signed_in(kit, "eve@evil.com") as eve_c:
        # An outsider (another organization's admin) finds nothing at either address.
        assert (await eve_c.get(page)).status_code == 404
        token = csrf_of((await eve_c.get("/auth/organizations/evil")).text)
        for action in ("remove", "role", "invite", "delete", "leave", "profile"):
            r = await eve_c.post(
                f"{page}/{action}",
                data={
                    "csrf_token": token,
                    "user_id": bob.id,
                    "role": "org:admin",
                    "email": "e@evil.com",
                },
            )
            assert r.status_code == 404, action
        # Evil's admin naming Acme's member in Evil's own form changes nothing at Acme.
        r = await eve_c.post(
            "/auth/organizations/evil/remove", data={"csrf_token": token, "user_id": bob.id}
        )
        assert r.status_code == 303 and r.headers["location"].endswith("done=nothing")
        invitation = await kit.organizations.invite(acme.id, "new@acme.com")
        r = await eve_c.post(
            "/auth/organizations/evil/revoke",
            data={"csrf_token": token, "invitation_id": invitation.id},
        )
        assert r.headers["location"].endswith("done=nothing")
    assert [i.id for i in await kit.organizations.invitations(acme.id)] == [invitation.id]
    assert {m.email for m in await kit.organizations.members(acme.id)} == {
        "ada@acme.com",
        "bob@acme.com",
    }
    # The admin changes a role and removes a member through the page's forms.
    async with signed_in(kit, "ada@acme.com") as ada_c:
        seen = await ada_c.get(page)
        assert "Send invitation" in seen.text and "Change role" in seen.text
        r = await post(ada_c, page, f"{page}/role", user_id=bob.id, role="org:admin")
        assert r.status_code == 303 and r.headers["location"] == f"{page}?done=role"
        r = await post(ada_c, page, f"{page}/role", user_id=bob.id, role="org:nope")
        assert r.status_code == 422 and "Choose one of the roles listed." in r.text
        r = await post(ada_c, page, f"{page}/remove", user_id=bob.id)
        assert r.headers["location"] == f"{page}?done=removed"
        # The last admin cannot leave: the sentence says what to do.
        r = await post(ada_c, page, f"{page}/leave")
        assert r.status_code == 422
        assert "An organization needs an admin" in r.text
    await kit.aclose()


async def test_an_invitation_is_sent_from_the_page_and_accepted_from_the_link(
    make_kit: KitFactory, mailbox: Mailbox
) -> None:
    kit = await started(make_kit)
    ada = await kit.users.create(email="ada@acme.com", password=PASSWORD, first_name="Ada")
    await kit.organizations.create(name="Acme", slug="acme", created_by=ada.id)
    page = "/auth/organizations/acme"
    async with signed_in(kit, "ada@acme.com") as ada_c:
        r = await post(ada_c, page, f"{page}/invite", email="not an address", role="org:member")
        assert r.status_code == 422
        assert "Enter a valid email address." in r.text and 'value="not an address"' in r.text
        r = await post(ada_c, page, f"{page}/invite", email="new@acme.com", role="org:admin")
        assert r.headers["location"] == f"{page}?done=invited#invitations"
        listed = await ada_c.get(page)
        assert "new@acme.com" in listed.text and "Revoke" in listed.text
    await kit.services.mailer.drain()
    text = Mailbox.text_of(mailbox.to("new@acme.com")[-1])
    link = re.search(r"http://testserver(/auth/organizations/invitations/[A-Za-z0-9_-]+)", text)
    assert link, text
    path = link.group(1)
    async with host_client(kit) as c:
        # Signed out: what it is, and the way to sign in or up coming back here.
        shown = await c.get(path)
        assert shown.status_code == 200
        assert "Join Acme" in shown.text and "Admin" in shown.text
        assert f"/auth/sign-up?redirect_url={quote(path, safe='')}" in shown.text
        assert shown.headers["referrer-policy"] == "no-referrer"
        # Signed up with the invited address, the link accepts.
        assert (await sign_up(c, kit, mailbox, "new@acme.com")).status_code == 303
        shown = await c.get(path)
        assert "You will join as new@acme.com." in shown.text
        r = await c.post(path, data={"csrf_token": csrf_of(shown.text)})
        assert r.status_code == 303 and r.headers["location"] == f"{page}?done=joined"
        assert (await claims(c))["o"]["rol"] == "admin"
        # Used: the link says so.
        again = await c.get(path)
        assert again.status_code == 200 and "Invitation not valid" in again.text
    # Someone else's account is told whose invitation it is.
    async with signed_in(kit, "ada@acme.com") as ada_c:
        await post(ada_c, page, f"{page}/invite", email="carol@acme.com", role="org:member")
    await kit.services.mailer.drain()
    text = Mailbox.text_of(mailbox.to("carol@acme.com")[-1])
    other = re.search(r"http://testserver(/auth/organizations/invitations/[A-Za-z0-9_-]+)", text)
    assert other
    async with signed_in(kit, "eve@evil.com") as eve_c:
        shown = await eve_c.get(other.group(1))
        assert "This invitation is for carol@acme.com." in shown.text
        # No button is offered; a forged post is refused all the same.
        token = csrf_of((await eve_c.get("/auth/organizations/new")).text)
        r = await eve_c.post(other.group(1), data={"csrf_token": token})
        assert r.status_code == 422
    async with host_client(kit) as c:
        assert (await c.get("/auth/organizations/invitations/" + "x" * 43)).status_code == 404
    await kit.aclose()


async def test_deleting_asks_to_confirm_it_is_you(make_kit: KitFactory, clock: FakeClock) -> None:
    kit = await started(make_kit)
    ada = await kit.users.create(email="ada@acme.com", password=PASSWORD)
    acme = await kit.organizations.create(name="Acme", slug="acme", created_by=ada.id)
    page = "/auth/organizations/acme"
    async with signed_in(kit, "ada@acme.com") as c:
        clock.advance(kit.settings.reverification_window + 60)
        r = await post(c, page, f"{page}/delete")
        assert r.status_code == 303 and r.headers["location"].startswith("/auth/reverify?")
        assert await kit.organizations.get(acme.id) is not None
        confirm = await c.get(r.headers["location"])
        action, fields = form_with(confirm.text, 'name="password"')
        done = await c.post(action, data={**fields, "password": PASSWORD})
        assert done.status_code == 303
        r = await post(c, page, f"{page}/delete")
        assert r.headers["location"] == "/auth/organizations?done=deleted"
        assert await kit.organizations.get(acme.id) is None
    await kit.aclose()


async def test_the_components_in_a_host_page(make_kit: KitFactory) -> None:
    kit = await started(make_kit)
    ada = await kit.users.create(email="ada@acme.com", password=PASSWORD)
    acme = await kit.organizations.create(name="Acme", slug="acme", created_by=ada.id)
    async with signed_in(kit, "ada@acme.com") as c:
        team = await c.get("/team")
        assert team.status_code == 200
        assert "ak-org-switcher" in team.text and "Personal account" in team.text
        assert "Create an organization" in team.text
        # No active organization: no profile yet.
        assert "Send invitation" not in team.text
        r = await post(
            c, "/team", "/auth/organizations", organization_id=acme.id, redirect_url="/team"
        )
        assert r.headers["location"] == "/team"
        team = await c.get("/team")
        assert "Send invitation" in team.text and 'name="redirect_url" value="/team"' in team.text
    async with host_client(kit) as c:
        assert (await c.get("/team")).status_code == 303
    await kit.aclose()


def png_bytes() -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 60)).save(out, "PNG")
    return out.getvalue()


async def test_the_logo_is_uploaded_served_and_removed(make_kit: KitFactory) -> None:
    kit = await started(make_kit)
    ada = await kit.users.create(email="ada@acme.com", password=PASSWORD)
    bob = await kit.users.create(email="bob@acme.com", password=PASSWORD)
    acme = await kit.organizations.create(name="Acme", slug="acme", created_by=ada.id)
    await kit.organizations.add_member(acme.id, bob.id)
    page = "/auth/organizations/acme"
    async with signed_in(kit, "ada@acme.com") as c:
        token = csrf_of((await c.get(page)).text)
        bad = await c.post(
            f"{page}/logo",
            data={"csrf_token": token},
            files={"image": ("logo.png", b"not an image", "image/png")},
        )
        assert bad.status_code == 422
        assert 'aria-invalid="true"' in bad.text and "ak-field__error" in bad.text
        r = await c.post(
            f"{page}/logo",
            data={"csrf_token": token},
            files={"image": ("logo.png", png_bytes(), "image/png")},
        )
        assert r.status_code == 303 and r.headers["location"] == f"{page}?done=logo"
        logo = (await kit.organizations.get(acme.id)).image_url  # type: ignore[union-attr]
        assert logo and logo.startswith(f"/auth/organizations/logos/{acme.id}/")
        served = await c.get(logo)
        assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
        assert "immutable" in served.headers["cache-control"]
        assert logo in (await c.get(page)).text
        r = await post(c, page, f"{page}/remove-logo")
        assert r.headers["location"] == f"{page}?done=logo_removed"
        assert (await c.get(logo)).status_code == 404
    async with signed_in(kit, "bob@acme.com") as c:
        token = csrf_of((await c.get(page)).text)
        r = await c.post(
            f"{page}/logo",
            data={"csrf_token": token},
            files={"image": ("logo.png", png_bytes(), "image/png")},
        )
        assert r.status_code == 422
        assert "Your role in this organization does not allow that." in r.text
    async with signed_in(kit, "eve@evil.com") as c:
        token = csrf_of((await c.get("/auth/organizations/new")).text)
        r = await c.post(
            f"{page}/logo",
            data={"csrf_token": token},
            files={"image": ("logo.png", png_bytes(), "image/png")},
        )
        assert r.status_code == 404
    await kit.aclose()


async def test_every_action_checks_the_role_and_every_id_belongs_to_the_organization(
    make_kit: KitFactory,
) -> None:
    """A member may do none of the admin's actions; another organization's admin reaches
    nothing of Acme's through its own organization's forms (IDOR on every id a form
    carries: member, invitation, domain), nor accepts an invitation meant for someone
    else by its id."""
    kit = await started(make_kit)
    ada = await kit.users.create(email="ada@acme.com", password=PASSWORD)
    bob = await kit.users.create(email="bob@acme.com", password=PASSWORD)
    eve = await kit.users.create(email="eve@evil.com", password=PASSWORD)
    acme = await kit.organizations.create(name="Acme", slug="acme", created_by=ada.id)
    await kit.organizations.create(name="Evil", slug="evil", created_by=eve.id)
    await kit.organizations.add_member(acme.id, bob.id)
    invitation = await kit.organizations.invite(acme.id, "new@acme.com")
    domain = await kit.organizations.add_domain(acme.id, "acme.com")
    page = "/auth/organizations/acme"
    admin_only = {
        "profile": {"name": "Mine", "slug": "mine"},
        "invite": {"email": "x@acme.com", "role": "org:member"},
        "revoke": {"invitation_id": invitation.id},
        "resend": {"invitation_id": invitation.id},
        "role": {"user_id": ada.id, "role": "org:member"},
        "remove": {"user_id": ada.id},
        "domain": {"domain": "acme.com", "enrollment": "join"},
        "remove-domain": {"domain_id": domain.id},
        "remove-logo": {},
        "delete": {},
    }
    async with signed_in(kit, "bob@acme.com") as c:
        for action, fields in admin_only.items():
            r = await post(c, page, f"{page}/{action}", **fields)
            assert r.status_code == 422, action
            assert "Your role in this organization does not allow that." in r.text, action
    evil = "/auth/organizations/evil"
    async with signed_in(kit, "eve@evil.com") as c:
        for action, fields in admin_only.items():
            if action in ("profile", "invite", "domain", "delete", "remove-logo"):
                continue  # these name no id: they act on Evil itself
            r = await post(c, evil, f"{evil}/{action}", **fields)
            assert r.status_code == 303, action
            assert r.headers["location"].endswith("done=nothing"), action
        # Someone else's invitation, by its id: not for this account.
        r = await post(
            c,
            "/auth/organizations/new",
            f"/auth/organizations/invitations/{invitation.id}/accept",
        )
        assert r.status_code == 422
        assert "This invitation is for new@acme.com." in r.text
    # Nothing of Acme's changed.
    assert (await kit.organizations.get(acme.id)).name == "Acme"  # type: ignore[union-attr]
    assert {m.role for m in await kit.organizations.members(acme.id)} == {
        "org:admin",
        "org:member",
    }
    assert [i.id for i in await kit.organizations.invitations(acme.id)] == [invitation.id]
    assert [d.id for d in await kit.organizations.domains(acme.id)] == [domain.id]
    await kit.aclose()
