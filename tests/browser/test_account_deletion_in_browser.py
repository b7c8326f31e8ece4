"""Deleting the account from the Security section in Chromium, with JavaScript on and
off: a wrong phrase stays in its field beside the message, the right one (in any case)
deletes the account and lands on the sign-in page saying so, and the address signs up
again. The page and its error state pass axe-core at desktop, 375 px and dark
(screenshots in test-artifacts)."""

from __future__ import annotations

import time
from email.message import EmailMessage

import pytest
from playwright.sync_api import Browser, Page, expect

from ..conftest import Mailbox
from .conftest import Site
from .steps import DELETE_LABEL, PASSWORD, Shot, assert_no_horizontal_scroll, new_page, sign_up

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])


def _open_delete_page(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/auth/user/security")
    expect(page.get_by_role("heading", name="Delete account")).to_be_visible()
    page.get_by_role("link", name="Delete account").click()
    expect(page.get_by_role("heading", name="Delete account", level=1)).to_be_visible()


@JS
def test_delete_the_account_and_sign_up_again(browser: Browser, site: Site, js: bool) -> None:
    email = f"delete-{js}@example.com"
    page = new_page(browser, js)
    sign_up(page, site, email)
    _open_delete_page(page, site)
    page.get_by_label(DELETE_LABEL).fill("delete my account")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("Type “Delete account” exactly as shown.")).to_be_visible()
    expect(page.get_by_label(DELETE_LABEL)).to_have_value("delete my account")
    expect(page.get_by_label(DELETE_LABEL)).to_have_attribute("aria-invalid", "true")
    page.get_by_label(DELETE_LABEL).fill("delete account")
    page.get_by_role("button", name="Delete my account").click()
    expect(page).to_have_url(f"{site.url}/auth/sign-in?deleted=1")
    expect(page.get_by_role("status")).to_have_text("Your account was deleted.")
    assert not [c for c in page.context.cookies() if c["name"] in ("__session", "__refresh")]
    page.goto(f"{site.url}/auth/user")
    expect(page).to_have_url(f"{site.url}/auth/sign-in?redirect_url=%2Fauth%2Fuser")
    notice = _wait_for_notice(site, email)
    assert "was just deleted" in Mailbox.text_of(notice)
    # The same address signs up again: a new account.
    sent = len(site.mailbox.to(email))
    page.goto(f"{site.url}/auth/sign-up")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Verification code").fill(site.code_for(email, after=sent))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{site.url}/")


def _wait_for_notice(site: Site, email: str) -> EmailMessage:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for message in site.mailbox.to(email):
            if "account was deleted" in str(message["Subject"]):
                return message
        time.sleep(0.05)
    raise AssertionError(f"no notice reached {email}")


def test_the_delete_page_passes_axe(site: Site, shot: Shot) -> None:
    page = shot.page
    sign_up(page, site, f"delete-page-{shot.label}@example.com")
    page.goto(f"{site.url}/auth/user/security")
    delete_row = page.get_by_role("link", name="Delete account")
    expect(delete_row).to_be_visible()
    shot.save("security-delete-row")
    _open_delete_page(page, site)
    found = {"delete-account": shot.axe()}
    shot.save("delete-account")
    page.get_by_label(DELETE_LABEL).fill("keep it")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("Type “Delete account” exactly as shown.")).to_be_visible()
    found["delete-account-error"] = shot.axe()
    shot.save("delete-account-error")
    assert_no_horizontal_scroll(page)
    assert found == {name: [] for name in found}, found
