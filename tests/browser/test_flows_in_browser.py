"""Every first flow in a real browser, with JavaScript on and off: sign up with the
emailed code, reach a protected page, edit the profile, sign out, sign in again."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import Site
from .steps import PASSWORD, assert_no_horizontal_scroll, new_page


def _sign_up(page: Page, site: Site, email: str) -> None:
    page.goto(f"{site.url}/auth/sign-up")
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Verify your email")).to_be_visible()
    page.get_by_label("Verification code").fill(site.code_for(email))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{site.url}/")


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_sign_up_then_protected_page_then_sign_out_and_back(
    browser: Browser, site: Site, js: bool
) -> None:
    """The whole first path works as plain forms, with and without JavaScript."""
    page = new_page(browser, js)
    page.goto(f"{site.url}/dashboard")
    expect(page).to_have_url(f"{site.url}/auth/sign-in?redirect_url=%2Fdashboard")
    page.get_by_role("link", name="Sign up").click()
    email = f"ada-{'js' if js else 'nojs'}@example.com"
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Verification code").fill(site.code_for(email))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{site.url}/dashboard")
    expect(page.locator("body")).to_contain_text(f"Hello {email}")

    page.goto(f"{site.url}/auth/user")
    expect(page.locator("#ak-user-profile-email")).to_have_text(email)
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Your profile was saved.")
    expect(page.get_by_label("Last name")).to_have_value("Lovelace")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{site.url}/")
    page.goto(f"{site.url}/dashboard")
    page.get_by_label("Email address").fill(email.upper())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/dashboard")


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_wrong_input_keeps_the_email_and_shows_the_message_beside_the_field(
    browser: Browser, site: Site, js: bool
) -> None:
    """Errors appear next to their field, the email stays, the password never comes back."""
    page = new_page(browser, js)
    page.goto(f"{site.url}/auth/sign-in")
    page.get_by_label("Email address").fill("nobody@example.com")
    page.get_by_label("Password").fill("wrong password here")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#ak-sign-in-password-error")).to_have_text(
        "The email or password is incorrect."
    )
    expect(page.get_by_label("Email address")).to_have_value("nobody@example.com")
    expect(page.get_by_label("Password")).to_have_value("")

    page.goto(f"{site.url}/auth/sign-up")
    page.get_by_label("Email address").fill("grace@example.com")
    page.get_by_label("Password").fill("manchesterunited")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#ak-sign-up-password-error")).to_contain_text("too easy to guess")
    expect(page.get_by_label("Email address")).to_have_value("grace@example.com")
    expect(page.get_by_label("Password")).to_have_value("")

    page.get_by_label("Email address").fill("not-an-email")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#ak-sign-up-email-error")).to_have_text("Enter a valid email address.")
    expect(page.get_by_label("Email address")).to_have_value("not-an-email")


def test_wrong_code_is_refused_beside_the_field(browser: Browser, site: Site) -> None:
    """A wrong code says so next to the code field and the right one still works."""
    page = new_page(browser, True)
    email = "code@example.com"
    page.goto(f"{site.url}/auth/sign-up")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    right = site.code_for(email)
    wrong = "000000" if right != "000000" else "111111"
    page.get_by_label("Verification code").fill(wrong)
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#ak-verify-code-code-error")).to_contain_text("That code is incorrect")
    page.get_by_label("Verification code").fill(right)
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{site.url}/")


@pytest.mark.parametrize(
    ("label", "options"),
    [
        ("desktop", {"viewport": {"width": 1280, "height": 800}}),
        ("mobile", {"viewport": {"width": 375, "height": 740}, "device_scale_factor": 2}),
        ("dark", {"viewport": {"width": 1280, "height": 800}, "color_scheme": "dark"}),
    ],
)
def test_pages_render_for_screenshots(
    browser: Browser, site: Site, screenshot_dir: Path, label: str, options: dict[str, object]
) -> None:
    """Each page renders without horizontal scroll; screenshots go to test-artifacts/."""
    page = new_page(browser, True, **options)

    def shoot(name: str) -> None:
        assert_no_horizontal_scroll(page)
        page.screenshot(path=screenshot_dir / f"{name}-{label}.png", full_page=True)

    for name in ("sign-in", "sign-up", "forgot-password"):
        page.goto(f"{site.url}/auth/{name}")
        shoot(name)
    page.get_by_label("Email address").fill("someone@example.com")
    page.get_by_role("button").last.click()
    expect(page.get_by_label("Confirm new password")).to_be_visible()
    shoot("reset-password")
    page.goto(f"{site.url}/auth/sign-in")
    page.get_by_label("Email address").fill("someone@example.com")
    page.get_by_label("Password", exact=True).fill("wrong password")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#ak-sign-in-password-error")).to_be_visible()
    shoot("sign-in-error")
    email = f"shot-{label}@example.com"
    page.goto(f"{site.url}/auth/sign-up")
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).press_sequentially("a perfectly fine")
    expect(page.locator(".ak-guidance__item--met").first).to_be_visible()
    shoot("sign-up-guidance")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_label("Verification code")).to_be_visible()
    shoot("verify-code")
    page.get_by_label("Verification code").fill(site.code_for(email))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{site.url}/")
    page.goto(f"{site.url}/auth/user")
    shoot("user")


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_embedded_sign_in_comes_back_to_the_host_page(
    browser: Browser, site: Site, js: bool
) -> None:
    """SignIn in a host page: errors in place with htmx, the sub-app page without; then back."""
    email = f"embedded-in-{'js' if js else 'nojs'}@example.com"
    page = new_page(browser, js)
    _sign_up(page, site, email)
    page.context.clear_cookies()
    page.goto(f"{site.url}/embedded")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill("not my password")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#ak-sign-in-password-error")).to_be_visible()
    # With htmx the error swaps into the host page; without, the sub-app page shows it.
    expect(page).to_have_url(f"{site.url}/embedded" if js else f"{site.url}/auth/sign-in")
    expect(page.get_by_label("Email address")).to_have_value(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/embedded")
    expect(page.locator("#hello")).to_have_text(f"Hello {email}")
