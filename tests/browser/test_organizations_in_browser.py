"""Organizations in Chromium: the list, the create form, an organization's profile, the
emailed invitation and the switcher in a host page pass axe-core at desktop, 375 px and
dark without widening the page (screenshots in test-artifacts); creating, inviting,
accepting, changing a role and switching work with JavaScript on and off."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from ..conftest import Mailbox, free_port, serve
from ..hostapp import make_host_app
from .conftest import Site, browser_kit
from .steps import PASSWORD, Shot, assert_no_horizontal_scroll, new_page

ADA = "ada.lovelace.with.a.long.address@acme-analytical-engines.com"
BOB = "bob@acme-analytical-engines.com"


@pytest.fixture
def org_site(tmp_path: Path, mailbox: Mailbox) -> Iterator[Site]:
    """A site with organizations on: Ada admin of "Analytical Engines International",
    Bob a member, one invitation waiting."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    async def set_up() -> None:
        kit = browser_kit(tmp_path, mailbox, url, organizations=True)
        await kit.ensure_started()
        ada = await kit.users.create(
            email=ADA, password=PASSWORD, first_name="Ada", last_name="Lovelace"
        )
        bob = await kit.users.create(email=BOB, password=PASSWORD, first_name="Bob")
        org = await kit.organizations.create(
            name="Analytical Engines International", slug="engines", created_by=ada.id
        )
        await kit.organizations.add_member(org.id, bob.id)
        await kit.organizations.invite(org.id, "charles.babbage@acme-analytical-engines.com")
        await kit.services.mailer.drain()
        await kit.aclose()

    # Sync Playwright keeps an event loop running in this thread: set up in another.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, set_up()).result()
    kit = browser_kit(tmp_path, mailbox, url, organizations=True)
    _, stop = serve(make_host_app(kit), port=port)
    yield Site(url, kit, mailbox)
    stop()


def sign_in(page: Page, site: Site, email: str) -> None:
    page.goto(f"{site.url}/auth/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/")


def test_the_pages_pass_axe_and_fit(org_site: Site, shot: Shot) -> None:
    page = shot.page
    sign_in(page, org_site, ADA)
    found: dict[str, list[str]] = {}
    page.goto(f"{org_site.url}/auth/organizations")
    expect(page.get_by_role("heading", name="Organizations")).to_be_visible()
    found["list"] = shot.axe()
    assert_no_horizontal_scroll(page)
    shot.save("organizations")
    page.goto(f"{org_site.url}/auth/organizations/engines")
    expect(
        page.get_by_role("heading", name="Analytical Engines International", level=1)
    ).to_be_visible()
    expect(page.get_by_text("charles.babbage@acme-analytical-engines.com")).to_be_visible()
    found["profile"] = shot.axe()
    assert_no_horizontal_scroll(page)
    shot.save("organization-profile")
    page.goto(f"{org_site.url}/auth/organizations/new")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_text("This field is required.")).to_be_visible()
    found["create"] = shot.axe()
    assert_no_horizontal_scroll(page)
    shot.save("organization-create-error")
    # The switcher in a host page, open.
    page.goto(f"{org_site.url}/team")
    page.locator("summary.ak-org-switcher__trigger").click()
    expect(page.get_by_role("button", name="Analytical Engines International")).to_be_visible()
    found["switcher"] = shot.axe()
    assert_no_horizontal_scroll(page)
    shot.save("organization-switcher")
    # The emailed link, seen signed out.
    link = org_site.invitation_link_for("charles.babbage@acme-analytical-engines.com")
    page.context.clear_cookies()
    page.goto(link)
    expect(
        page.get_by_role("heading", name="Join Analytical Engines International")
    ).to_be_visible()
    found["invitation"] = shot.axe()
    assert_no_horizontal_scroll(page)
    shot.save("organization-invitation")
    assert found == {"list": [], "profile": [], "create": [], "switcher": [], "invitation": []}


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_create_invite_accept_and_switch(browser: Browser, org_site: Site, js: bool) -> None:
    page = new_page(browser, js)
    sign_in(page, org_site, BOB)
    page.goto(f"{org_site.url}/auth/organizations/new")
    page.get_by_label("Name").fill("Difference Engine Club")
    page.get_by_role("button", name="Create organization").click()
    expect(page).to_have_url(
        re.compile(r"/auth/organizations/difference-engine-club\?done=created")
    )
    expect(page.get_by_role("status")).to_have_text("Organization created.")
    # Invite Ada as an admin; the mail carries the link.
    page.get_by_label("Email address").fill(ADA)
    page.get_by_label("Role", exact=True).select_option("org:admin")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_have_text("Invitation sent.")
    expect(page.get_by_text(ADA)).to_be_visible()
    link = org_site.invitation_link_for(ADA)
    # Ada opens it signed in, and joins.
    other = new_page(browser, js)
    sign_in(other, org_site, ADA)
    other.goto(link)
    other.get_by_role("button", name="Join Difference Engine Club").click()
    expect(other).to_have_url(
        re.compile(r"/auth/organizations/difference-engine-club\?done=joined")
    )
    expect(other.get_by_role("status")).to_have_text("Welcome! You joined the organization.")
    # Bob makes Ada a member again from the members list.
    page.reload()
    page.get_by_label("Role of Ada Lovelace", exact=True).select_option("org:member")
    page.get_by_role("button", name="Change role for Ada Lovelace").click()
    expect(page.get_by_role("status")).to_have_text("Role changed.")
    # Ada switches to her personal account from the list.
    other.goto(f"{org_site.url}/auth/organizations")
    other.get_by_role("button", name="Switch to Personal account").click()
    expect(other).to_have_url(f"{org_site.url}/")
    other.goto(f"{org_site.url}/auth/organizations")
    expect(other.get_by_role("button", name="Switch to Difference Engine Club")).to_be_visible()
