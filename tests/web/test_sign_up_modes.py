"""
Who may make an account (AUTHKIT_SIGN_UP, the allow and block lists, throwaway-mail
domains) on the sign-up form, the waitlist and the admin console's invitations; one
sentence whichever rule refuses an address; input kept. Social sign-up is in
test_social_login.py. SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlmodel import select

from authkit import AuthKit, ConfigError
from authkit.config import settings_from
from authkit.errors import FieldError
from authkit.store.models import SignUpInvitationRow, VerificationCodeRow, WaitlistEntryRow

from ..conftest import KitFactory, Mailbox
from .flow_helpers import PASSWORD, csrf_of, host_client, sign_in, sign_up

pytestmark = pytest.mark.anyio

REFUSED = "This email address cannot be used to sign up here. Use another one."
BY_INVITATION = "Sign-up here is by invitation. Use the link in your invitation email."


async def started(make_kit: KitFactory, **settings: Any) -> AuthKit:
    kit = make_kit(**settings)
    await kit.ensure_started()
    return kit


async def attempts(kit: AuthKit) -> int:
    async with kit.services.db.session() as s:
        return len((await s.exec(select(VerificationCodeRow))).all())


async def post_sign_up(c: httpx.AsyncClient, address: str) -> httpx.Response:
    """The sign-up form posted as a browser does; the answer, not followed."""
    token = csrf_of((await c.get("/auth/sign-in")).text)
    return await c.post(
        "/auth/sign-up", data={"csrf_token": token, "email": address, "password": PASSWORD}
    )


def invitation_link(mailbox: Mailbox, address: str) -> str:
    text = Mailbox.text_of(mailbox.to(address)[-1])
    found = re.search(r"http://testserver(/auth/sign-up\?invitation=[\w-]+)", text)
    assert found, text
    return found.group(1)


@pytest.mark.parametrize(
    ("settings", "address", "admitted"),
    [
        ({"sign_up_allowlist": "acme.com"}, "ada@acme.com", True),
        ({"sign_up_allowlist": "acme.com"}, "ada@mail.acme.com", True),  # a subdomain
        ({"sign_up_allowlist": "acme.com"}, "ada@notacme.com", False),
        ({"sign_up_allowlist": "acme.com, grace@navy.example.org"}, "grace@navy.example.org", True),
        ({"sign_up_blocklist": "@spam.example.org"}, "x@spam.example.org", False),
        ({"sign_up_blocklist": "spam.example.org"}, "x@eu.spam.example.org", False),
        ({"sign_up_blocklist": "bad@example.org"}, "BAD@example.org", False),
        ({"sign_up_blocklist": "bad@example.org"}, "good@example.org", True),
        ({}, "someone@mailinator.com", False),  # a throwaway-mail domain
        ({"block_disposable_emails": False}, "someone@mailinator.com", True),
        ({"sign_up_allowlist": "mailinator.com"}, "someone@mailinator.com", True),
    ],
)
async def test_the_lists_and_throwaway_domains(
    make_kit: KitFactory, settings: dict[str, Any], address: str, admitted: bool
) -> None:
    kit = await started(make_kit, **settings)
    async with host_client(kit) as c:
        r = await post_sign_up(c, address)
        if admitted:
            assert r.status_code == 303, r.text
        else:
            assert r.status_code == 422
            assert REFUSED in r.text
            assert f'value="{address}"' in r.text  # the input is kept
            assert await attempts(kit) == 0  # refused before any code or hash
    await kit.aclose()


async def test_closed_shows_no_form_and_hides_the_link(make_kit: KitFactory) -> None:
    kit = await started(make_kit, sign_up="closed")
    await kit.users.create(email="ada@example.com", password=PASSWORD)
    async with host_client(kit) as c:
        page = await c.get("/auth/sign-up")
        assert page.status_code == 200
        assert "Sign-up is closed" in page.text and 'name="password"' not in page.text
        assert 'href="/auth/sign-up' not in (await c.get("/auth/sign-in")).text
        r = await post_sign_up(c, "new@example.com")
        assert r.status_code == 422 and "Sign-up is closed." in r.text
        # Sign-in goes on working.
        assert (await sign_in(c, "ada@example.com")).status_code == 303
    await kit.aclose()


async def test_by_invitation_only_invited_addresses_sign_up(
    make_kit: KitFactory, mailbox: Mailbox
) -> None:
    kit = await started(make_kit, sign_up="invite")
    async with host_client(kit) as c:
        r = await post_sign_up(c, "stranger@example.com")
        assert r.status_code == 422 and BY_INVITATION in r.text
    invitation = await kit.users.invite("Grace@Example.com")
    assert invitation.status == "pending"
    await kit.services.mailer.drain()
    link = invitation_link(mailbox, "Grace@example.com")
    async with host_client(kit) as c:
        page = await c.get(link)
        # The link fills in the address it was sent to, and keeps it.
        assert 'value="Grace@example.com"' in page.text and "readonly" in page.text
        assert (await sign_up(c, kit, mailbox, "grace@example.com")).status_code == 303
    async with kit.services.db.session() as s:
        row = (await s.exec(select(SignUpInvitationRow))).one()
    assert row.status == "accepted"
    # Used: the link fills in nothing any more, and the address has its account.
    async with host_client(kit) as c:
        assert 'value="Grace@example.com"' not in (await c.get(link)).text
    with pytest.raises(FieldError) as caught:
        await kit.users.invite("grace@example.com")
    assert caught.value.code == "email_taken"
    await kit.aclose()


async def test_an_organization_invitation_lets_its_address_sign_up(
    make_kit: KitFactory, mailbox: Mailbox
) -> None:
    kit = await started(make_kit, sign_up="invite", organizations=True)
    team = await kit.organizations.create(name="Team")
    await kit.organizations.invite(team.id, "teammate@example.com")
    async with host_client(kit) as c:
        assert (await sign_up(c, kit, mailbox, "teammate@example.com")).status_code == 303
    await kit.aclose()


async def test_the_waitlist_answers_alike_and_an_admin_lets_people_in(
    make_kit: KitFactory, mailbox: Mailbox
) -> None:
    kit = await started(make_kit, sign_up="waitlist", admins="admin@example.com")
    await kit.users.create(email="admin@example.com", password=PASSWORD)
    async with host_client(kit) as c:
        page = await c.get("/auth/sign-up")
        assert "Join the waitlist" in page.text and 'action="/auth/waitlist"' in page.text
        answers = []
        for address in ("hopeful@example.com", "hopeful@example.com", "admin@example.com"):
            r = await c.post(
                "/auth/waitlist", data={"csrf_token": csrf_of(page.text), "email": address}
            )
            assert r.status_code == 200
            answers.append(re.sub(r"nonce=\"[^\"]+\"|value=\"[^\"]+\"", "", r.text))
        assert answers[0] == answers[1] == answers[2]
        assert "You are on the list." in answers[0]
        bad = await c.post(
            "/auth/waitlist", data={"csrf_token": csrf_of(page.text), "email": "x@mailinator.com"}
        )
        assert bad.status_code == 422 and REFUSED in bad.text
    async with kit.services.db.session() as s:
        entries = (await s.exec(select(WaitlistEntryRow))).all()
    # The admin's address is on the list too: the page told nobody it has an account.
    assert sorted(e.email for e in entries) == ["admin@example.com", "hopeful@example.com"]
    hopeful = next(e for e in entries if e.email == "hopeful@example.com")
    async with host_client(kit) as admin:
        await sign_in(admin, "admin@example.com")
        console = await admin.get("/auth/admin/invitations")
        assert console.status_code == 200 and "hopeful@example.com" in console.text
        r = await admin.post(
            f"/auth/admin/waitlist/{hopeful.id}/approve",
            data={"csrf_token": csrf_of(console.text)},
        )
        assert r.status_code == 303 and r.headers["location"].endswith("done=approved")
        again = await admin.post(
            f"/auth/admin/waitlist/{hopeful.id}/approve",
            data={"csrf_token": csrf_of(console.text)},
        )
        assert again.status_code == 404
        # Inviting from the console: a mistake comes back beside the field.
        r = await admin.post(
            "/auth/admin/invitations",
            data={"csrf_token": csrf_of(console.text), "email": "not an address"},
        )
        assert r.status_code == 422 and 'value="not an address"' in r.text
        r = await admin.post(
            "/auth/admin/invitations",
            data={"csrf_token": csrf_of(console.text), "email": "direct@example.com"},
        )
        assert r.headers["location"].endswith("done=invited")
    await kit.services.mailer.drain()
    link = invitation_link(mailbox, "hopeful@example.com")
    async with host_client(kit) as c:
        assert 'value="hopeful@example.com"' in (await c.get(link)).text
        assert (await sign_up(c, kit, mailbox, "hopeful@example.com")).status_code == 303
    assert invitation_link(mailbox, "direct@example.com")
    await kit.aclose()


async def test_the_waitlist_and_the_console_page_answer_404_when_they_do_not_apply(
    make_kit: KitFactory,
) -> None:
    kit = await started(make_kit)
    await kit.users.create(email="bob@example.com", password=PASSWORD)
    async with host_client(kit) as c:
        assert (await c.get("/auth/waitlist")).status_code == 404
        await sign_in(c, "bob@example.com")
        for method in ("GET", "POST"):
            assert (await c.request(method, "/auth/admin/invitations")).status_code == 404
        assert (await c.post("/auth/admin/waitlist/wait_x/approve")).status_code == 404
    await kit.aclose()


def test_a_mode_that_does_not_exist_is_a_sentence() -> None:
    with pytest.raises(ConfigError, match="AUTHKIT_SIGN_UP must be one of open, invite"):
        settings_from({"secret_key": "x" * 40, "sign_up": "sometimes"})
