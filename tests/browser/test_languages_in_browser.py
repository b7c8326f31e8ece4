"""
Languages in Chromium: a browser asking for German gets the sign-in, sign-up and profile
pages in German (long words, at 375 px without sideways scrolling), one asking for Arabic
gets them right to left (labels and text start at the right, the back arrow points right),
with JavaScript on and off; axe-core finds nothing with `lang` and `dir` set on each page;
a language chosen in the profile follows the user, to another browser too.
Screenshots: test-artifacts/screenshots/language-*.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from authkit.i18n import using_locale
from authkit.messages import Messages

from .conftest import Site
from .steps import (
    PASSWORD,
    assert_no_horizontal_scroll,
    axe_violations,
    new_page,
    sign_up,
)

MOBILE = {"viewport": {"width": 375, "height": 780}, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 860}}


def said(locale: str, code: str, **fields: object) -> str:
    """The sentence `code` as the shipped catalog of `locale` says it."""
    with using_locale(locale):
        return Messages()(code, **fields)


def _in(browser: Browser, locale: str, js: bool = True, **options: object) -> Page:
    """A page whose browser asks for `locale` (its Accept-Language)."""
    return new_page(browser, js, locale=locale, bypass_csp=True, **options)


def _sign_up(page: Page, site: Site, email: str) -> None:
    """Sign up by the fields' names (their labels are in the page's language); the
    account keeps the page's language."""
    page.goto(f"{site.url}/auth/sign-up")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.locator("input[name=code]").fill(site.code_for(email))
    page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(f"{site.url}/")


def _sign_in(page: Page, site: Site, email: str) -> None:
    page.goto(f"{site.url}/auth/sign-in")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(f"{site.url}/")


def _look(page: Page, axe_script: Path, screenshot_dir: Path, name: str, js: bool = True) -> None:
    """No sideways scrolling, axe-core finds nothing (it needs JavaScript to run), and a
    screenshot to look at."""
    assert_no_horizontal_scroll(page)
    if js:
        assert axe_violations(page, axe_script) == [], name
    page.screenshot(path=screenshot_dir / f"language-{name}.png", full_page=True)


def test_german_pages_at_375_px(
    browser: Browser, site: Site, axe_script: Path, screenshot_dir: Path
) -> None:
    email = "grete@example.com"
    _sign_up(_in(browser, "de-DE"), site, email)
    page = _in(browser, "de-DE", **MOBILE)
    page.goto(f"{site.url}/auth/sign-in")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        said("de", "sign_in_title", app_name="Acme")
    )
    _look(page, axe_script, screenshot_dir, "de-sign-in-mobile")
    page.goto(f"{site.url}/auth/sign-up")
    page.locator("input[name=email]").fill("not an address")
    page.locator("form button[type=submit]").first.click()
    expect(page.locator(".ak-field__error").first).to_be_visible()
    _look(page, axe_script, screenshot_dir, "de-sign-up-errors-mobile")
    _sign_in(page, site, email)
    page.goto(f"{site.url}/auth/user")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    _look(page, axe_script, screenshot_dir, "de-profile-mobile")
    page.goto(f"{site.url}/auth/user/security")
    _look(page, axe_script, screenshot_dir, "de-security-mobile")


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_arabic_pages_are_mirrored(
    browser: Browser, site: Site, axe_script: Path, screenshot_dir: Path, js: bool
) -> None:
    email = f"layla-{js}@example.com"
    _sign_up(_in(browser, "ar"), site, email)
    page = _in(browser, "ar", js, **DESKTOP)
    page.goto(f"{site.url}/auth/sign-in")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "ar")
    expect(html).to_have_attribute("dir", "rtl")
    # Right to left: a field's label starts at the right edge of its input.
    label = page.locator("label[for$='-email']").bounding_box()
    field = page.locator("input[name=email]").bounding_box()
    assert label and field
    assert abs((label["x"] + label["width"]) - (field["x"] + field["width"])) < 2
    assert label["x"] > field["x"] + 10
    back = page.locator(".ak-topbar__home").bounding_box()
    assert back and back["x"] > 640, "the way back to the site starts at the right"
    suffix = "js" if js else "no-js"
    _look(page, axe_script, screenshot_dir, f"ar-sign-in-{suffix}", js)
    page.set_viewport_size({"width": 375, "height": 780})
    page.goto(f"{site.url}/auth/sign-up")
    _look(page, axe_script, screenshot_dir, f"ar-sign-up-mobile-{suffix}", js)
    page.set_viewport_size({"width": 1280, "height": 860})
    _sign_in(page, site, email)
    page.goto(f"{site.url}/auth/user")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    _look(page, axe_script, screenshot_dir, f"ar-profile-{suffix}", js)


def test_a_language_chosen_in_the_profile_follows_the_user(browser: Browser, site: Site) -> None:
    email = "pierre@example.com"
    page = new_page(browser)
    sign_up(page, site, email)
    page.goto(f"{site.url}/auth/user")
    page.get_by_label("Language").select_option("fr")
    page.get_by_role("button", name="Save").first.click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("status")).to_have_text(said("fr", "language_saved"))
    page.goto(f"{site.url}/auth/user/security")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    # Signed in on another browser, whatever it asks for, the user's language.
    other = _in(browser, "en-US")
    _sign_in(other, site, email)
    other.goto(f"{site.url}/auth/user")
    expect(other.locator("html")).to_have_attribute("lang", "fr")
