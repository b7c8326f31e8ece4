"""Bot protection in Chromium: ALTCHA's real widget, served by the sub-app under its strict
Content-Security-Policy, solves the proof of work while the visitor types; a form sent
early waits for it; nothing leaves the site's origin. With JavaScript off the forms work
under tighter limits. The sign-up page and the sign-in page that asks for the proof pass
axe-core at desktop, 375 px and dark (screenshots in test-artifacts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, expect

from ..conftest import Mailbox, free_port, serve
from ..hostapp import make_host_app
from .conftest import Site, browser_kit
from .steps import PASSWORD, Shot, assert_no_horizontal_scroll, new_page, sign_up

WRONG = "not the password at all"


@pytest.fixture
def guarded(tmp_path: Path, mailbox: Mailbox) -> Iterator[Site]:
    """A site with bot protection on, and one sign-up a minute without the proof."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    kit = browser_kit(
        tmp_path,
        mailbox,
        url,
        bot_protection=True,
        rate_limits={"sign_up_unproven:ip": "1/minute"},
    )
    _, stop = serve(make_host_app(kit), port=port)
    yield Site(url, kit, mailbox)
    stop()


def watch(page: Page) -> tuple[list[str], list[str]]:
    """Every URL the page asks for, and every console error (CSP refusals among them)."""
    asked: list[str] = []
    errors: list[str] = []
    page.context.on("request", lambda request: asked.append(request.url))

    def note(message: ConsoleMessage) -> None:
        # The browser asks every page for /favicon.ico, which the test host has not got.
        where = message.location.get("url", "")
        if message.type == "error" and not where.endswith("/favicon.ico"):
            errors.append(f"{message.text} ({where})")

    page.on("console", note)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return asked, errors


def sign_up_posts(page: Page) -> list[str]:
    """The bodies of the sign-up form's POSTs from `page`, as they are sent."""
    posted: list[str] = []

    def note(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/auth/sign-up"):
            posted.append(request.post_data or "")

    page.on("request", note)
    return posted


def wait_for_proof(page: Page) -> str:
    """The widget's answer once it has one (the hidden field the form posts)."""
    page.wait_for_function(
        "() => { const w = document.querySelector('altcha-widget');"
        " return w && w.getState && w.getState() === 'verified' }",
        timeout=20_000,
    )
    return page.locator("altcha-widget input[type=hidden][name=altcha]").input_value()


def fail_to_sign_in(page: Page, site: Site, email: str, times: int) -> None:
    page.goto(f"{site.url}/auth/sign-in")
    for _ in range(times):
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password", exact=True).fill(WRONG)
        page.get_by_role("button", name="Continue", exact=True).click()
        expect(page.get_by_text("The email or password is incorrect.")).to_be_visible()


def test_the_widget_proves_each_sign_up_and_nothing_leaves_the_site(
    browser: Browser, guarded: Site
) -> None:
    # JavaScript off first: it takes the one sign-up a minute allowed without the proof.
    quiet = new_page(browser, js=False)
    sign_up(quiet, guarded, "nojs@example.com")
    # Two more, with the real widget: both pass, so the server judged both proofs good.
    for n in range(2):
        page = new_page(browser)
        asked, errors = watch(page)
        posted = sign_up_posts(page)
        # Sent at once, before the widget can have finished: the form waits for it.
        sign_up(page, guarded, f"person{n}@example.com")
        assert len(posted) == 1 and "altcha=ey" in posted[0], posted
        assert all(url.startswith(guarded.url) for url in asked), asked
        assert any("/auth/bot-check/challenge?for=sign_up" in url for url in asked), asked
        assert any(url.endswith("/altcha/pbkdf2.js") for url in asked), asked
        assert errors == []
    # JavaScript off again: past the tighter limit, a 429 that keeps what was typed.
    quiet = new_page(browser, js=False)
    quiet.goto(f"{guarded.url}/auth/sign-up")
    quiet.get_by_label("Email address").fill("second-nojs@example.com")
    quiet.get_by_label("Password", exact=True).fill(PASSWORD)
    quiet.get_by_role("button", name="Continue", exact=True).click()
    expect(quiet.get_by_role("alert")).to_contain_text("Too many attempts")
    expect(quiet.get_by_label("Email address")).to_have_value("second-nojs@example.com")


def test_sign_in_asks_for_the_proof_after_failures(browser: Browser, guarded: Site) -> None:
    sign_up(new_page(browser), guarded, "ada@example.com")
    page = new_page(browser)
    asked, errors = watch(page)
    fail_to_sign_in(page, guarded, "ada@example.com", 3)
    # The third failure's page carries the widget; it solves while the password is typed.
    proof = wait_for_proof(page)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page).to_have_url(f"{guarded.url}/")
    assert proof.startswith("ey")
    # The failures' own 422s are the only complaints.
    assert [e for e in errors if "status of 422" not in e] == [], (errors, asked)
    assert any("/auth/bot-check/challenge?for=sign_in" in url for url in asked), asked

    # JavaScript off, after failures: the form still signs the owner in.
    quiet = new_page(browser, js=False)
    fail_to_sign_in(quiet, guarded, "ada@example.com", 1)
    quiet.get_by_label("Password", exact=True).fill(PASSWORD)
    quiet.get_by_role("button", name="Continue", exact=True).click()
    expect(quiet).to_have_url(f"{guarded.url}/")


def test_the_protected_forms_pass_axe_and_look_right(guarded: Site, shot: Shot) -> None:
    page = shot.page
    page.goto(f"{guarded.url}/auth/sign-up")
    wait_for_proof(page)
    # The honeypot is out of sight: nobody tabs into it, no screen reader names it.
    box = page.locator("input[name=website]").bounding_box()
    assert box is not None and box["x"] < 0
    found = {"sign-up": shot.axe()}
    assert_no_horizontal_scroll(page)
    shot.save("sign-up-bot-check")
    fail_to_sign_in(page, guarded, "someone@example.com", 3)
    wait_for_proof(page)
    found["sign-in"] = shot.axe()
    assert_no_horizontal_scroll(page)
    shot.save("sign-in-bot-check")
    assert found == {"sign-up": [], "sign-in": []}


def test_an_embedded_sign_up_carries_its_proof(browser: Browser, guarded: Site) -> None:
    """The SignUp component in a host page (next to two SignIns) loads the widget through
    `authkit.head()` and posts its proof with the form, swapping the code step in place."""
    page = new_page(browser)
    asked, errors = watch(page)
    posted = sign_up_posts(page)
    page.goto(f"{guarded.url}/both")
    # Only the sign-up asks (no failed sign-ins yet): one widget on the page.
    expect(page.locator("altcha-widget")).to_have_count(1)
    form = page.locator("form[action='/auth/sign-up']")
    form.get_by_label("Email address").fill("embedded@example.com")
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_role("button", name="Continue", exact=True).click()
    expect(page.get_by_label("Verification code")).to_be_visible()
    expect(page).to_have_url(f"{guarded.url}/both")
    assert len(posted) == 1 and "altcha=ey" in posted[0], posted
    assert all(url.startswith(guarded.url) for url in asked), asked
    assert errors == []
