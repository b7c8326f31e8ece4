"""
The profile in Chromium: the Account and Security sections with their navigation (tabs
wide, a list narrow) and the way back to the site; email addresses added, verified, made
primary and removed with JavaScript on and off; saving with htmx breaks no CSP rule; an
address never wraps mid-way; no request 404s (the favicon); a forced dark mode reaches
embedded components; axe-core finds nothing at desktop, 375 px and dark.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

from authkit import AuthKit

from ..conftest import TEST_SECRET, free_port, serve
from ..hostapp import make_host_app
from .conftest import Site
from .steps import PASSWORD, Shot, add_address, assert_no_horizontal_scroll, new_page, sign_up

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
LONG = "someone.with-a-rather-long-address-{}@example-company.com"


@JS
def test_add_make_primary_and_remove_an_address(browser: Browser, site: Site, js: bool) -> None:
    first = f"first-{js}@example.com"
    second = f"second-{js}@example.org"
    page = new_page(browser, js)
    sign_up(page, site, first)
    page.goto(f"{site.url}/auth/user")
    add_address(page, site, second)
    row = page.locator("li", has_text=second)
    expect(row.get_by_text("Unverified")).to_have_count(0)
    row.get_by_role("link", name="Make primary").click()
    expect(page.get_by_role("heading", name="Make this your primary address?")).to_be_visible()
    page.get_by_role("button", name="Make primary").click()
    expect(page.get_by_role("status")).to_have_text("Your primary email address was changed.")
    expect(page.locator("li", has_text=second).get_by_text("Primary")).to_be_visible()
    page.locator("li", has_text=first).get_by_role("link", name="Remove").click()
    page.get_by_role("button", name="Remove address").click()
    expect(page.get_by_role("status")).to_have_text("The email address was removed.")
    expect(page.locator("li", has_text=first)).to_have_count(0)
    # The address that is left signs in.
    page.context.clear_cookies()
    page.goto(f"{site.url}/auth/sign-in")
    page.get_by_label("Email address", exact=True).fill(second)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/")


def test_saving_the_profile_with_htmx_breaks_no_csp_rule(browser: Browser, site: Site) -> None:
    page = new_page(browser, True)
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            problems.append(message.text)

    page.on("console", on_console)
    sign_up(page, site, "csp-profile@example.com")
    page.goto(f"{site.url}/auth/user")
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Your profile was saved.")
    page.get_by_label("First name").fill("Augusta Ada")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".ak-identity__name")).to_have_text("Augusta Ada Lovelace")
    page.goto(f"{site.url}/auth/user/security")
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.get_by_role("heading", name="Profile details")).to_be_visible()
    assert problems == []


def test_nothing_404s_and_the_address_stays_on_one_line(browser: Browser, site: Site) -> None:
    page = new_page(browser, True, viewport={"width": 1280, "height": 860})
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    email = LONG.format("menu")
    sign_up(page, site, email)
    for path in ("/auth/user", "/auth/user/security", "/header?side=right"):
        page.goto(site.url + path)
    page.get_by_label("Open user menu").click()
    shown = page.locator(".ak-user-button__menu .ak-identity__email")
    expect(shown).to_be_visible()
    # One line: as tall as its line height, never broken inside the address.
    one_line = shown.evaluate(
        "e => e.getBoundingClientRect().height <= parseFloat(getComputedStyle(e).lineHeight) + 1"
    )
    assert one_line
    expect(shown).to_have_attribute("title", email)
    page.goto(f"{site.url}/auth/user")
    profile_email = page.locator(".ak-identity__email")
    assert profile_email.evaluate(
        "e => e.getBoundingClientRect().height <= parseFloat(getComputedStyle(e).lineHeight) + 1"
    )
    assert missing == []


# Lines that the text of `email` inside the subtitle occupies (tops of its line boxes).
_ADDRESS_LINES = """(e, email) => {
  const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
  const tops = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(email);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + email.length);
    for (const rect of range.getClientRects()) tops.add(Math.round(rect.top));
  }
  return tops.size;
}"""


@JS
def test_a_hyphenated_address_in_a_subtitle_is_never_broken_at_a_hyphen(
    browser: Browser, site: Site, js: bool
) -> None:
    """At 375 px the address no longer fits after "Enter the 6-digit code sent to": it
    moves to the next line whole instead of ending a line at "ada-"."""
    email = f"ada-lovelace-{js}@example.org"
    page = new_page(browser, js, viewport={"width": 375, "height": 740})
    page.goto(f"{site.url}/auth/sign-up")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    subtitle = page.locator(".ak-card__subtitle")
    expect(subtitle).to_contain_text(email)
    assert subtitle.evaluate(_ADDRESS_LINES, email) == 1
    assert subtitle.evaluate("e => e.getClientRects()[0].height") > 30  # two lines in all


def test_navigation_is_tabs_wide_and_a_list_narrow_with_a_way_home(
    browser: Browser, site: Site
) -> None:
    page = new_page(browser, True, viewport={"width": 1280, "height": 860})
    sign_up(page, site, "nav@example.com")
    page.goto(f"{site.url}/auth/user")
    nav = page.get_by_role("navigation", name="Profile sections")
    assert nav.evaluate("e => getComputedStyle(e).flexDirection") == "row"
    expect(nav.get_by_role("link", name="Account")).to_have_attribute("aria-current", "page")
    nav.get_by_role("link", name="Security").click()
    expect(page).to_have_url(f"{site.url}/auth/user/security")
    page.set_viewport_size({"width": 375, "height": 780})
    assert nav.evaluate("e => getComputedStyle(e).flexDirection") == "column"
    page.get_by_role("link", name="Back to Acme").click()
    expect(page).to_have_url(f"{site.url}/")


def test_a_forced_dark_mode_reaches_embedded_components(
    browser: Browser, tmp_path: Path, mailbox: object
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    kit = AuthKit(
        secret_key=TEST_SECRET,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/dark.db",
        email_url="console://",
        base_url=url,
        auto_migrate=True,
        theme={"mode": "dark"},
    )
    _, stop = serve(make_host_app(kit), port=port)
    try:
        page = new_page(browser, True, color_scheme="light")
        page.goto(f"{url}/embedded")
        card = page.locator(".ak-card").first
        expect(card).to_be_visible()
        background = card.evaluate("e => getComputedStyle(e).backgroundColor")
        assert background == "rgb(21, 25, 35)", background  # the dark surface
        # The host page's own boxes keep their sizing: nothing of ours leaks onto them.
        sizing = page.locator("h1").evaluate("e => getComputedStyle(e).boxSizing")
        assert sizing == "content-box"
        fonts = {
            page.locator(".ak-component").first.evaluate("e => getComputedStyle(e).fontFamily"),
            page.locator(".ak-card").first.evaluate("e => getComputedStyle(e).fontFamily"),
        }
        assert len(fonts) == 1 and "system-ui" in next(iter(fonts))
    finally:
        stop()


def test_the_account_section_passes_axe(site: Site, shot: Shot) -> None:
    page = shot.page
    email = LONG.format(shot.label)
    sign_up(page, site, email)
    page.goto(f"{site.url}/auth/user")
    page.get_by_role("link", name="Add email address").click()
    page.get_by_label("Email address", exact=True).fill(f"pending-{shot.label}@example.org")
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_role("heading", name="Verify your email address")).to_be_visible()
    found = {"verify-email": shot.axe()}
    page.get_by_label("Verification code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".ak-field__error")).to_be_visible()
    found["verify-email-error"] = shot.axe()
    page.goto(f"{site.url}/auth/user")
    expect(page.get_by_text("Unverified")).to_be_visible()
    found["account"] = shot.axe()
    shot.save("profile-account")
    page.goto(f"{site.url}/auth/user/emails/add")
    page.get_by_label("Email address", exact=True).fill("not an address")
    page.get_by_role("button", name="Send code").click()
    expect(page.locator(".ak-field__error")).to_have_text("Enter a valid email address.")
    found["add-email-error"] = shot.axe()
    shot.save("profile-add-email-error")
    assert_no_horizontal_scroll(page)
    assert found == {name: [] for name in found}, found
