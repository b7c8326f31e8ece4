"""Changing the password from the Security section in Chromium, with JavaScript on and
off: a wrong current password is refused beside its field, the new one works, and the
page passes axe-core at desktop, 375 px and dark (screenshots in test-artifacts)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import Site
from .steps import PASSWORD, Shot, assert_no_horizontal_scroll, new_page, sign_up

NEW_PASSWORD = "a brand new passphrase"
JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])


def _open_password_page(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/auth/user/security")
    expect(page.get_by_role("heading", name="Password")).to_be_visible()
    page.get_by_role("link", name="Change", exact=True).click()
    expect(page.get_by_role("heading", name="Change password")).to_be_visible()


@JS
def test_change_the_password(browser: Browser, site: Site, js: bool) -> None:
    email = f"change-{js}@example.com"
    page = new_page(browser, js)
    sign_up(page, site, email)
    _open_password_page(page, site)
    expect(page.get_by_label("Sign out of all other devices")).to_be_checked()
    page.get_by_label("Current password").fill("not my password at all")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("That is not your current password.")).to_be_visible()
    expect(page.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("New password")).to_have_value("")  # never echoed
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_have_text("Your password was changed.")
    page.context.clear_cookies()
    page.goto(f"{site.url}/auth/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/")


def test_the_password_page_passes_axe(site: Site, shot: Shot) -> None:
    page = shot.page
    sign_up(page, site, f"password-page-{shot.label}@example.com")
    _open_password_page(page, site)
    found = {"password-change": shot.axe()}
    shot.save("password-change")
    page.get_by_label("Current password").fill("wrong")
    page.get_by_label("New password").fill("short")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("That is not your current password.")).to_be_visible()
    found["password-change-error"] = shot.axe()
    shot.save("password-change-error")
    assert_no_horizontal_scroll(page)
    assert found == {name: [] for name in found}, found
