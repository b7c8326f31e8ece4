"""The password reset in a real browser, with JavaScript on and off: sign up, sign out,
"Forgot password?", the emailed code, a new password, sign in with it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import Site
from .steps import PASSWORD, new_page

NEW_PASSWORD = "a brand new passphrase"


def _sign_up(page: Page, site: Site, email: str) -> None:
    page.goto(f"{site.url}/auth/sign-up")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Verification code").fill(site.code_for(email))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{site.url}/")


def _sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Continue").click()


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_forgot_password_by_code_then_sign_in_with_the_new_one(
    browser: Browser, site: Site, js: bool
) -> None:
    """The whole reset works as plain forms, with and without JavaScript."""
    page = new_page(browser, js)
    email = f"reset-{'js' if js else 'nojs'}@example.com"
    _sign_up(page, site, email)
    page.goto(f"{site.url}/auth/user")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{site.url}/")

    page.goto(f"{site.url}/auth/sign-in")
    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    sent = len(site.mailbox.to(email))
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Send reset code").click()
    notice = f"If an account exists for {email}, we sent a 6-digit code and a link."
    expect(page.get_by_role("status")).to_have_text(notice)
    page.get_by_label("Verification code").fill(site.code_for(email, after=sent))
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill("not the same passphrase")
    page.get_by_role("button", name="Reset password").click()
    expect(page.locator("#ak-reset-password-password_confirm-error")).to_have_text(
        "The passwords do not match."
    )
    expect(page.get_by_label("New password", exact=True)).to_have_value("")

    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Reset password").click()
    expect(page).to_have_url(re.compile(r"/auth/sign-in\?reset=1"))
    expect(page.get_by_role("status")).to_have_text(
        "Your password was changed. Sign in with your new password."
    )
    _sign_in(page, email, PASSWORD)
    expect(page.locator("#ak-sign-in-password-error")).to_have_text(
        "The email or password is incorrect."
    )
    _sign_in(page, email, NEW_PASSWORD)
    expect(page).to_have_url(f"{site.url}/")
    expect(page.locator("body")).to_contain_text('"is_signed_in":true')


def _open_link(page: Page, link: str, js: bool) -> None:
    """Open a mailed link as its reader would: with JavaScript the page posts the token
    from the fragment by itself; without, the page asks for the link, which is pasted."""
    page.goto(link)
    if not js:
        page.get_by_label("Link from the email").fill(link)
        page.get_by_role("button", name="Continue").click()


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_mailed_link_sets_the_password_in_a_fresh_browser(
    browser: Browser, site: Site, js: bool
) -> None:
    """The link works in a browser that never saw the first step, and only once."""
    email = f"link-{'js' if js else 'nojs'}@example.com"
    _sign_up(new_page(browser, js), site, email)
    asking = new_page(browser, js)
    asking.goto(f"{site.url}/auth/forgot-password")
    sent = len(site.mailbox.to(email))
    asking.get_by_label("Email address").fill(email)
    asking.get_by_role("button", name="Send reset code").click()
    link = site.reset_link_for(email, after=sent)
    assert link.startswith(f"{site.url}/auth/reset-password?link=1#token=")

    page = new_page(browser, js)
    _open_link(page, link, js)
    expect(page).to_have_url(re.compile(r"/auth/reset-password\?link=1&redirect_url="))
    expect(page.get_by_label("Verification code")).to_have_count(0)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Reset password").click()
    expect(page).to_have_url(re.compile(r"/auth/sign-in\?reset=1"))
    _sign_in(page, email, NEW_PASSWORD)
    expect(page).to_have_url(f"{site.url}/")

    _open_link(page, link, js)
    expect(page.get_by_role("alert")).to_have_text("This link has expired or was already used.")
    expect(page.get_by_role("link", name="Ask for a new link")).to_be_visible()
