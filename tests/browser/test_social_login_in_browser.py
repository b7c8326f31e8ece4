"""
Social login in Chromium against the real OpenID provider (npm oidc-provider), with
JavaScript on and off: "Continue with Orbit" on the sign-up page, the provider's own
login page, and back signed in, the account then listed under Connected accounts; the
button's redirect to the provider passes the page's CSP (form-action allows the
provider's origin) with no violation; signing in again from another browser; linking
on a verified address and not on an unverified one; cancelling at the provider and a
provider that is down come back with a sentence, as does a forged callback opened in
the browser that started the round trip. The sign-in page
with its button and the connected accounts pass axe-core at desktop, 375 px and dark.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from ..conftest import Mailbox, free_port, serve
from ..hostapp import make_host_app
from ..oidc_provider import CLIENT_ID, CLIENT_SECRET, start_provider
from .conftest import Site, browser_kit
from .steps import Shot, new_page, sign_up

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])


@pytest.fixture
def social_site(tmp_path: Path, mailbox: Mailbox) -> Iterator[Site]:
    """The browser tests' site with one provider, Orbit: an oidc-provider started for it
    (it knows the site's callback URL)."""
    from authkit.social.providers import OAuthProvider

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    for provider in start_provider([f"{url}/auth/oauth/orbit/callback"]):
        orbit = OAuthProvider(
            name="orbit", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, issuer=provider.issuer
        )
        kit = browser_kit(tmp_path, mailbox, url, oauth_providers=[orbit])
        _, stop = serve(make_host_app(kit), port=port)
        try:
            yield Site(url, kit, mailbox)
        finally:
            stop()


@pytest.fixture
def down_site(tmp_path: Path, mailbox: Mailbox) -> Iterator[Site]:
    """A site whose provider does not answer (nothing listens on its port)."""
    from authkit.social.providers import OAuthProvider

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    orbit = OAuthProvider(
        name="orbit",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        issuer=f"http://127.0.0.1:{free_port()}",
        timeout=1,
    )
    kit = browser_kit(tmp_path, mailbox, url, oauth_providers=[orbit])
    _, stop = serve(make_host_app(kit), port=port)
    yield Site(url, kit, mailbox)
    stop()


def _log_in_at_the_provider(page: Page, login: str) -> None:
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any")
    page.get_by_role("button", name="Sign-in").click()


@JS
def test_sign_up_through_the_provider_then_see_it_connected(
    browser: Browser, social_site: Site, js: bool
) -> None:
    page = new_page(browser, js)
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            problems.append(message.text)

    page.on("console", on_console)
    page.goto(f"{social_site.url}/auth/sign-up")
    page.get_by_role("button", name="Continue with Orbit").click()
    _log_in_at_the_provider(page, f"orbiter-{js}")
    expect(page).to_have_url(f"{social_site.url}/")
    page.goto(f"{social_site.url}/auth/user")
    section = page.get_by_role("region", name="Connected accounts")
    expect(section.get_by_text("Orbit", exact=True)).to_be_visible()
    expect(section.get_by_text(f"orbiter-{js}@example.net")).to_be_visible()
    assert problems == []


@JS
def test_cancelling_at_the_provider_comes_back_with_a_sentence(
    browser: Browser, social_site: Site, js: bool
) -> None:
    page = new_page(browser, js)
    page.goto(f"{social_site.url}/auth/sign-in")
    page.get_by_role("button", name="Continue with Orbit").click()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("alert")).to_have_text("Signing in with Orbit was cancelled.")
    expect(page.get_by_role("button", name="Continue with Orbit")).to_be_visible()


@JS
def test_sign_in_again_from_another_browser(browser: Browser, social_site: Site, js: bool) -> None:
    first = new_page(browser, js)
    first.goto(f"{social_site.url}/auth/sign-up")
    first.get_by_role("button", name="Continue with Orbit").click()
    _log_in_at_the_provider(first, f"returning-{js}")
    expect(first).to_have_url(f"{social_site.url}/")
    again = new_page(browser, js)
    again.goto(f"{social_site.url}/auth/sign-in?redirect_url=/auth/user")
    again.get_by_role("button", name="Continue with Orbit").click()
    _log_in_at_the_provider(again, f"returning-{js}")
    expect(again).to_have_url(f"{social_site.url}/auth/user")
    expect(again.locator(".ak-identity__email")).to_have_text(f"returning-{js}@example.net")


