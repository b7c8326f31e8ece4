"""
Confirmations as dialogs (issue 12, item 10): with JavaScript on, "Remove", "Make
primary", "Turn off", "Sign out of all other devices" and "Delete account" open their
confirm page's card in a modal <dialog> over the profile, as Clerk's UserProfile does:
named by its title, Cancel focused (the least harmful choice), Escape, Cancel or the
backdrop close it and give the focus back, a refused form re-renders inside it, and
axe-core finds nothing with it open. When the server answers with something other than
the confirm page ("Confirm it's you" first), the link is followed as a page. Without
JavaScript the same links are plain pages (tests/browser/test_profile_in_browser.py).
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from .conftest import Site
from .steps import DELETE_LABEL, add_address, axe_violations, new_page, sign_up


def test_removing_an_address_confirms_in_a_dialog(
    browser: Browser, site: Site, axe_script: Path, screenshot_dir: Path
) -> None:
    page = new_page(browser, True, bypass_csp=True, viewport={"width": 1280, "height": 860})
    sign_up(page, site, "dialog-first@example.com")
    page.goto(f"{site.url}/auth/user")
    add_address(page, site, "dialog-second@example.org")
    remove = page.locator("li", has_text="dialog-second@").get_by_role("link", name="Remove")
    remove.click()
    dialog = page.get_by_role("dialog", name="Remove this email address?")
    expect(dialog).to_be_visible()
    expect(page).to_have_url(f"{site.url}/auth/user?done=email_added")  # still underneath
    expect(dialog.get_by_role("link", name="Cancel")).to_be_focused()
    assert axe_violations(page, axe_script) == []
    page.screenshot(path=screenshot_dir / "profile-confirm-dialog-desktop.png")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(remove).to_be_focused()
    remove.click()
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog).to_have_count(0)
    remove.click()
    expect(dialog).to_be_visible()
    page.mouse.click(5, 5)  # the backdrop
    expect(dialog).to_have_count(0)
    # Confirmed: the profile comes back without the address, saying so.
    remove.click()
    dialog.get_by_role("button", name="Remove address").click()
    expect(page.get_by_role("status")).to_have_text("The email address was removed.")
    expect(page.locator("li", has_text="dialog-second@")).to_have_count(0)
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_a_wrong_phrase_stays_in_the_delete_dialog(
    browser: Browser, site: Site, screenshot_dir: Path
) -> None:
    """At 375 px, with the site's CSP enforced: nothing the dialog does is refused."""
    page = new_page(browser, True, viewport={"width": 375, "height": 780}, device_scale_factor=2)
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    sign_up(page, site, "dialog-delete@example.com")
    _wrong_phrase_in_the_delete_dialog(page, site)
    page.screenshot(path=screenshot_dir / "profile-delete-dialog-error-mobile.png")
    dialog = page.get_by_role("dialog", name="Delete account")
    dialog.get_by_label(DELETE_LABEL).fill("Delete account")
    dialog.get_by_role("button", name="Delete my account").click()
    expect(page).to_have_url(f"{site.url}/auth/sign-in?deleted=1")
    assert refused == []


def _wrong_phrase_in_the_delete_dialog(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/auth/user/security")
    page.get_by_role("link", name="Delete account").click()
    dialog = page.get_by_role("dialog", name="Delete account")
    expect(dialog.get_by_label(DELETE_LABEL)).to_be_focused()
    dialog.get_by_label(DELETE_LABEL).fill("delete everything")
    dialog.get_by_role("button", name="Delete my account").click()
    expect(dialog.get_by_text("Type “Delete account” exactly as shown.")).to_be_visible()
    expect(dialog.get_by_label(DELETE_LABEL)).to_have_value("delete everything")
    expect(page).to_have_url(f"{site.url}/auth/user/security")


def test_an_old_sign_in_follows_the_link_to_confirm_its_you(browser: Browser, site: Site) -> None:
    page = new_page(browser, True)
    sign_up(page, site, "dialog-old@example.com")
    site.age_session_factors(seconds=3600)
    page.goto(f"{site.url}/auth/user/security")
    page.get_by_role("link", name="Delete account").click()
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_the_dialog_in_its_error_state_passes_axe_in_dark_mode(
    browser: Browser, site: Site, axe_script: Path, screenshot_dir: Path
) -> None:
    page = new_page(
        browser,
        True,
        bypass_csp=True,
        viewport={"width": 1280, "height": 860},
        color_scheme="dark",
    )
    sign_up(page, site, "dialog-dark@example.com")
    _wrong_phrase_in_the_delete_dialog(page, site)
    assert axe_violations(page, axe_script) == []
    # A dark page is veiled darker than a light one: the backdrop must be seen.
    veil = page.locator("dialog.ak-dialog").evaluate(
        "d => getComputedStyle(d, '::backdrop').backgroundColor"
    )
    assert veil == "rgba(0, 0, 0, 0.72)", veil
    page.screenshot(path=screenshot_dir / "profile-delete-dialog-error-dark.png")
