"""Changing the password from the Security section in Chromium, with JavaScript on and
off: a wrong current password is refused beside its field, the new one works, and the
page passes axe-core at desktop, 375 px and dark (screenshots in test-artifacts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import Site
from .test_sign_in_pipeline_in_browser import PASSWORD, SHOTS, _axe, _page, _sign_up

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
    page = _page(browser, js)
    _sign_up(page, site, email)
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


@pytest.mark.parametrize(("label", "options"), SHOTS, ids=[s[0] for s in SHOTS])
def test_the_password_page_passes_axe(
    browser: Browser,
    site: Site,
    axe_script: Path,
    screenshot_dir: Path,
    label: str,
    options: dict[str, object],
) -> None:
    page = _page(browser, True, bypass_csp=True, **options)
    _sign_up(page, site, f"password-page-{label}@example.com")
    _open_password_page(page, site)
    found = {"password-change": _axe(page, axe_script)}
    page.screenshot(path=screenshot_dir / f"password-change-{label}.png", full_page=True)
    page.get_by_label("Current password").fill("wrong")
    page.get_by_label("New password").fill("short")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("That is not your current password.")).to_be_visible()
    found["password-change-error"] = _axe(page, axe_script)
    page.screenshot(path=screenshot_dir / f"password-change-error-{label}.png", full_page=True)
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths
    assert found == {name: [] for name in found}, found
