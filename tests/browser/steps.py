"""Steps the browser tests share: a new page in its own browser context, signing up,
the authenticator app, axe-core runs, and the screenshot settings (desktop, 375 px,
dark). Plain functions and constants; the fixtures stay in conftest.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyotp
from playwright.sync_api import Browser, Page, expect

if TYPE_CHECKING:  # conftest imports this module
    from .conftest import Site

PASSWORD = "a perfectly fine passphrase"
# The phrase field of "Delete account" (its page and its dialog).
DELETE_LABEL = "Type “Delete account” to confirm"

SHOTS = [
    ("desktop", {"viewport": {"width": 1280, "height": 860}}),
    ("mobile", {"viewport": {"width": 375, "height": 780}, "device_scale_factor": 2}),
    ("dark", {"viewport": {"width": 1280, "height": 860}, "color_scheme": "dark"}),
]

_AXE_RUN = (
    "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map("
    "v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"
)


def new_page(browser: Browser, js: bool = True, **options: object) -> Page:
    """A page in a new browser context (`options` go to the context)."""
    context = browser.new_context(java_script_enabled=js, **options)  # type: ignore[arg-type]
    return context.new_page()


def sign_up(page: Page, site: Site, email: str) -> None:
    """Sign up with PASSWORD and the mailed code; signed in on the home page."""
    page.goto(f"{site.url}/auth/sign-up")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue", exact=True).click()
    page.get_by_label("Verification code").fill(site.code_for(email))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{site.url}/")


def password_step(page: Page, site: Site, email: str) -> None:
    """The first step of a sign-in: email address and PASSWORD."""
    page.goto(f"{site.url}/auth/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue", exact=True).click()


def next_code(secret: str, steps: int = 1) -> str:
    """A code of a later time step than any used yet (each step's code works once)."""
    totp = pyotp.TOTP(secret)
    return str(totp.generate_otp(totp.timecode(datetime.now(UTC)) + steps))


def set_up_app(page: Page, site: Site) -> tuple[str, list[str]]:
    """Turn on an authenticator app from the security page; returns the secret and codes."""
    page.goto(f"{site.url}/auth/user")
    page.get_by_role("link", name="Security").click()
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    page.get_by_role("link", name="Set up").click()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = page.locator(".ak-secret code").inner_text().replace(" ", "")
    page.get_by_label("Authentication code").fill(next_code(secret, 0))
    page.get_by_role("button", name="Verify and turn on").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    codes = page.locator(".ak-codes code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I saved my codes").click()
    expect(page.get_by_text("10 of 10 codes left.")).to_be_visible()
    return secret, codes


def add_address(page: Page, site: Site, email: str) -> None:
    """From the Account section: add `email` and verify it with the mailed code."""
    page.get_by_role("link", name="Add email address").click()
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_role("heading", name="Verify your email address")).to_be_visible()
    page.get_by_label("Verification code").fill(site.code_for(email))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("status")).to_have_text("The email address was added.")


def axe_violations(page: Page, axe_script: Path) -> list[str]:
    """axe-core's violations on the page, added as a script tag (the page's CSP must be
    bypassed: new_page(..., bypass_csp=True))."""
    page.add_script_tag(path=str(axe_script))
    violations: list[str] = page.evaluate(_AXE_RUN)
    return violations


def axe_violations_as_served(page: Page, axe_script: Path) -> list[str]:
    """axe-core's violations on the page with its CSP in force: evaluated through the
    DevTools protocol, which the page's policy does not govern."""
    page.evaluate(axe_script.read_text())
    violations: list[str] = page.evaluate(_AXE_RUN)
    return violations


def assert_no_horizontal_scroll(page: Page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths


@dataclass
class Shot:
    """One of SHOTS (the `shot` fixture): a page with JavaScript on and the CSP bypassed
    for axe-core, at the shot's size and colour scheme."""

    label: str
    page: Page
    axe_script: Path
    screenshot_dir: Path

    def axe(self) -> list[str]:
        return axe_violations(self.page, self.axe_script)

    def save(self, name: str) -> None:
        """A full-page screenshot, test-artifacts/screenshots/{name}-{label}.png."""
        self.page.screenshot(path=self.screenshot_dir / f"{name}-{self.label}.png", full_page=True)
