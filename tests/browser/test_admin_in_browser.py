"""The admin console in Chromium: the users list, a user's page and the webhook log pass
axe-core at desktop, 375 px and dark without widening the page (screenshots in
test-artifacts); searching and banning work with JavaScript off (plain forms)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from ..conftest import Mailbox, free_port, serve
from ..hostapp import make_host_app
from .conftest import Site, browser_kit
from .steps import PASSWORD, Shot, assert_no_horizontal_scroll, new_page

ADMIN = "admin@example.com"


@pytest.fixture
def admin_site(tmp_path: Path, mailbox: Mailbox) -> Iterator[Site]:
    """A site whose admin is ADMIN, with a few users made before it is served."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    async def set_up() -> None:
        kit = browser_kit(tmp_path, mailbox, url, admins=ADMIN)
        await kit.ensure_started()
        await kit.users.create(email=ADMIN, password=PASSWORD, first_name="Ada", last_name="Admin")
        for n, name in enumerate(["Grace Hopper", "Alan Turing", "Katherine Johnson"]):
            first, last = name.split()
            await kit.users.create(
                email=f"{first.lower()}.{last.lower()}.with.a.long.address.{n}@example.com",
                password=PASSWORD,
                first_name=first,
                last_name=last,
            )
        await kit.aclose()

    # Sync Playwright keeps an event loop running in this thread: set up in another.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, set_up()).result()
    kit = browser_kit(tmp_path, mailbox, url, admins=ADMIN)
    _, stop = serve(make_host_app(kit), port=port)
    yield Site(url, kit, mailbox)
    stop()


def sign_in_as_admin(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/auth/sign-in")
    page.get_by_label("Email address").fill(ADMIN)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/")


def test_the_console_passes_axe_and_fits(admin_site: Site, shot: Shot) -> None:
    page = shot.page
    sign_in_as_admin(page, admin_site)
    found: dict[str, list[str]] = {}
    page.goto(f"{admin_site.url}/auth/admin")
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    expect(page.get_by_role("link", name="Grace Hopper")).to_be_visible()
    found["users"] = shot.axe()
    assert_no_horizontal_scroll(page)
    shot.save("admin-users")
    page.get_by_role("link", name="Grace Hopper").click()
    expect(page.get_by_role("heading", name="Grace Hopper", level=1)).to_be_visible()
    found["user"] = shot.axe()
    assert_no_horizontal_scroll(page)
    shot.save("admin-user")
    page.goto(f"{admin_site.url}/auth/admin/webhooks")
    expect(page.get_by_text("Nothing sent yet.")).to_be_visible()
    found["webhooks"] = shot.axe()
    # Signed in as Grace: every authkit page says so, with the way back.
    page.goto(f"{admin_site.url}/auth/admin")
    page.get_by_role("link", name="Grace Hopper").click()
    page.get_by_role("button", name="Sign in as this user").click()
    page.goto(f"{admin_site.url}/auth/user")
    expect(page.get_by_role("button", name="Stop impersonating")).to_be_visible()
    found["impersonating"] = shot.axe()
    assert_no_horizontal_scroll(page)
    shot.save("impersonating")
    assert found == {"users": [], "user": [], "webhooks": [], "impersonating": []}


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_sign_in_as_a_user_then_stop(browser: Browser, admin_site: Site, js: bool) -> None:
    page = new_page(browser, js)
    sign_in_as_admin(page, admin_site)
    page.goto(f"{admin_site.url}/auth/admin")
    page.get_by_role("link", name="Alan Turing").click()
    page.get_by_role("button", name="Sign in as this user").click()
    expect(page).to_have_url(f"{admin_site.url}/")
    page.goto(f"{admin_site.url}/auth/user")
    expect(page.get_by_text("You are signed in as another user, as an admin.")).to_be_visible()
    expect(page.get_by_text("alan.turing.with.a.long.address.1@example.com").first).to_be_visible()
    page.get_by_role("button", name="Stop impersonating").click()
    expect(page.get_by_role("heading", name="Alan Turing", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Stop impersonating")).to_have_count(0)


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_search_then_ban_and_lift_it(browser: Browser, admin_site: Site, js: bool) -> None:
    page = new_page(browser, js)
    sign_in_as_admin(page, admin_site)
    page.goto(f"{admin_site.url}/auth/admin")
    page.get_by_label("Search by email, name or user ID").fill("turing")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Alan Turing")).to_be_visible()
    expect(page.get_by_role("link", name="Grace Hopper")).to_have_count(0)
    page.get_by_role("link", name="Alan Turing").click()
    page.get_by_role("button", name="Ban").click()
    expect(page.get_by_role("status")).to_have_text("The user is banned and signed out everywhere.")
    expect(page.get_by_text("The account was suspended by an admin")).to_be_visible()
    page.get_by_role("button", name="Lift the ban").click()
    expect(page.get_by_role("status")).to_have_text(
        "The ban is lifted: the user can sign in again."
    )
