"""
Passkeys in Chromium with a virtual authenticator (the DevTools protocol's WebAuthn
domain), browsing via `localhost` (a passkey needs a domain name), on SQLite and
PostgreSQL: add one from the security page, sign in with it by the button and by the
address field's autofill, from a browser without it (refused with a sentence), rename
and remove it, and a copied authenticator whose counter went back (refused, and said
in the security activity). With JavaScript off, or in a browser without WebAuthn, no
passkey button appears and the password still signs in. The pages pass axe-core.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.sync_api import Browser, CDPSession, Page, Route, expect

from ..conftest import POSTGRES_URL, TEST_SECRET, Mailbox, free_port, needs_postgres, serve
from ..hostapp import make_host_app
from .conftest import Site
from .steps import Shot, new_page, password_step, sign_up

EMAIL = "ada@example.com"


def _in_a_thread(work: Any) -> None:
    """Run a coroutine to the end on a loop of its own (Playwright owns this thread's)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(work)
        except BaseException as exc:  # re-raised below, in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


async def _run_sql(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def _site_at_localhost(mailbox: Mailbox, store: dict[str, Any]) -> Iterator[Site]:
    from authkit import AuthKit

    port = free_port()
    url = f"http://localhost:{port}"
    kit = AuthKit(
        secret_key=TEST_SECRET,
        email_url=f"smtp://127.0.0.1:{mailbox.port}",
        base_url=url,
        password_hash_profile="CHEAPEST",
        auto_migrate=True,
        app_name="Acme",
        **store,
    )
    _, stop = serve(make_host_app(kit), port=port)
    try:
        yield Site(url, kit, mailbox)
    finally:
        stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def passkey_site(
    request: pytest.FixtureRequest, tmp_path: Path, mailbox: Mailbox
) -> Iterator[Site]:
    """The browser tests' site at http://localhost:<port> (a passkey needs a domain
    name), on each store."""
    if request.param == "sqlite":
        with _site_at_localhost(
            mailbox, {"database_url": f"sqlite+aiosqlite:///{tmp_path}/browser.db"}
        ) as site:
            yield site
        return
    needs_postgres()
    schema = f"t_{secrets.token_hex(6)}"
    try:
        with _site_at_localhost(
            mailbox, {"database_url": POSTGRES_URL, "database_schema": schema}
        ) as site:
            yield site
    finally:
        _in_a_thread(_run_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture
def sqlite_passkey_site(tmp_path: Path, mailbox: Mailbox) -> Iterator[Site]:
    """The same site on SQLite only (for the pictures: one store is enough)."""
    with _site_at_localhost(
        mailbox, {"database_url": f"sqlite+aiosqlite:///{tmp_path}/browser.db"}
    ) as site:
        yield site


def age_sessions(site: Site, seconds: int) -> None:
    """Every session's factors verified `seconds` earlier, in whichever store it is."""
    schema = site.kit.settings.database_schema
    if schema is None:
        site.age_session_factors(seconds=seconds)
        return
    _in_a_thread(
        _run_sql(
            f'UPDATE "{schema}".sessions SET '  # noqa: S608 (a schema name of our own)
            f"first_factor_at = first_factor_at - interval '{int(seconds)} seconds', "
            f"second_factor_at = second_factor_at - interval '{int(seconds)} seconds'"
        )
    )


def authenticator(page: Page) -> tuple[CDPSession, str]:
    """A platform authenticator with user verification, answering at once."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "ctap2Version": "ctap2_1",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, str(added["authenticatorId"])


def without_autofill(page: Page) -> None:
    """A browser without conditional mediation (the virtual authenticator would answer
    the address field's autofill request by itself, before any button is pressed)."""
    page.add_init_script(
        "if (window.PublicKeyCredential) "
        "PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);"
    )


def credentials(cdp: CDPSession, authenticator_id: str) -> list[dict[str, Any]]:
    found = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    return list(found["credentials"])


def add_passkey(page: Page, site: Site) -> None:
    """From the security page: "Add a passkey", and the authenticator makes one."""
    page.goto(f"{site.url}/auth/user/security")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("status")).to_have_text("Passkey added.")


def signed_up_with_a_passkey(
    browser: Browser, site: Site, *, autofill: bool = False
) -> tuple[Page, CDPSession, str]:
    page = new_page(browser)
    if not autofill:
        without_autofill(page)
    cdp, authenticator_id = authenticator(page)
    sign_up(page, site, EMAIL)
    add_passkey(page, site)
    return page, cdp, authenticator_id


def sign_out(page: Page, site: Site) -> None:
    page.context.clear_cookies()
    page.goto(f"{site.url}/auth/sign-in")


def test_add_a_passkey_then_sign_in_with_the_button(browser: Browser, passkey_site: Site) -> None:
    site = passkey_site
    page, cdp, authenticator_id = signed_up_with_a_passkey(browser, site)
    section = page.locator("#passkeys")
    expect(section.get_by_text("Not used yet")).to_be_visible()
    [credential] = credentials(cdp, authenticator_id)
    assert credential["isResidentCredential"] is True
    assert "passkey named" in site.mailbox.text_of(site.mailbox.to(EMAIL)[-1])

    sign_out(page, site)
    page.goto(f"{site.url}/auth/sign-in?redirect_url=/dashboard")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page).to_have_url(f"{site.url}/dashboard")
    expect(page.locator("body")).to_contain_text(f"Hello {EMAIL}")
    page.goto(f"{site.url}/auth/user/security")
    expect(page.locator("#passkeys")).to_contain_text("Last used")


def test_sign_in_by_the_address_fields_autofill(browser: Browser, passkey_site: Site) -> None:
    site = passkey_site
    page, _, _ = signed_up_with_a_passkey(browser, site, autofill=True)
    page.context.clear_cookies()
    # The conditional request starts on load; the virtual authenticator answers it with
    # the one passkey there is, as picking it from the address field's list would. No
    # button is pressed.
    page.goto(f"{site.url}/auth/sign-in?redirect_url=/dashboard")
    expect(page).to_have_url(f"{site.url}/dashboard")
    expect(page.locator("body")).to_contain_text(f"Hello {EMAIL}")
    page.context.clear_cookies()
    page.route("**/auth/passkeys/sign-in/verify", lambda route: route.abort())
    page.goto(f"{site.url}/auth/sign-in")
    expect(page.get_by_label("Email address")).to_have_attribute(
        "autocomplete", "username webauthn"
    )


def test_a_browser_without_the_passkey_is_refused_with_a_sentence(
    browser: Browser, passkey_site: Site
) -> None:
    site = passkey_site
    signed_up_with_a_passkey(browser, site)
    other = new_page(browser)
    without_autofill(other)
    authenticator(other)  # an authenticator, but not the one with the passkey
    other.goto(f"{site.url}/auth/sign-in")
    other.get_by_role("button", name="Sign in with a passkey").click()
    expect(other.get_by_role("alert")).to_have_text(
        "The passkey prompt was closed. Try again, or use another way."
    )
    expect(other).to_have_url(f"{site.url}/auth/sign-in")
    # Every other way still works.
    password_step(other, site, EMAIL)
    expect(other).to_have_url(f"{site.url}/")


def test_rename_then_remove_then_it_signs_in_no_more(browser: Browser, passkey_site: Site) -> None:
    site = passkey_site
    page, _, _ = signed_up_with_a_passkey(browser, site)
    section = page.locator("#passkeys")
    section.get_by_role("link", name="Rename Passkey on Linux").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill("Work laptop")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Passkey renamed.")
    expect(section).to_contain_text("Work laptop")

    mails_before = len(site.mailbox.to(EMAIL))
    section.get_by_role("link", name="Remove Work laptop").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove passkey").click()
    expect(page.get_by_role("status")).to_have_text("Passkey removed.")
    expect(section).to_contain_text("No passkeys yet.")
    # The notice is sent in the background after the answer: wait for it (under load it
    # once arrived after this line read the mailbox).
    deadline = time.monotonic() + 10
    while len(site.mailbox.to(EMAIL)) < mails_before + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "was just removed" in site.mailbox.text_of(site.mailbox.to(EMAIL)[-1])

    sign_out(page, site)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("alert")).to_contain_text("That passkey is not registered here.")


def test_a_copied_authenticator_is_refused_and_the_owner_sees_why(
    browser: Browser, passkey_site: Site
) -> None:
    site = passkey_site
    page, cdp, authenticator_id = signed_up_with_a_passkey(browser, site)
    sign_out(page, site)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page).to_have_url(f"{site.url}/")
    [original] = credentials(cdp, authenticator_id)
    assert original["signCount"] >= 1

    # A copy made before that sign-in: its counter is behind the site's.
    copy = new_page(browser)
    without_autofill(copy)
    copy_cdp, copy_id = authenticator(copy)
    copy_cdp.send(
        "WebAuthn.addCredential",
        {"authenticatorId": copy_id, "credential": {**original, "signCount": 0}},
    )
    copy.goto(f"{site.url}/auth/sign-in")
    copy.get_by_role("button", name="Sign in with a passkey").click()
    expect(copy.get_by_role("alert")).to_contain_text("it may have been copied")
    expect(copy).to_have_url(f"{site.url}/auth/sign-in")

    page.goto(f"{site.url}/auth/user/security/activity")
    expect(page.locator("body")).to_contain_text(
        "Refused a passkey that may have been copied (Passkey on Linux)"
    )


