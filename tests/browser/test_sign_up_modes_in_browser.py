"""Sign-up by waitlist in Chromium: the waitlist page, the closed sign-up page and the
console's Invitations page pass axe-core at desktop, 375 px and dark without widening
the page (screenshots in test-artifacts); joining the waitlist, being let in by an
admin and signing up from the mailed link (the address filled in and fixed) work with
JavaScript on and off."""

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

ADMIN = "admin@example.com"


def waitlist_site(tmp_path: Path, mailbox: Mailbox, mode: str) -> Iterator[Site]:
    tmp_path = tmp_path / mode
    tmp_path.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    async def set_up() -> None:
        kit = browser_kit(tmp_path, mailbox, url, sign_up=mode, admins=ADMIN)
        await kit.ensure_started()
        await kit.users.create(email=ADMIN, password=PASSWORD, first_name="Ada")
        await kit.aclose()

    # Sync Playwright keeps an event loop running in this thread: set up in another.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, set_up()).result()
    kit = browser_kit(tmp_path, mailbox, url, sign_up=mode, admins=ADMIN)
    _, stop = serve(make_host_app(kit), port=port)
    yield Site(url, kit, mailbox)
    stop()


@pytest.fixture
def site_with_waitlist(tmp_path: Path, mailbox: Mailbox) -> Iterator[Site]:
    yield from waitlist_site(tmp_path, mailbox, "waitlist")


@pytest.fixture
def closed_site(tmp_path: Path, mailbox: Mailbox) -> Iterator[Site]:
    yield from waitlist_site(tmp_path, mailbox, "closed")


def sign_in_as_admin(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/auth/sign-in")
    page.get_by_label("Email address").fill(ADMIN)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/")


def join(page: Page, site: Site, email: str) -> None:
    page.goto(f"{site.url}/auth/sign-up")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Join the waitlist").click()
    expect(page.get_by_role("status")).to_contain_text("You are on the list.")


def test_the_pages_pass_axe_and_fit(
    site_with_waitlist: Site, closed_site: Site, shot: Shot
) -> None:
    page = shot.page
    found: dict[str, list[str]] = {}
    page.goto(f"{site_with_waitlist.url}/auth/sign-up")
    expect(page.get_by_role("heading", name="Join the waitlist")).to_be_visible()
    found["waitlist"] = shot.axe()
    assert_no_horizontal_scroll(page)
    shot.save("waitlist")
    join(page, site_with_waitlist, "grace.hopper.with.a.long.address@navy.example.org")
    found["joined"] = shot.axe()
    shot.save("waitlist-joined")
    page.goto(f"{closed_site.url}/auth/sign-up")
    expect(page.get_by_role("heading", name="Sign-up is closed")).to_be_visible()
    found["closed"] = shot.axe()
    assert_no_horizontal_scroll(page)
    shot.save("sign-up-closed")
    sign_in_as_admin(page, site_with_waitlist)
    page.goto(f"{site_with_waitlist.url}/auth/admin/invitations")
    expect(page.get_by_text("grace.hopper.with.a.long.address@navy.example.org")).to_be_visible()
    found["console"] = shot.axe()
    assert_no_horizontal_scroll(page)
    shot.save("admin-invitations")
    assert found == {"waitlist": [], "joined": [], "closed": [], "console": []}


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_join_be_let_in_and_sign_up_from_the_link(
    browser: Browser, site_with_waitlist: Site, js: bool
) -> None:
    site = site_with_waitlist
    visitor = new_page(browser, js)
    join(visitor, site, "katherine@example.org")
    admin = new_page(browser, js)
    sign_in_as_admin(admin, site)
    admin.goto(f"{site.url}/auth/admin/invitations")
    admin.get_by_role("button", name="Let in katherine@example.org").click()
    expect(admin.get_by_role("status")).to_have_text("Let in: an invitation is on its way.")
    text = site._newest_mail("katherine@example.org", 0)
    link = re.search(r"https?://\S+/sign-up\?invitation=[\w-]+", text)
    assert link, text
    visitor.goto(link.group(0))
    address = visitor.get_by_label("Email address")
    expect(address).to_have_value("katherine@example.org")
    expect(address).to_have_attribute("readonly", "")
    visitor.get_by_label("Password", exact=True).fill(PASSWORD)
    visitor.get_by_role("button", name="Continue", exact=True).click()
    visitor.get_by_label("Verification code").fill(site.code_for("katherine@example.org", after=1))
    visitor.get_by_role("button", name="Verify").click()
    expect(visitor).to_have_url(f"{site.url}/")
