"""
The 6-digit code field drawn as six boxes by authkit.js, in Chromium: the real input stays
the labelled, autofilled, posted field on top of the boxes; typing moves on, Backspace
moves back, the arrow keys move, a pasted "123 456" fills all six from any box; an error
marks every box and goes once the code changes; the boxes come back after an htmx swap;
nothing submits by itself. Recovery codes keep their plain field, and with JavaScript off
every code is the plain single field. axe-core and screenshots at desktop, 375 px, dark.
"""

from __future__ import annotations

from playwright.sync_api import Browser, Locator, Page, expect

from .conftest import Site
from .steps import (
    PASSWORD,
    Shot,
    assert_no_horizontal_scroll,
    new_page,
    next_code,
    password_step,
    set_up_app,
    sign_up,
)

BOXES = ".ak-code__box"


def _start_sign_up(page: Page, site: Site, email: str) -> None:
    """Up to the page that asks for the emailed code."""
    page.goto(f"{site.url}/auth/sign-up")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_label("Verification code")).to_be_visible()


def _code_field(page: Page) -> Locator:
    return page.get_by_label("Verification code")


def _shown(page: Page) -> list[str]:
    return page.locator(BOXES).all_inner_texts()


def _active(page: Page) -> int:
    """The index of the box marked as the caret's, or -1."""
    index: int = page.locator(BOXES).evaluate_all(
        "boxes => boxes.findIndex(b => b.classList.contains('ak-code__box--active'))"
    )
    return index


def _box_borders(page: Page) -> set[str]:
    return set(
        page.locator(BOXES).evaluate_all("bs => bs.map(b => getComputedStyle(b).borderTopColor)")
    )


def _danger(page: Page) -> str:
    color: str = page.locator(".ak-field__error").evaluate("e => getComputedStyle(e).color")
    return color


def test_typing_backspace_arrows_and_paste(browser: Browser, site: Site) -> None:
    email = "boxes@example.com"
    page = new_page(browser, True)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    _start_sign_up(page, site, email)
    field = _code_field(page)
    # One real field, still what the label, autofill and the form know; six drawn boxes.
    expect(field).to_have_attribute("autocomplete", "one-time-code")
    expect(field).to_have_attribute("inputmode", "numeric")
    expect(field).to_have_attribute("name", "code")
    expect(page.locator(BOXES)).to_have_count(6)
    expect(page.locator(".ak-code__boxes")).to_have_attribute("aria-hidden", "true")
    assert page.locator("input[name=code]").count() == 1

    field.focus()
    assert _active(page) == 0
    page.keyboard.type("123")
    assert _shown(page) == ["1", "2", "3", "", "", ""] and _active(page) == 3
    page.keyboard.press("Backspace")
    expect(field).to_have_value("12")
    assert _shown(page) == ["1", "2", "", "", "", ""] and _active(page) == 2
    page.keyboard.press("ArrowLeft")
    assert _active(page) == 1
    page.keyboard.type("9")  # writes over the box it is in, and moves on
    expect(field).to_have_value("19")
    assert _active(page) == 2
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert _active(page) == 0
    page.keyboard.press("ArrowRight")
    assert _active(page) == 1
    page.keyboard.type("a-")  # not digits: refused
    expect(field).to_have_value("19")

    # The third box, then a whole code with a space pasted from the clipboard.
    third = page.locator(BOXES).nth(2).bounding_box()
    assert third is not None
    page.mouse.click(third["x"] + third["width"] / 2, third["y"] + third["height"] / 2)
    assert _active(page) == 2
    page.evaluate("navigator.clipboard.writeText('123 456')")
    page.keyboard.press("Control+V")
    expect(field).to_have_value("123456")
    assert _shown(page) == list("123456")
    page.keyboard.press("Backspace")
    expect(field).to_have_value("12345")
    # Six digits in, and nothing submitted by itself: the page still waits for Verify.
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.keyboard.type("0")
    expect(field).to_have_value("123450")
    page.wait_for_timeout(500)
    assert posts == []
    expect(page.get_by_role("button", name="Verify")).to_be_visible()


def test_an_error_marks_every_box_and_the_right_code_signs_up(browser: Browser, site: Site) -> None:
    email = "boxes-error@example.com"
    page = new_page(browser, True)
    _start_sign_up(page, site, email)
    code = site.code_for(email)
    wrong = "000000" if code != "000000" else "111111"
    _code_field(page).fill(wrong)
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".ak-field__error")).to_be_visible()
    field = _code_field(page)
    expect(field).to_have_attribute("aria-invalid", "true")
    # Swapped in by htmx: the new field has its boxes again, all in the error colour.
    expect(page.locator(BOXES)).to_have_count(6)
    danger = _danger(page)
    assert _box_borders(page) == {danger}
    field.press_sequentially(code[:1])  # the code changed: its message goes
    expect(field).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator(".ak-field__error")).to_have_count(0)
    page.wait_for_timeout(300)  # the boxes' colour transition
    assert danger not in _box_borders(page)
    field.fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{site.url}/")


def test_authenticator_codes_have_boxes_and_recovery_codes_do_not(
    browser: Browser, site: Site
) -> None:
    email = "boxes-totp@example.com"
    page = new_page(browser, True)
    sign_up(page, site, email)
    secret, codes = set_up_app(page, site)
    page.context.clear_cookies()
    password_step(page, site, email)
    expect(page.get_by_label("Authentication code")).to_be_visible()
    expect(page.locator(BOXES)).to_have_count(6)
    page.get_by_role("link", name="Use a recovery code").click()
    expect(page.get_by_role("textbox", name="Recovery code")).to_be_visible()
    expect(page.locator(BOXES)).to_have_count(0)
    page.get_by_role("link", name="Use your authenticator app").click()
    page.get_by_label("Authentication code").fill(next_code(secret))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/")
    assert codes


def test_without_javascript_the_code_is_one_plain_field(browser: Browser, site: Site) -> None:
    email = "boxes-nojs@example.com"
    page = new_page(browser, False)
    _start_sign_up(page, site, email)
    expect(page.locator(BOXES)).to_have_count(0)
    field = _code_field(page)
    expect(field).not_to_have_class("ak-input ak-code__input")
    assert field.evaluate("e => getComputedStyle(e).color") != "rgba(0, 0, 0, 0)"
    field.fill(site.code_for(email)[:3] + " " + site.code_for(email)[3:])
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{site.url}/")


def test_the_code_boxes_pass_axe(site: Site, shot: Shot) -> None:
    email = f"boxes-{shot.label}@example.com"
    page = shot.page
    _start_sign_up(page, site, email)
    _code_field(page).focus()
    page.keyboard.type("1234")
    found = {"code-boxes": shot.axe()}
    shot.save("code-boxes")
    _code_field(page).fill("999999" if site.code_for(email) != "999999" else "888888")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".ak-field__error")).to_be_visible()
    found["code-boxes-error"] = shot.axe()
    shot.save("code-boxes-error")
    assert_no_horizontal_scroll(page)
    assert found == {name: [] for name in found}, found
