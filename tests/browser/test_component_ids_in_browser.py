"""Defects a new user found (issue 12): a SignIn and a SignUp on one page each keep their
own ids (a label focuses its own field, Show unmasks its own password); a field's message
goes once its value changes; the resend-code button works without JavaScript and waits
out the countdown with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from authkit import AuthKit

from ..conftest import TEST_SECRET, FakeClock, Mailbox, free_port, serve
from ..hostapp import make_host_app
from .conftest import Site
from .steps import PASSWORD, new_page


def test_each_form_on_a_shared_page_keeps_its_own_fields(
    browser: Browser, site: Site, axe_script: Path
) -> None:
    """On a host page with SignIn, SignUp and a second SignIn, the sign-in form's "Email
    address" label focuses the sign-in field, and its Show unmasks only its password."""
    page = new_page(browser, bypass_csp=True)
    page.goto(f"{site.url}/both")
    components = page.locator(".ak-component")
    sign_in, sign_up, second = components.nth(0), components.nth(1), components.nth(2)
    sign_in.get_by_text("Email address").click()
    expect(sign_in.get_by_role("textbox", name="Email address")).to_be_focused()
    sign_up.get_by_text("Email address").click()
    expect(sign_up.get_by_role("textbox", name="Email address")).to_be_focused()

    passwords = page.locator("input[name=password]")
    expect(passwords).to_have_count(3)
    for i in range(3):
        passwords.nth(i).fill("secret words here")
    sign_in.get_by_role("button", name="Show").click()
    expect(sign_in.get_by_label("Password", exact=True)).to_have_attribute("type", "text")
    expect(sign_up.get_by_label("Password", exact=True)).to_have_attribute("type", "password")
    expect(second.get_by_label("Password", exact=True)).to_have_attribute("type", "password")
    second.get_by_role("button", name="Show").click()
    expect(second.get_by_label("Password", exact=True)).to_have_attribute("type", "text")

    # The same SignIn twice is two landmarks with one name (axe's landmark-unique): that
    # is this test page's doing, not the components'.
    page.add_script_tag(path=str(axe_script))
    found = page.evaluate(
        "axe.run(document, {resultTypes: ['violations'], rules: {'landmark-unique': "
        "{enabled: false}}}).then(r => r.violations.map("
        "v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"
    )
    assert found == []


def test_a_fields_message_goes_once_its_value_changes(browser: Browser, site: Site) -> None:
    """After a refused submit the red message and aria-invalid leave the password field as
    soon as a new password is typed; the live guidance is then the only word on it."""
    page = new_page(browser)
    page.goto(f"{site.url}/auth/sign-up")
    page.get_by_label("Email address").fill("fresh@example.com")
    field = page.get_by_label("Password", exact=True)
    field.fill("too short")
    page.get_by_role("button", name="Continue").click()
    error = page.locator(".ak-field__error")
    expect(error).to_have_text("Use at least 15 characters.")
    expect(field).to_have_attribute("aria-invalid", "true")
    error_id = error.get_attribute("id")
    expect(field).to_have_attribute("aria-describedby", str(error_id))

    field.press_sequentially(PASSWORD)
    expect(error).to_have_count(0)
    expect(page.get_by_text("Use at least 15 characters.")).to_have_count(0)
    expect(field).not_to_have_attribute("aria-invalid", "true")
    expect(field).not_to_have_attribute("aria-describedby", str(error_id))
    guidance = page.locator(".ak-guidance")
    expect(guidance.locator(".ak-guidance__item--met").first).to_contain_text("At least 15")
    # The other field, untouched, keeps its own state.
    expect(page.get_by_label("Email address")).to_have_value("fresh@example.com")


@pytest.fixture
def clocked(tmp_path: Path, mailbox: Mailbox) -> Iterator[tuple[Site, FakeClock]]:
    """The host app on a clock the test moves (the resend cooldown)."""
    clock = FakeClock()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    kit = AuthKit(
        secret_key=TEST_SECRET,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/clocked.db",
        email_url=f"smtp://127.0.0.1:{mailbox.port}",
        base_url=url,
        password_hash_profile="CHEAPEST",
        auto_migrate=True,
        clock=clock,
    )
    _, stop = serve(make_host_app(kit), port=port)
    yield Site(url, kit, mailbox), clock
    stop()


def _start_sign_up(page: Page, site: Site, email: str) -> None:
    page.goto(f"{site.url}/auth/sign-up")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Verify your email")).to_be_visible()
    site.code_for(email)


def test_resend_works_without_javascript(browser: Browser, clocked: tuple[Site, FakeClock]) -> None:
    """With JavaScript off the button can be pressed: too early the server says how long
    to wait, after the cooldown a new code is mailed."""
    site, clock = clocked
    page = new_page(browser, js=False)
    email = "nojs-resend@example.com"
    _start_sign_up(page, site, email)
    resend = page.get_by_role("button", name="Send a new code")
    expect(resend).to_be_enabled()
    resend.click()
    expect(page.get_by_text("Wait 30 seconds before asking for another code.")).to_be_visible()
    clock.advance(31)
    page.get_by_role("button", name="Send a new code").click()
    expect(page.get_by_text(f"We sent a new code to {email}.")).to_be_visible()
    page.get_by_label("Verification code").fill(site.code_for(email, after=1))  # the new mail
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{site.url}/")


def test_resend_waits_out_the_countdown_with_javascript(
    browser: Browser, clocked: tuple[Site, FakeClock]
) -> None:
    """With JavaScript the button is disabled while the countdown runs, then works."""
    site, clock = clocked
    page = new_page(browser)
    email = "js-resend@example.com"
    _start_sign_up(page, site, email)
    resend = page.get_by_role("button", name="Send a new code")
    expect(resend).to_be_disabled()
    expect(page.get_by_text("(available in")).to_be_visible()
    clock.advance(28)  # the page drawn now counts down the last 2 seconds
    page.goto(f"{site.url}/auth/sign-up/verify")
    expect(resend).to_be_disabled()
    expect(page.get_by_text("(available in 2 s)")).to_be_visible()
    expect(resend).to_be_enabled(timeout=5000)
    expect(page.get_by_text("(available in")).to_be_hidden()
    clock.advance(2)
    resend.click()
    expect(page.get_by_text(f"We sent a new code to {email}.")).to_be_visible()