@JS
def test_a_verified_address_links_and_an_unverified_one_does_not(
    browser: Browser, social_site: Site, js: bool
) -> None:
    email = f"linker-{js}@example.org"
    owner = new_page(browser, js)
    sign_up(owner, social_site, email)
    intruder = new_page(browser, js)
    intruder.goto(f"{social_site.url}/auth/sign-in")
    intruder.get_by_role("button", name="Continue with Orbit").click()
    _log_in_at_the_provider(intruder, f"unverified-{email}")
    expect(intruder.get_by_role("alert")).to_contain_text("Orbit has not verified your email")
    intruder.goto(f"{social_site.url}/auth/user")
    expect(intruder.get_by_role("heading", name="Sign in to Acme")).to_be_visible()
    linked = new_page(browser, js)
    linked.goto(f"{social_site.url}/auth/sign-in?redirect_url=/auth/user")
    linked.get_by_role("button", name="Continue with Orbit").click()
    _log_in_at_the_provider(linked, email)
    expect(linked).to_have_url(f"{social_site.url}/auth/user")
    expect(linked.locator(".ak-identity__email")).to_have_text(email)
    section = linked.get_by_role("region", name="Connected accounts")
    expect(section.get_by_text(email)).to_be_visible()


@JS
def test_a_forged_state_comes_back_with_a_sentence(
    browser: Browser, social_site: Site, js: bool
) -> None:
    """The round trip started, then a callback this site never asked for (another
    state and code, as a link an attacker sent) opened in the same browser."""
    page = new_page(browser, js)
    page.goto(f"{social_site.url}/auth/sign-in")
    page.get_by_role("button", name="Continue with Orbit").click()
    expect(page.locator("input[name=login]")).to_be_visible()
    page.goto(f"{social_site.url}/auth/oauth/orbit/callback?state=forged&code=stolen")
    expect(page.get_by_role("alert")).to_contain_text(
        "took too long or was started in another browser"
    )
    page.goto(f"{social_site.url}/")
    expect(page.locator("body")).to_contain_text('"is_signed_in":false')


@JS
def test_a_provider_that_is_down_comes_back_with_a_sentence(
    browser: Browser, down_site: Site, js: bool
) -> None:
    page = new_page(browser, js)
    page.goto(f"{down_site.url}/auth/sign-in")
    page.get_by_role("button", name="Continue with Orbit").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Orbit could not be reached. Please try again in a moment."
    )
    expect(page.get_by_role("button", name="Continue with Orbit")).to_be_visible()


def test_the_sign_in_page_with_a_provider_passes_axe(shot: Shot, social_site: Site) -> None:
    shot.page.goto(f"{social_site.url}/auth/sign-in")
    expect(shot.page.get_by_role("button", name="Continue with Orbit")).to_be_visible()
    assert shot.axe() == []
    shot.save("sign-in-social")


def test_the_connected_accounts_section_passes_axe(shot: Shot, social_site: Site) -> None:
    page = shot.page
    page.goto(f"{social_site.url}/auth/sign-up")
    page.get_by_role("button", name="Continue with Orbit").click()
    _log_in_at_the_provider(page, f"shown-{shot.label}")
    expect(page).to_have_url(f"{social_site.url}/")
    page.goto(f"{social_site.url}/auth/user")
    expect(page.get_by_role("region", name="Connected accounts")).to_be_visible()
    assert shot.axe() == []
    shot.save("profile-connected-accounts")


@pytest.fixture
def presets_site(tmp_path: Path, mailbox: Mailbox) -> Iterator[Site]:
    """Every preset configured (nothing is fetched from them to draw the page)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from authkit.social.presets import PRESETS
    from authkit.social.providers import OAuthProvider

    apple_key = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    providers = [
        OAuthProvider(
            name=name,
            client_id=f"{name}-id",
            client_secret="" if preset.apple else f"{name}-secret",
            **(  # type: ignore[arg-type]
                {"team_id": "TEAM", "key_id": "KEY", "private_key": apple_key}
                if preset.apple
                else {}
            ),
        )
        for name, preset in PRESETS.items()
    ]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    kit = browser_kit(tmp_path, mailbox, url, oauth_providers=providers)
    _, stop = serve(make_host_app(kit), port=port)
    yield Site(url, kit, mailbox)
    stop()


def test_every_presets_button_has_its_mark_and_passes_axe(shot: Shot, presets_site: Site) -> None:
    from authkit.social.presets import PRESETS

    shot.page.goto(f"{presets_site.url}/auth/sign-in")
    for preset in PRESETS.values():
        button = shot.page.get_by_role("button", name=f"Continue with {preset.label}")
        expect(button).to_be_visible()
        expect(button.locator("svg")).to_have_count(1)
    assert shot.axe() == []
    shot.save("sign-in-presets")
