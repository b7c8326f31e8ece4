"""The components embedded in a host's own pages (the example site), with JavaScript on
(htmx swaps each step in place) and off (plain posts through the sub-app's pages), the
UserButton menu, and axe-core on every page in light and dark mode."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import Site
from .steps import PASSWORD, axe_violations, new_page, sign_up


def _embedded_sign_up(page: Page, demo: Site, email: str, js: bool) -> None:
    page.goto(f"{demo.url}/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Verify your email")).to_be_visible()
    # htmx swaps the code step into the host page; without JS it is the sub-app's page.
    expect(page).to_have_url(
        f"{demo.url}/" if js else f"{demo.url}/auth/sign-up/verify?redirect_url=%2Fnotes"
    )
    page.get_by_label("Verification code").fill(demo.code_for(email))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{demo.url}/notes")


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_embedded_sign_up_then_user_button_sign_out(browser: Browser, demo: Site, js: bool) -> None:
    """Sign up from the host's home page, then sign out from the UserButton menu."""
    page = new_page(browser, js)
    email = f"embed-{'js' if js else 'nojs'}@example.com"
    _embedded_sign_up(page, demo, email, js)
    expect(page.get_by_role("heading", name="My notes")).to_be_visible()

    # With JavaScript the menu is a WAI-ARIA menu (test_user_button_menu.py); without, a
    # <details> holding a link and a button.
    page.get_by_label("Open user menu").click()
    expect(page.get_by_text(email).first).to_be_visible()
    page.get_by_role("menuitem" if js else "link", name="Manage account").click()
    expect(page).to_have_url(f"{demo.url}/auth/user")
    page.go_back()
    page.get_by_label("Open user menu").click()
    page.get_by_role("menuitem" if js else "button", name="Sign out").click()
    expect(page).to_have_url(f"{demo.url}/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Sign in")).to_be_visible()


def test_embedded_errors_swap_in_place_with_input_kept(browser: Browser, demo: Site) -> None:
    """With htmx a wrong input re-renders only the component, in place, email kept."""
    page = new_page(browser)
    page.goto(f"{demo.url}/")
    page.get_by_label("Email address").fill("someone@example.com")
    page.get_by_label("Password").fill("manchesterunited")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#ak-sign-up-password-error")).to_contain_text("too easy to guess")
    expect(page).to_have_url(f"{demo.url}/")
    expect(page.get_by_role("heading", name="Notes that stay yours")).to_be_visible()
    expect(page.get_by_label("Email address")).to_have_value("someone@example.com")
    expect(page.get_by_label("Password")).to_be_focused()


def test_show_password_toggle(browser: Browser, demo: Site) -> None:
    """With JavaScript, the Show button reveals the password and hides it again."""
    page = new_page(browser)
    page.goto(f"{demo.url}/auth/sign-in")
    field = page.get_by_label("Password", exact=True)
    field.fill("secret words here")
    page.get_by_role("button", name="Show").click()
    expect(field).to_have_attribute("type", "text")
    page.get_by_role("button", name="Hide").click()
    expect(field).to_have_attribute("type", "password")


def test_no_toggle_without_javascript(browser: Browser, demo: Site) -> None:
    """Without JavaScript no dead Show button is displayed."""
    page = new_page(browser, js=False)
    page.goto(f"{demo.url}/auth/sign-in")
    expect(page.get_by_role("button", name="Show")).to_have_count(0)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe(browser: Browser, demo: Site, axe_script: Path, scheme: str) -> None:
    """axe-core finds no violation on any page, in light and in dark mode."""
    page = new_page(browser, bypass_csp=True, color_scheme=scheme)
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        found[name] = axe_violations(page, axe_script)

    for path in ("/", "/auth/sign-in", "/auth/sign-up", "/auth/forgot-password"):
        page.goto(demo.url + path)
        check(path)
    page.get_by_label("Email address").fill("anyone@example.com")
    page.get_by_role("button", name=re.compile("code|Continue|Send", re.I)).first.click()
    expect(page.get_by_label("Confirm new password")).to_be_visible()
    check("reset password")
    page.goto(f"{demo.url}/auth/sign-in")
    page.get_by_label("Email address").fill("nobody@example.com")
    page.get_by_label("Password", exact=True).fill("wrong password")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#ak-sign-in-password-error")).to_be_visible()
    check("sign-in with error")

    email = f"axe-{scheme}@example.com"
    page.goto(f"{demo.url}/auth/sign-up")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_label("Verification code")).to_be_visible()
    check("verify code")
    page.get_by_label("Verification code").fill(demo.code_for(email))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{demo.url}/")
    for path in ("/notes", "/account", "/greetings", "/auth/user"):
        page.goto(demo.url + path)
        check(path)
    page.goto(f"{demo.url}/notes")
    page.get_by_label("Open user menu").click()
    check("user menu open")
    assert {name: v for name, v in found.items() if v} == {}


@pytest.mark.parametrize(
    ("label", "options"),
    [
        ("desktop", {"viewport": {"width": 1280, "height": 800}}),
        ("mobile", {"viewport": {"width": 375, "height": 740}, "device_scale_factor": 2}),
        ("dark", {"viewport": {"width": 1280, "height": 800}, "color_scheme": "dark"}),
    ],
)
def test_host_pages_render_for_screenshots(
    browser: Browser, demo: Site, screenshot_dir: Path, label: str, options: dict[str, object]
) -> None:
    """The example site with embedded components, the UserButton menu open."""
    page = new_page(browser, True, **options)
    page.goto(f"{demo.url}/")
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths
    page.screenshot(path=screenshot_dir / f"host-home-{label}.png", full_page=True)
    _embedded_sign_up(page, demo, f"host-{label}@example.com", js=True)
    page.get_by_label("Open user menu").click()
    expect(page.get_by_role("menuitem", name="Manage account")).to_be_focused()
    page.screenshot(path=screenshot_dir / f"host-user-button-{label}.png", full_page=True)


def test_the_demo_hands_a_template_token_to_a_third_party(browser: Browser, demo: Site) -> None:
    """Jotter's greetings page: a `greetings` token from /auth/tokens, verified by the
    stand-in service through authkit's JWKS over HTTP."""
    page = new_page(browser)
    sign_up(page, demo, "ada@example.com")
    page.get_by_role("link", name="Greetings").click()
    # The button's handler comes from a deferred script: a click before it ran did
    # nothing at all (seen once under CI load as an empty result).
    page.wait_for_load_state("domcontentloaded")
    page.get_by_role("button", name="Call the greeting service").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Hello, ada@example.com! Your plan: free. (token valid for"
    )


def test_the_demo_has_teams(browser: Browser, demo: Site) -> None:
    """`authkit demo` turns organizations on: "Teams" in Jotter's menu creates one and
    makes it the active one."""
    page = new_page(browser)
    sign_up(page, demo, "grace@example.com")
    page.get_by_role("link", name="Teams").click()
    expect(page.get_by_role("heading", name="Organizations")).to_be_visible()
    page.get_by_role("link", name="Create organization").click()
    page.get_by_label("Name").fill("Jotter Club")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("status")).to_have_text("Organization created.")
    page.get_by_role("link", name="Back to your organizations").click()
    expect(page.get_by_text("Active")).to_have_count(1)
    expect(page.get_by_role("button", name="Switch to Personal account")).to_be_visible()