@pytest.mark.parametrize("webauthn", [False, True], ids=["no-js", "no-webauthn"])
def test_no_passkey_buttons_where_they_cannot_work(
    browser: Browser, passkey_site: Site, webauthn: bool
) -> None:
    site = passkey_site
    page = new_page(browser, js=webauthn)
    if webauthn:
        # JavaScript on, but a browser without WebAuthn.
        page.add_init_script("delete window.PublicKeyCredential")
    sign_up(page, site, EMAIL)
    page.goto(f"{site.url}/auth/user/security")
    expect(page.get_by_role("heading", name="Passkeys")).to_be_visible()
    expect(page.get_by_role("button", name="Add a passkey")).to_have_count(0)
    page.goto(f"{site.url}/auth/user/security/passkeys/add")
    expect(page.get_by_text("This browser cannot create passkeys.")).to_be_visible()
    expect(page.get_by_role("button", name="Create a passkey")).to_have_count(0)
    sign_out(page, site)
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_have_count(0)
    password_step(page, site, EMAIL)
    expect(page).to_have_url(f"{site.url}/")


def test_adding_after_an_old_sign_in_confirms_first(browser: Browser, passkey_site: Site) -> None:
    site = passkey_site
    page = new_page(browser)
    without_autofill(page)
    authenticator(page)
    sign_up(page, site, EMAIL)
    age_sessions(site, 3600)
    page.goto(f"{site.url}/auth/user/security")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    page.get_by_label("Password", exact=True).fill("a perfectly fine passphrase")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Add a passkey")).to_be_visible()
    page.get_by_role("button", name="Create a passkey").click()
    expect(page.get_by_role("status")).to_have_text("Passkey added.")


