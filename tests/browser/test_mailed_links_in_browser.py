"""
The mailed links (password reset, magic sign-in link) in Chromium, in front of a live
uvicorn server that records every request line it receives. With JavaScript on, the page
a link lands on takes the token out of the fragment (and out of history) and posts it;
with JavaScript off, the reset link's page offers the code of the same mail in the
browser that asked for the reset (and asks any other browser for the pasted link), and
the sign-in link's page asks for the pasted link. No request line holds the token, no
page breaks the Content-Security-Policy, axe-core finds no violation, and the landing
pages without JavaScript are screenshotted to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect

from ..conftest import Mailbox, free_port, serve
from ..hostapp import make_host_app
from ..request_lines import RequestLines
from .conftest import Site, browser_kit
from .steps import axe_violations_as_served, sign_up

NEW_PASSWORD = "a brand new passphrase"


@dataclass
class Watched:
    """The live site, every request line it received, and every CSP complaint or page
    error the browser reported."""

    site: Site
    requests: RequestLines
    problems: list[str] = field(default_factory=list)

    def page(self, browser: Browser, *, js: bool) -> Page:
        page = browser.new_context(java_script_enabled=js).new_page()

        def on_console(message: ConsoleMessage) -> None:
            # Chromium reports a blocked script, style or eval as a console error.
            if "Content Security Policy" in message.text or "Refused to" in message.text:
                self.problems.append(f"{page.url}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: {error}"))
        return page


@pytest.fixture
def watched(tmp_path: Path, mailbox: Mailbox) -> Iterator[Watched]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    kit = browser_kit(tmp_path, mailbox, url)
    requests = RequestLines(make_host_app(kit))
    _, stop = serve(requests, port=port)
    yield Watched(Site(url, kit, mailbox), requests)
    stop()


def _axe_as_shown_without_javascript(browser: Browser, page: Page, axe_script: Path) -> list[str]:
    """axe-core cannot run where JavaScript is off: the page's exact markup is served
    again, at its own URL, to a page that runs no script of the site's."""
    html, url = page.content(), page.url
    context = browser.new_context()

    def serve_markup(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

    context.route(lambda u: u == url.split("#")[0], serve_markup)  # no fragment is sent
    context.route(re.compile(r"\.js(\?.*)?$"), lambda route: route.abort())
    replay = context.new_page()
    replay.goto(url)
    assert replay.inner_text("main") == page.inner_text("main"), "not the page shown"
    try:
        return axe_violations_as_served(replay, axe_script)
    finally:
        context.close()


def _sign_up(page: Page, site: Site, email: str) -> None:
    """Sign up (the pipeline tests' steps), then leave the browser signed out."""
    sign_up(page, site, email)
    page.context.clear_cookies()


def _ask_for_a_reset(page: Page, site: Site, email: str) -> tuple[str, str]:
    """Forgot password in `page`; returns the mailed link and its code."""
    page.goto(f"{site.url}/auth/forgot-password")
    sent = len(site.mailbox.to(email))
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Send reset code").click()
    expect(page.get_by_label("Verification code")).to_be_visible()
    return site.reset_link_for(email, after=sent), site.code_for(email, after=sent)


def _ask_for_a_sign_in_link(page: Page, site: Site, email: str) -> str:
    page.goto(f"{site.url}/auth/sign-in/methods")
    sent = len(site.mailbox.to(email))
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_text(f"We sent a sign-in link to {email}.")).to_be_visible()
    return site.link_for(email, after=sent)


def _sign_in(page: Page, site: Site, email: str, password: str) -> None:
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/")
    expect(page.locator("body")).to_contain_text('"is_signed_in":true')


def _token(link: str) -> str:
    return link.split("#token=", 1)[1]


def test_reset_by_the_mailed_link_with_javascript_on(
    browser: Browser, watched: Watched, axe_script: Path
) -> None:
    """A fresh browser opens the link: the page posts the token by itself, which is then
    in neither the address bar nor history, and the new password is set."""
    site = watched.site
    email = "reset-link-js@example.com"
    _sign_up(watched.page(browser, js=True), site, email)
    link, _ = _ask_for_a_reset(watched.page(browser, js=True), site, email)
    assert link.startswith(f"{site.url}/auth/reset-password?link=1#token=")

    page = watched.page(browser, js=True)
    page.goto(link)
    expect(page).to_have_url(f"{site.url}/auth/reset-password?link=1&redirect_url=%2F")
    expect(page.get_by_text(f"Choose a new password for {email}.")).to_be_visible()
    assert axe_violations_as_served(page, axe_script) == []
    # No history entry keeps the fragment (Chromium even replaces the landing's entry,
    # as the post starts before the page has finished loading).
    page.go_back()
    assert _token(link) not in page.url, page.url
    page.go_forward()
    expect(page.get_by_text(f"Choose a new password for {email}.")).to_be_visible()
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Reset password").click()
    expect(page).to_have_url(re.compile(r"/auth/sign-in\?reset=1"))
    _sign_in(page, site, email, NEW_PASSWORD)
    assert watched.requests.holding(_token(link)) == [], watched.requests.lines
    assert watched.problems == []


