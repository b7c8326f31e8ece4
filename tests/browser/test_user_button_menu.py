"""The UserButton menu: the WAI-ARIA menu button pattern with JavaScript on (aria-expanded,
arrow keys, Home/End, Escape, Tab, outside click), a plain <details> with JavaScript off,
and a menu that stays inside the viewport wherever the button sits in the header."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from .conftest import Site
from .steps import axe_violations_as_served, sign_up

NARROW = {"width": 375, "height": 740}
WIDE = {"width": 1280, "height": 800}


def _signed_in_page(
    browser: Browser, site: Site, email: str, *, js: bool = True, **options: object
) -> Page:
    """A new page signed in as a new user (signed up with JavaScript on)."""
    setup = browser.new_context()
    sign_up(setup.new_page(), site, email)
    state = setup.storage_state()
    setup.close()
    context = browser.new_context(java_script_enabled=js, storage_state=state, **options)  # type: ignore[arg-type]
    return context.new_page()


def _trigger(page: Page) -> Locator:
    return page.locator(".ak-user-button__trigger")


def _items(page: Page) -> Locator:
    return page.get_by_role("menuitem")


def _focused_text(page: Page) -> str:
    text: str = page.evaluate("document.activeElement.textContent.trim()")
    return text


def _assert_inside_viewport(page: Page) -> None:
    menu = page.locator(".ak-user-button__menu")
    expect(menu).to_be_visible()
    box = menu.bounding_box()
    width = page.evaluate("document.documentElement.clientWidth")
    height = page.evaluate("window.innerHeight")
    assert box is not None
    assert box["x"] >= 0, box
    assert box["x"] + box["width"] <= width, (box, width)
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, (box, height)


def test_aria_expanded_follows_the_menu_and_an_outside_click_closes_it(
    browser: Browser, site: Site
) -> None:
    page = _signed_in_page(browser, site, "mouse@example.com")
    page.goto(f"{site.url}/header?side=right")
    trigger = _trigger(page)
    expect(trigger).to_have_attribute("aria-haspopup", "menu")
    expect(trigger).to_have_attribute("aria-expanded", "false")

    trigger.click()
    expect(trigger).to_have_attribute("aria-expanded", "true")
    menu = page.get_by_role("menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("menuitem")).to_have_text(["Manage account", "Sign out"])
    expect(page.locator("details.ak-user-button")).to_have_attribute("open", "")

    page.locator("#outside").click()
    expect(page.get_by_role("menu")).to_be_hidden()
    expect(trigger).to_have_attribute("aria-expanded", "false")

    trigger.click()
    expect(trigger).to_have_attribute("aria-expanded", "true")
    trigger.click()
    expect(page.get_by_role("menu")).to_be_hidden()
    expect(trigger).to_have_attribute("aria-expanded", "false")


def test_keyboard_follows_the_menu_button_pattern(browser: Browser, site: Site) -> None:
    page = _signed_in_page(browser, site, "keys@example.com")
    page.goto(f"{site.url}/header?side=left")
    trigger = _trigger(page)
    trigger.focus()

    page.keyboard.press("Enter")  # opens on the first item
    expect(trigger).to_have_attribute("aria-expanded", "true")
    expect(_items(page).first).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(_items(page).last).to_be_focused()
    page.keyboard.press("ArrowDown")  # wraps
    expect(_items(page).first).to_be_focused()
    page.keyboard.press("End")
    expect(_items(page).last).to_be_focused()
    page.keyboard.press("Home")
    expect(_items(page).first).to_be_focused()
    page.keyboard.press("ArrowUp")  # wraps
    expect(_items(page).last).to_be_focused()

    page.keyboard.press("Escape")  # closes, focus back on the button
    expect(page.get_by_role("menu")).to_be_hidden()
    expect(trigger).to_be_focused()
    expect(trigger).to_have_attribute("aria-expanded", "false")

    page.keyboard.press(" ")  # Space opens on the first item too
    expect(_items(page).first).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("ArrowUp")  # opens on the last item
    expect(_items(page).last).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("ArrowDown")  # opens on the first item
    expect(_items(page).first).to_be_focused()
    assert _focused_text(page) == "Manage account"

    page.keyboard.press("Tab")  # closes; focus goes on along the page
    expect(page.get_by_role("menu")).to_be_hidden()
    expect(trigger).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_role("link", name="Elsewhere")).to_be_focused()

    trigger.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # the sign-out menu item still posts its form
    expect(page).to_have_url(f"{site.url}/")
    expect(page.locator("body")).to_contain_text('"is_signed_in":false')


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_the_menu_stays_inside_the_viewport(
    browser: Browser, site: Site, screenshot_dir: Path, js: bool
) -> None:
    label = "js" if js else "nojs"
    page = _signed_in_page(browser, site, f"place-{label}@example.com", js=js, viewport=WIDE)
    for side in ("left", "right", "center"):
        for name, viewport in (("1280", WIDE), ("375", NARROW)):
            page.set_viewport_size(viewport)
            page.goto(f"{site.url}/header?side={side}")
            _trigger(page).click()
            _assert_inside_viewport(page)
            page.screenshot(path=screenshot_dir / f"user-button-{side}-{name}-{label}.png")
            _trigger(page).click()
            expect(page.locator(".ak-user-button__menu")).to_be_hidden()


def test_the_menu_stays_inside_the_viewport_when_resized_open(browser: Browser, site: Site) -> None:
    page = _signed_in_page(browser, site, "resize@example.com", viewport=WIDE)
    page.goto(f"{site.url}/header?side=left")
    _trigger(page).click()
    _assert_inside_viewport(page)
    page.set_viewport_size(NARROW)
    _assert_inside_viewport(page)


def test_without_javascript_it_is_a_details_that_signs_out(browser: Browser, site: Site) -> None:
    page = _signed_in_page(browser, site, "nojs@example.com", js=False)
    page.goto(f"{site.url}/header?side=left")
    trigger = _trigger(page)
    expect(page.locator("[role=menu], [role=menuitem]")).to_have_count(0)  # no ARIA promise
    expect(page.get_by_role("link", name="Manage account")).to_be_hidden()
    trigger.click()
    expect(page.locator("details.ak-user-button")).to_have_attribute("open", "")
    expect(page.get_by_role("link", name="Manage account")).to_be_visible()
    expect(page.get_by_text("nojs@example.com")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()  # a POST with its CSRF token
    expect(page).to_have_url(f"{site.url}/")
    expect(page.locator("body")).to_contain_text('"is_signed_in":false')


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_with_the_menu_open(
    browser: Browser, site: Site, axe_script: Path, screenshot_dir: Path, scheme: str
) -> None:
    page = _signed_in_page(
        browser, site, f"axe-{scheme}@example.com", color_scheme=scheme, viewport=WIDE
    )
    page.goto(f"{site.url}/header?side=right")
    _trigger(page).focus()
    page.keyboard.press("Enter")
    expect(_items(page).first).to_be_focused()
    page.screenshot(path=screenshot_dir / f"user-button-open-{scheme}-js.png")
    with_js = axe_violations_as_served(page, axe_script)

    # JavaScript off, as axe sees it: the same page with every script refused.
    context = page.context
    context.route(re.compile(r"\.js(\?.*)?$"), lambda route: route.abort())
    bare = context.new_page()
    bare.goto(f"{site.url}/header?side=right")
    expect(bare.locator("[role=menu]")).to_have_count(0)
    _trigger(bare).click()
    expect(bare.get_by_role("link", name="Manage account")).to_be_visible()
    bare.screenshot(path=screenshot_dir / f"user-button-open-{scheme}-nojs.png")
    without_js = axe_violations_as_served(bare, axe_script)
    assert (with_js, without_js) == ([], [])