def test_passkey_pages_pass_axe_and_look_right(shot: Shot, sqlite_passkey_site: Site) -> None:
    site = sqlite_passkey_site
    page = shot.page
    without_autofill(page)
    authenticator(page)
    sign_up(page, site, EMAIL)
    add_passkey(page, site)
    page.locator("#passkeys").scroll_into_view_if_needed()
    assert shot.axe() == []
    page.locator("#passkeys").screenshot(
        path=shot.screenshot_dir / f"passkeys-section-{shot.label}.png"
    )
    page.goto(f"{site.url}/auth/user/security/passkeys/add")
    assert shot.axe() == []
    shot.save("passkey-add")
    sign_out(page, site)
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_visible()
    assert shot.axe() == []
    shot.save("sign-in-passkey")


def test_confirm_its_you_with_a_passkey(browser: Browser, passkey_site: Site) -> None:
    site = passkey_site
    page, _, _ = signed_up_with_a_passkey(browser, site)
    age_sessions(site, 3600)
    page.goto(f"{site.url}/auth/user/security/totp")
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    expect(page).to_have_url(f"{site.url}/auth/user/security/totp")


def test_use_another_method_offers_the_passkey_too(browser: Browser, passkey_site: Site) -> None:
    site = passkey_site
    page, _, _ = signed_up_with_a_passkey(browser, site)
    sign_out(page, site)
    page.get_by_role("link", name="Use another method").click()
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page).to_have_url(f"{site.url}/")


def test_a_failure_the_server_does_not_explain_still_gets_a_sentence(
    browser: Browser, passkey_site: Site
) -> None:
    """An error page instead of JSON (a proxy's 502) is a failure with the general
    sentence, not silence."""
    site = passkey_site
    page, _, _ = signed_up_with_a_passkey(browser, site)
    sign_out(page, site)
    page.route(
        "**/auth/passkeys/sign-in/verify",
        lambda route: route.fulfill(
            status=502, body="<h1>Bad gateway</h1>", content_type="text/html"
        ),
    )
    button = page.get_by_role("button", name="Sign in with a passkey")
    button.click()
    expect(page.get_by_role("alert")).to_have_text(
        "That passkey did not work. Please try again, or use another way."
    )
    expect(button).to_be_enabled()


def test_autofill_is_offered_again_after_a_try_that_failed(
    browser: Browser, passkey_site: Site
) -> None:
    site = passkey_site
    page, _, _ = signed_up_with_a_passkey(browser, site, autofill=True)
    page.context.clear_cookies()
    calls: list[str] = []

    def broken_once(route: Route) -> None:
        calls.append(route.request.url)
        if len(calls) == 1:
            route.fulfill(status=502, body="down", content_type="text/plain")
        else:
            route.continue_()

    page.route("**/auth/passkeys/sign-in/verify", broken_once)
    # The first answer fails; the field offers the passkey again, and the second works.
    page.goto(f"{site.url}/auth/sign-in?redirect_url=/dashboard")
    expect(page).to_have_url(f"{site.url}/dashboard")
    assert len(calls) == 2
