"""Uploading and removing a profile picture from the Account section in Chromium, with
JavaScript on (htmx swaps the section) and off (a plain multipart form post): a file
that is not an image is refused beside the field, the picture shows in the profile and
in the UserButton, and the page passes axe-core at desktop, 375 px and dark
(screenshots in test-artifacts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, expect

from .conftest import Site
from .steps import Shot, assert_no_horizontal_scroll, new_page, sign_up

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])


def _portrait(folder: Path) -> Path:
    """A landscape picture with a face-like disc in the middle (the crop keeps it)."""
    image = Image.new("RGB", (900, 600), (36, 99, 235))
    draw = ImageDraw.Draw(image)
    draw.ellipse((300, 150, 600, 450), fill=(250, 204, 21))
    draw.ellipse((380, 240, 420, 280), fill=(17, 24, 39))
    draw.ellipse((480, 240, 520, 280), fill=(17, 24, 39))
    path = folder / "portrait.jpg"
    image.save(path, "JPEG", quality=90)
    return path


def _not_an_image(folder: Path) -> Path:
    path = folder / "notes.png"
    path.write_text("shopping list: milk, bread\n")
    return path


def _upload(page: Page, path: Path) -> None:
    page.get_by_label("Choose an image").set_input_files(path)
    page.get_by_role("button", name="Upload").click()


def _csp_violations(page: Page) -> list[str]:
    found: list[str] = []
    page.on(
        "console",
        lambda m: found.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return found


@JS
def test_upload_then_remove_a_picture(
    browser: Browser, site: Site, tmp_path: Path, js: bool
) -> None:
    page = new_page(browser, js)
    violations = _csp_violations(page)
    sign_up(page, site, f"avatar-{js}@example.com")
    page.goto(f"{site.url}/auth/user")
    section = page.get_by_role("region", name="Profile picture")
    expect(section.get_by_text("PNG, JPEG, GIF or WebP, up to 10 MB.")).to_be_visible()
    expect(section.get_by_role("button", name="Remove profile picture")).to_have_count(0)

    _upload(page, _not_an_image(tmp_path))
    expect(page.get_by_text("This file is not an image we accept")).to_be_visible()
    expect(page.get_by_label("Choose an image")).to_have_attribute("aria-invalid", "true")

    _upload(page, _portrait(tmp_path))
    expect(page.get_by_role("status")).to_have_text("Your profile picture was updated.")
    picture = page.locator("img.ak-avatar--xl")
    expect(picture).to_be_visible()
    expect(picture).to_have_attribute("alt", f"avatar-{js}@example.com")
    expect(picture).to_have_js_property("naturalWidth", 256)
    src = picture.get_attribute("src")
    assert src and src.endswith(".webp")

    page.goto(f"{site.url}/embedded")  # the UserButton on a host page shows it too
    expect(page.locator(f'.ak-user-button__trigger img[src="{src}"]')).to_be_visible()

    page.goto(f"{site.url}/auth/user")
    page.get_by_role("button", name="Remove profile picture").click()
    expect(page.get_by_role("status")).to_have_text("Your profile picture was removed.")
    expect(page.locator("img.ak-avatar")).to_have_count(0)
    expect(page.locator(".ak-identity .ak-avatar")).to_have_text("A")
    assert violations == [], violations


def test_the_picture_section_passes_axe(site: Site, tmp_path: Path, shot: Shot) -> None:
    page = shot.page
    sign_up(page, site, f"avatar-page-{shot.label}@example.com")
    page.goto(f"{site.url}/auth/user")
    found = {"avatar-initials": shot.axe()}
    _upload(page, _portrait(tmp_path))
    expect(page.get_by_role("status")).to_have_text("Your profile picture was updated.")
    expect(page.locator("img.ak-avatar--xl")).to_have_js_property("complete", True)
    found["avatar-picture"] = shot.axe()
    shot.save("avatar")
    _upload(page, _not_an_image(tmp_path))
    expect(page.get_by_text("This file is not an image we accept")).to_be_visible()
    found["avatar-error"] = shot.axe()
    shot.save("avatar-error")
    assert_no_horizontal_scroll(page)
    assert found == {name: [] for name in found}, found
