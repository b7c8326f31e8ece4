"""Live password guidance as the visitor types, and the strict Content-Security-Policy
holding on every page: no inline script or style is ever blocked or needed."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, ConsoleMessage, expect

from .conftest import Site


def test_password_guidance_updates_while_typing(browser: Browser, site: Site) -> None:
    """The rules met turn green as the password grows; an easy one is flagged with
    zxcvbn's advice."""
    page = browser.new_context().new_page()
    page.goto(f"{site.url}/auth/sign-up")
    page.get_by_label("Email address").fill("guide@example.com")
    field = page.get_by_label("Password", exact=True)
    field.press_sequentially("manchesterunit")
    guidance = page.locator("#ak-sign-up-password-guidance")
    expect(guidance.locator(".ak-guidance__item--unmet").first).to_contain_text(
        "At least 15 characters"
    )
    # Too short says it all: zxcvbn's advice waits for the length.
    expect(guidance.locator(".ak-guidance__advice")).to_have_count(0)
    field.press_sequentially("ed")
    expect(guidance.locator(".ak-guidance__item--unmet")).to_have_count(1)
    expect(guidance.locator(".ak-guidance__item--unmet")).to_contain_text("Hard to guess")
    expect(guidance.locator(".ak-guidance__advice")).to_have_text(
        "This is similar to a commonly used password."
    )
    expect(guidance.locator(".ak-guidance__item--met").first).to_contain_text("At least 15")
    field.fill("guide@example.com")
    field.dispatch_event("input")
    # The address itself: not the address, and easy to guess (it is one of the user's).
    expect(guidance.locator(".ak-guidance__item--unmet")).to_have_text(
        [re.compile("Hard to guess"), re.compile("Not your email address")]
    )
    field.fill("a perfectly fine passphrase")
    field.dispatch_event("input")
    expect(guidance.locator(".ak-guidance__item--unmet")).to_have_count(0)
    expect(guidance.locator(".ak-guidance__item--met")).to_have_count(3)


def test_no_content_security_policy_violation_on_any_page(browser: Browser, demo: Site) -> None:
    """Every page and step runs under nonced script-src and style-src 'self' without a
    violation."""
    page = browser.new_context().new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # Chromium reports a blocked script, style or eval as a console error.
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            problems.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    for path in ("/", "/auth/sign-in", "/auth/sign-up", "/auth/forgot-password"):
        page.goto(demo.url + path)
        expect(page.locator(".ak-component").first).to_be_visible()
    page.goto(f"{demo.url}/auth/sign-up")
    email = "csp@example.com"
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).press_sequentially("a perfectly fine passphrase")
    expect(page.locator(".ak-guidance__item--met").first).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Verification code").fill(demo.code_for(email))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{demo.url}/")
    for path in ("/auth/user", "/account", "/notes"):
        page.goto(demo.url + path)
    page.get_by_label("Open user menu").click()
    anonymous = browser.new_context().request
    csp = anonymous.get(f"{demo.url}/auth/sign-in").headers["content-security-policy"]
    assert "script-src 'nonce-" in csp and "style-src 'self'" in csp
    assert problems == []


def test_a_same_origin_script_without_the_nonce_is_refused(browser: Browser, site: Site) -> None:
    """#79: a script tag slipped into the page is blocked even when it points at our own
    origin: only tags carrying this response's nonce run."""
    page = browser.new_context().new_page()
    page.goto(f"{site.url}/auth/sign-in")
    outcome = page.evaluate(
        """() => new Promise((resolve) => {
            document.addEventListener(
                "securitypolicyviolation", (e) => resolve(e.effectiveDirective), {once: true});
            const tag = document.createElement("script");
            tag.src = document.querySelector("script[nonce]").src + "?again";
            tag.onload = () => resolve("loaded");
            document.head.append(tag);
        })"""
    )
    assert outcome.startswith("script-src"), outcome
