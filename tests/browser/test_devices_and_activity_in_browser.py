"""Active devices and security activity in Chromium: sign out another device with
JavaScript on (swapped in place) and off (a plain post), or every other device; the
security page and the activity page pass axe-core at desktop, 375 px and dark, with a
long User-Agent and a long IPv6 address that must not widen the page (screenshots in
test-artifacts)."""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import Site
from .steps import PASSWORD, Shot, new_page, sign_up

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S928B) AppleWebKit/537.36 (KHTML, like "
    "Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36"
)
PHONE_LABEL = "Samsung Internet 25 on Android"
LONG_IPV6 = "2001:0db8:85a3:0000:0000:8a2e:0370:7334"


def _sign_in_elsewhere(browser: Browser, site: Site, email: str) -> Page:
    """The same account signed in from a phone (another browser context)."""
    phone = browser.new_context(user_agent=PHONE_UA).new_page()
    phone.goto(f"{site.url}/auth/sign-in")
    phone.get_by_label("Email address").fill(email)
    phone.get_by_label("Password", exact=True).fill(PASSWORD)
    phone.get_by_role("button", name="Continue").click()
    expect(phone).to_have_url(f"{site.url}/")
    return phone


def _is_signed_in(page: Page, site: Site) -> bool:
    page.goto(f"{site.url}/")
    return bool(json.loads(page.locator("body").inner_text())["is_signed_in"])


def _refresh_only(page: Page, site: Site) -> None:
    """Drop the short-lived session token: the next request must refresh."""
    page.context.clear_cookies(name=site.kit.settings.cookie_names.session)


def _database(site: Site) -> sqlite3.Connection:
    return sqlite3.connect(site.kit.settings.database_url.removeprefix("sqlite+aiosqlite:///"))


def _give_the_phone_a_long_ipv6(site: Site) -> None:
    with _database(site) as db:
        for table in ("sessions", "audit_events"):
            db.execute(
                f"UPDATE {table} SET ip_address = ? WHERE user_agent = ?",  # noqa: S608
                (LONG_IPV6, PHONE_UA),
            )


def _add_activity(site: Site, email: str, count: int) -> None:
    """`count` older events of the user, of several kinds, so the list has pages."""
    kinds = [
        ("sign_in", {"method": "password"}),
        ("sign_in.failed", {"method": "password", "reason": "invalid_credentials"}),
        ("sign_in.failed", {"method": "password", "repeats": 17}),
        ("password.changed", {}),
        ("mfa.enabled", {"method": "totp"}),
        ("session.revoked", {"others": True, "count": 2}),
    ]
    with _database(site) as db:
        (user_id,) = db.execute(
            "SELECT user_id FROM email_addresses WHERE email = ?", (email,)
        ).fetchone()
        start = datetime.now(UTC) - timedelta(days=1)
        for n in range(count):
            event, detail = kinds[n % len(kinds)]
            at = (start - timedelta(minutes=17 * n)).strftime("%Y-%m-%d %H:%M:%S.%f")
            db.execute(
                "INSERT INTO audit_events (id, at, event, user_id, session_id, ip_address, "
                "user_agent, detail) VALUES (?, ?, ?, ?, NULL, ?, ?, ?)",
                (
                    f"evt_{secrets.token_hex(13)}",
                    at,
                    event,
                    user_id,
                    LONG_IPV6 if n % 2 else "203.0.113.77",
                    PHONE_UA if n % 3 else "",
                    json.dumps(detail),
                ),
            )


@JS
def test_sign_another_device_out(browser: Browser, site: Site, js: bool) -> None:
    email = f"devices-{js}@example.com"
    page = new_page(browser, js)
    sign_up(page, site, email)
    phone = _sign_in_elsewhere(browser, site, email)
    page.goto(f"{site.url}/auth/user/security")
    rows = page.locator(".ak-device")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("This device")
    expect(rows.nth(1)).to_contain_text(PHONE_LABEL)
    page.get_by_role("button", name=f"Sign out {PHONE_LABEL} (127.0.0.1)").click()
    expect(page.get_by_role("status")).to_have_text("That device was signed out.")
    expect(rows).to_have_count(1)
    if js:  # swapped in place: the address is the page's own
        assert page.url == f"{site.url}/auth/user/security", page.url
    else:
        assert page.url.endswith("/auth/user/security?done=device_signed_out"), page.url
    expect(page.get_by_text("Signed out another device")).to_be_visible()
    # Its refresh token is dead: once its session token is gone, so is the phone.
    _refresh_only(phone, site)
    assert not _is_signed_in(phone, site)
    _refresh_only(page, site)
    assert _is_signed_in(page, site)


def test_sign_every_other_device_out(browser: Browser, site: Site) -> None:
    email = "devices-all@example.com"
    page = new_page(browser, True)
    sign_up(page, site, email)
    phones = [_sign_in_elsewhere(browser, site, email) for _ in range(2)]
    page.goto(f"{site.url}/auth/user/security")
    expect(page.locator(".ak-device")).to_have_count(3)
    page.get_by_role("link", name="Sign out of all other devices").click()
    expect(page.get_by_role("heading", name="Sign out of all other devices?")).to_be_visible()
    page.get_by_role("button", name="Sign out other devices").click()
    expect(page.get_by_role("status")).to_have_text("Your other devices were signed out.")
    expect(page.locator(".ak-device")).to_have_count(1)
    for phone in phones:
        _refresh_only(phone, site)
        assert not _is_signed_in(phone, site)


def test_the_devices_and_activity_pages_pass_axe(browser: Browser, site: Site, shot: Shot) -> None:
    email = f"devices-page-{shot.label}@example.com"
    page = shot.page
    sign_up(page, site, email)
    _sign_in_elsewhere(browser, site, email)
    _give_the_phone_a_long_ipv6(site)
    _add_activity(site, email, 30)
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        found[name] = shot.axe()
        shot.save(name)
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], (name, widths)

    page.goto(f"{site.url}/auth/user/security")
    expect(page.get_by_role("heading", name="Active devices")).to_be_visible()
    expect(page.get_by_text(LONG_IPV6).first).to_be_visible()
    check("security-devices")
    page.get_by_role("link", name="View all activity").click()
    expect(page.get_by_role("heading", name="Security activity")).to_be_visible()
    expect(page.get_by_text("17 more failed sign-in attempts").first).to_be_visible()
    check("security-activity")
    page.get_by_role("link", name="Older").click()
    expect(page.get_by_role("link", name="Newer")).to_be_visible()
    check("security-activity-older")
    assert found == {name: [] for name in found}, found
