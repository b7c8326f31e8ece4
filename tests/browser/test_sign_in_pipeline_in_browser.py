"""The sign-in pipeline in Chromium, with JavaScript on and off: a code by email, a
magic link, setting up an authenticator app, the second step with the app and with a
recovery code, and "Confirm it's you"; axe-core on every new page, and screenshots at
desktop, 375 px and dark."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from .conftest import Site
from .steps import PASSWORD, Shot, new_page, next_code, password_step, set_up_app, sign_up

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])


@JS
def test_sign_in_with_a_code_by_email(browser: Browser, site: Site, js: bool) -> None:
    """Use another method → Email me a code → the code → signed in, where we were going."""
    email = f"code-{js}@example.com"
    page = new_page(browser, js)
    sign_up(page, site, email)
    page.context.clear_cookies()
    page.goto(f"{site.url}/dashboard")
    page.get_by_role("link", name="Use another method").click()
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a code").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    page.get_by_label("Verification code").fill("000000")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#ak-factor-code-error")).to_contain_text("That code is incorrect")
    page.get_by_label("Verification code").fill(site.code_for(email, after=1))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/dashboard")


@JS
def test_sign_in_with_a_magic_link(browser: Browser, site: Site, js: bool) -> None:
    """Email me a sign-in link → open it in this browser (without JavaScript the page
    asks for the link, which is pasted) → Continue → signed in."""
    email = f"link-{js}@example.com"
    page = new_page(browser, js)
    sign_up(page, site, email)
    page.context.clear_cookies()
    page.goto(f"{site.url}/auth/sign-in/methods")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_text(f"We sent a sign-in link to {email}.")).to_be_visible()
    link = site.link_for(email, after=1)
    page.goto(link)
    if not js:
        page.get_by_label("Link from the email").fill(link)
        page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/auth/sign-in/link")  # the token left the URL
    expect(page.get_by_text(f"Continue as {email}.")).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/")
    expect(page.locator("body")).to_contain_text('"is_signed_in":true')


def test_magic_link_opened_in_another_tab_signs_in_the_waiting_tab(
    browser: Browser, site: Site
) -> None:
    """With htmx, the "check your email" tab follows once the link is used in another."""
    email = "two-tabs@example.com"
    page = new_page(browser, True)
    sign_up(page, site, email)
    page.context.clear_cookies()
    page.goto(f"{site.url}/auth/sign-in/methods?redirect_url=%2Fdashboard")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_text("We sent a sign-in link")).to_be_visible()
    other = page.context.new_page()
    other.goto(site.link_for(email, after=1))
    other.get_by_role("button", name="Continue").click()
    expect(other).to_have_url(f"{site.url}/dashboard")
    expect(page).to_have_url(f"{site.url}/dashboard", timeout=10_000)


@JS
def test_authenticator_app_then_sign_in_with_it_and_with_a_recovery_code(
    browser: Browser, site: Site, js: bool
) -> None:
    """Set up from the security page; sign in with the app's code; then with a recovery
    code, which works once."""
    email = f"totp-{js}@example.com"
    page = new_page(browser, js)
    sign_up(page, site, email)
    secret, codes = set_up_app(page, site)
    page.get_by_role("link", name="Account", exact=True).click()
    page.get_by_role("button", name="Sign out").click()

    password_step(page, site, email)
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    page.get_by_label("Authentication code").fill(next_code(secret))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/")
    page.context.clear_cookies()

    password_step(page, site, email)
    page.get_by_role("link", name="Use a recovery code").click()
    page.get_by_role("textbox", name="Recovery code").fill(codes[0].upper())
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/")
    page.goto(f"{site.url}/auth/user/security")
    expect(page.get_by_text("9 of 10 codes left.")).to_be_visible()


@JS
def test_confirm_its_you_before_turning_two_step_off(
    browser: Browser, site: Site, js: bool
) -> None:
    """With an old sign-in, turning two-step verification off asks for the password and
    the app's code first, then carries on to the confirmation."""
    email = f"reverify-{js}@example.com"
    page = new_page(browser, js)
    sign_up(page, site, email)
    secret, _ = set_up_app(page, site)
    # Age this session's factors beyond the window, as ten minutes would.
    site.age_session_factors(seconds=3600)
    page.goto(f"{site.url}/auth/user/security")
    page.get_by_role("link", name="Turn off").click()
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Authentication code").fill(next_code(secret))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Turn off two-step verification?")).to_be_visible()
    page.get_by_role("button", name="Turn off").click()
    expect(page.get_by_role("status")).to_have_text("Two-step verification is off.")


def test_new_pages_pass_axe_and_render_for_screenshots(site: Site, shot: Shot) -> None:
    """Every page of the pipeline: no axe-core violation, no horizontal scroll, and a
    screenshot in test-artifacts/screenshots/."""
    page = shot.page
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], (name, widths)
        found[name] = shot.axe()
        shot.save(name)

    email = f"pages-{shot.label}@example.com"
    sign_up(page, site, email)
    page.goto(f"{site.url}/auth/user/security")
    check("security")
    page.get_by_role("link", name="Set up").click()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    check("totp-setup")
    secret = page.locator(".ak-secret code").inner_text().replace(" ", "")
    page.get_by_label("Authentication code").fill(next_code(secret, 0))
    page.get_by_role("button", name="Verify and turn on").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    check("recovery-codes")
    page.goto(f"{site.url}/auth/user/security")
    check("security-on")
    page.goto(f"{site.url}/auth/user/security/recovery-codes")
    check("confirm-action")
    page.goto(f"{site.url}/auth/reverify?redirect_url=%2Fauth%2Fuser%2Fsecurity")
    check("reverify")
    page.context.clear_cookies()
    password_step(page, site, email)
    expect(page.get_by_label("Authentication code")).to_be_visible()
    check("second-factor")
    page.get_by_label("Authentication code").fill("123")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#ak-factor-code-error")).to_be_visible()
    check("second-factor-error")
    page.get_by_role("link", name="Use a recovery code").click()
    check("recovery-code-step")
    page.context.clear_cookies()
    page.goto(f"{site.url}/auth/sign-in/methods")
    check("sign-in-methods")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a code").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    check("email-code")
    page.goto(f"{site.url}/auth/sign-in/methods")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_text("We sent a sign-in link")).to_be_visible()
    check("email-link-sent")
    # Where the link lands when the page cannot read it (no JavaScript, or no fragment).
    page.goto(f"{site.url}/auth/sign-in/link")
    expect(page.get_by_label("Link from the email")).to_be_visible()
    check("email-link-landing")
    page.goto(f"{site.url}/auth/reset-password?link=1")
    expect(page.get_by_label("Link from the email")).to_be_visible()
    check("reset-link-landing")
    page.goto(site.link_for(email, after=2))
    expect(page.get_by_role("button", name="Continue")).to_be_visible()
    check("email-link-confirm")
    assert {name: v for name, v in found.items() if v} == {}