def test_reset_from_the_link_with_javascript_off_takes_the_code(
    browser: Browser, watched: Watched, axe_script: Path, screenshot_dir: Path
) -> None:
    """Without JavaScript the fragment stays unread: the browser that asked for the reset
    gets the code form and the code of the same mail sets the password; another browser
    is asked for the pasted link."""
    site = watched.site
    email = "reset-link-nojs@example.com"
    page = watched.page(browser, js=False)
    _sign_up(page, site, email)
    link, code = _ask_for_a_reset(page, site, email)

    elsewhere = watched.page(browser, js=False)
    elsewhere.goto(link)
    expect(elsewhere.get_by_role("heading", name="Set a new password")).to_be_visible()
    expect(elsewhere.get_by_label("Link from the email")).to_be_visible()
    expect(elsewhere.get_by_role("link", name="Ask for a new link")).to_be_visible()
    elsewhere.screenshot(path=screenshot_dir / "reset-link-landing-no-js.png", full_page=True)
    assert _axe_as_shown_without_javascript(browser, elsewhere, axe_script) == []

    page.goto(link)
    expect(
        page.get_by_text("Enter the code from the email and choose a new password.")
    ).to_be_visible()
    page.screenshot(path=screenshot_dir / "reset-link-code-no-js.png", full_page=True)
    assert _axe_as_shown_without_javascript(browser, page, axe_script) == []
    page.get_by_label("Verification code").fill(code)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Reset password").click()
    expect(page).to_have_url(re.compile(r"/auth/sign-in\?reset=1"))
    _sign_in(page, site, email, NEW_PASSWORD)
    assert watched.requests.holding(_token(link)) == [], watched.requests.lines
    assert watched.problems == []


def test_magic_link_with_javascript_on(
    browser: Browser, watched: Watched, axe_script: Path
) -> None:
    """The page posts the link's token by itself; the confirming button signs in."""
    site = watched.site
    email = "magic-js@example.com"
    page = watched.page(browser, js=True)
    _sign_up(page, site, email)
    link = _ask_for_a_sign_in_link(page, site, email)
    assert link.startswith(f"{site.url}/auth/sign-in/link#token=")
    page.goto(link)
    expect(page).to_have_url(f"{site.url}/auth/sign-in/link")
    expect(page.get_by_text(f"Continue as {email}.")).to_be_visible()
    assert axe_violations_as_served(page, axe_script) == []
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/")
    expect(page.locator("body")).to_contain_text('"is_signed_in":true')
    assert watched.requests.holding(_token(link)) == [], watched.requests.lines
    assert watched.problems == []


def test_magic_link_with_javascript_off_is_pasted_into_its_page(
    browser: Browser, watched: Watched, axe_script: Path, screenshot_dir: Path
) -> None:
    """The landing page says what to do, with a labelled field for the link and another
    way to sign in; the pasted link leads to the confirming button."""
    site = watched.site
    email = "magic-nojs@example.com"
    page = watched.page(browser, js=False)
    _sign_up(page, site, email)
    link = _ask_for_a_sign_in_link(page, site, email)
    page.goto(link)
    expect(page.get_by_role("heading", name="Open your sign-in link")).to_be_visible()
    expect(page.get_by_role("link", name="Use another method")).to_be_visible()
    page.screenshot(path=screenshot_dir / "email-link-landing-no-js.png", full_page=True)
    assert _axe_as_shown_without_javascript(browser, page, axe_script) == []
    page.get_by_label("Link from the email").fill("not the link")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#ak-email-link-link-error")).to_have_text(
        "Paste the whole link from the email."
    )
    page.screenshot(path=screenshot_dir / "email-link-landing-error-no-js.png", full_page=True)
    assert _axe_as_shown_without_javascript(browser, page, axe_script) == []
    page.get_by_label("Link from the email").fill(link)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/auth/sign-in/link")
    expect(page.get_by_text(f"Continue as {email}.")).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/")
    expect(page.locator("body")).to_contain_text('"is_signed_in":true')
    assert watched.requests.holding(_token(link)) == [], watched.requests.lines
    assert watched.problems == []
