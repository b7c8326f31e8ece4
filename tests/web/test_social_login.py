"""
Social login against a real OpenID provider (npm oidc-provider, tests/js/op.mjs), on
SQLite and PostgreSQL, as a browser with JavaScript off walks it: "Continue with Acme"
posts to `/oauth/acme/start`, the provider's login page, the callback. A new address
signs up; the same provider account signs in again; a verified address links to the
account holding it, an unverified one never does; a user with an authenticator app
still gets the second step; a cancelled sign-in, a forged or replayed state, a callback
in another browser and a provider that is down or slow come back to the sign-in page
with a sentence and an audit row, never a 500.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.social.providers import OAuthProvider
from authkit.store.models import (
    AuditEventRow,
    EmailAddressRow,
    OAuthAccountRow,
    SignUpInvitationRow,
    UserRow,
)

from ..conftest import FakeClock, KitFactory
from ..hostapp import make_host_app
from ..oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    TEST_SITE,
    OpenIdProvider,
    abort_at_provider,
    sign_in_at_provider,
)
from .flow_helpers import PASSWORD, form_token
from .pipeline_helpers import alert_text, set_up_totp, submit_code

pytestmark = pytest.mark.anyio

CALLBACK = f"{TEST_SITE}/auth/oauth/acme/callback"


@pytest.fixture
async def kit(make_kit: KitFactory, oidc_provider: OpenIdProvider) -> AsyncIterator[AuthKit]:
    """The kit with the provider; closed after the test (its pool's threads would
    otherwise outlive the test's event loop)."""
    made = make_kit(**oidc_provider.settings())
    yield made
    await made.aclose()


@pytest.fixture
async def provider_browser() -> AsyncIterator[httpx.AsyncClient]:
    """The same browser's visits to the provider (its own cookies there)."""
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


def browser(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=TEST_SITE)


async def start(client: httpx.AsyncClient, redirect_url: str = "") -> httpx.Response:
    token = await form_token(client, "/auth/sign-in")
    return await client.post(
        "/auth/oauth/acme/start", data={"csrf_token": token, "redirect_url": redirect_url}
    )


async def continue_with_acme(
    client: httpx.AsyncClient,
    provider_browser: httpx.AsyncClient,
    login: str,
    redirect_url: str = "",
) -> httpx.Response:
    """The whole round trip; returns the callback's answer."""
    started = await start(client, redirect_url)
    assert started.status_code == 303, started.text
    callback = await sign_in_at_provider(
        provider_browser, started.headers["location"], login, until=CALLBACK
    )
    return await client.get(callback.removeprefix(TEST_SITE))


async def whoami(client: httpx.AsyncClient) -> dict[str, object]:
    return dict((await client.get("/")).json())


async def events(kit: AuthKit, name: str) -> list[AuditEventRow]:
    async with kit.services.db.session() as s:
        rows = await s.exec(select(AuditEventRow).where(col(AuditEventRow.event) == name))
        return list(rows.all())


async def links(kit: AuthKit) -> list[OAuthAccountRow]:
    async with kit.services.db.session() as s:
        return list((await s.exec(select(OAuthAccountRow))).all())


async def test_the_buttons_post_to_start_and_the_csp_allows_only_the_provider(
    client: httpx.AsyncClient, oidc_provider: OpenIdProvider
) -> None:
    for path in ("/auth/sign-in", "/auth/sign-up", "/auth/sign-in/methods"):
        page = await client.get(path)
        assert 'action="/auth/oauth/acme/start"' in page.text
        assert "Continue with Acme" in page.text
        policy = page.headers["content-security-policy"]
        assert f"form-action 'self' {oidc_provider.issuer};" in policy


async def test_start_redirects_with_state_nonce_and_pkce(client: httpx.AsyncClient) -> None:
    r = await start(client, "/dashboard")
    assert r.status_code == 303 and r.headers["cache-control"] == "no-store"
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert len(query["state"][0]) >= 20 and len(query["nonce"][0]) >= 20
    assert query["scope"] == ["openid email profile"]
    assert "__ak_sign_in" in r.headers["set-cookie"]


async def test_start_needs_the_csrf_token(client: httpx.AsyncClient) -> None:
    await client.get("/auth/sign-in")
    r = await client.post("/auth/oauth/acme/start", data={"redirect_url": ""})
    assert r.status_code == 403 and "location" not in r.headers


async def test_an_unknown_provider_is_404(client: httpx.AsyncClient) -> None:
    token = await form_token(client, "/auth/sign-in")
    assert (
        await client.post("/auth/oauth/nope/start", data={"csrf_token": token})
    ).status_code == 404
    assert (await client.get("/auth/oauth/nope/callback?state=x&code=y")).status_code == 404


async def test_a_new_address_signs_up_and_the_same_account_signs_in_again(
    app: Starlette, kit: AuthKit, provider_browser: httpx.AsyncClient
) -> None:
    async with browser(app) as first:
        r = await continue_with_acme(first, provider_browser, "newcomer", "/dashboard")
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/dashboard"
        me = await whoami(first)
        assert me["is_signed_in"] is True
    async with kit.services.db.session() as s:
        user = await s.get(UserRow, str(me["user_id"]))
        assert user is not None and (user.first_name, user.last_name) == ("Test", "newcomer")
        address = (await s.exec(select(EmailAddressRow))).one()
        assert address.email == "newcomer@example.net" and address.verified_at is not None
    [link] = await links(kit)
    assert (link.provider, link.subject, link.user_id) == ("acme", "newcomer", me["user_id"])
    assert link.tokens_encrypted is None  # not kept unless the provider is set to
    # Another browser, the same provider account: the same user, no second account.
    async with browser(app) as second:
        r = await continue_with_acme(second, provider_browser, "newcomer")
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert (await whoami(second))["user_id"] == me["user_id"]
    assert len(await links(kit)) == 1
    [signed_up] = await events(kit, "sign_up.completed")
    assert signed_up.detail["method"] == "oauth_acme"
    sign_ins = await events(kit, "sign_in")
    assert [e.detail["method"] for e in sign_ins] == ["oauth_acme", "oauth_acme"]


async def test_a_verified_address_links_to_the_account_holding_it(
    app: Starlette, kit: AuthKit, provider_browser: httpx.AsyncClient
) -> None:
    await kit.ensure_started()
    user = await kit.users.create(email="ada@example.com", password=PASSWORD)
    async with browser(app) as b:
        r = await continue_with_acme(b, provider_browser, "ada@example.com")
        assert r.status_code == 303, r.text
        assert (await whoami(b))["user_id"] == user.id
    [link] = await links(kit)
    assert link.user_id == user.id and link.email == "ada@example.com"
    [linked] = await events(kit, "oauth.linked")
    assert linked.user_id == user.id and linked.detail["provider"] == "acme"


async def test_an_unverified_address_never_links_and_says_so_as_for_a_new_one(
    app: Starlette, kit: AuthKit, provider_browser: httpx.AsyncClient
) -> None:
    """Account takeover by an unverified address: refused; and the sentence is the one a
    new unverified address gets, so it tells nobody the address has an account."""
    await kit.ensure_started()
    await kit.users.create(email="ada@example.com", password=PASSWORD)
    answers = []
    for login in ("unverified-ada@example.com", "unverified-nobody@example.com"):
        async with browser(app) as b:
            r = await continue_with_acme(b, provider_browser, login)
            assert r.status_code == 303
            page = await b.get(r.headers["location"])
            answers.append(alert_text(page.text))
            assert (await whoami(b))["is_signed_in"] is False
    assert answers[0] == answers[1]
    assert answers[0] is not None and "has not verified your email address" in answers[0]
    assert await links(kit) == []
    async with kit.services.db.session() as s:
        assert len((await s.exec(select(UserRow))).all()) == 1


async def test_no_address_from_the_provider_signs_nobody_up(
    app: Starlette, kit: AuthKit, provider_browser: httpx.AsyncClient
) -> None:
    async with browser(app) as b:
        r = await continue_with_acme(b, provider_browser, "noemail-zed")
        page = await b.get(r.headers["location"])
        assert alert_text(page.text) == (
            "Acme did not share an email address, which an account here needs."
        )
    assert await links(kit) == []


async def test_a_user_with_an_authenticator_app_still_gets_the_second_step(
    app: Starlette, kit: AuthKit, clock: FakeClock, provider_browser: httpx.AsyncClient
) -> None:
    async with browser(app) as b:
        assert (await continue_with_acme(b, provider_browser, "mfa-user")).status_code == 303
        totp = await set_up_totp(b, clock)
    async with browser(app) as b:
        r = await continue_with_acme(b, provider_browser, "mfa-user", "/after")
        assert r.status_code == 303
        assert r.headers["location"].startswith("/auth/sign-in/factor/totp")
        assert (await whoami(b))["is_signed_in"] is False
        step = await b.get(r.headers["location"])
        assert step.status_code == 200 and "authenticator app" in step.text
        clock.advance(30)  # the set-up's code step is used; the next one is new
        done = await submit_code(b, step, totp.code(clock))
        assert done.status_code == 303 and done.headers["location"] == "/after"
        assert (await whoami(b))["is_signed_in"] is True


async def test_cancelling_at_the_provider_comes_back_with_a_sentence(
    app: Starlette, kit: AuthKit, provider_browser: httpx.AsyncClient
) -> None:
    async with browser(app) as b:
        started = await start(b)
        callback = await abort_at_provider(provider_browser, started.headers["location"], CALLBACK)
        r = await b.get(callback.removeprefix(TEST_SITE))
        assert r.status_code == 303
        page = await b.get(r.headers["location"])
        assert alert_text(page.text) == "Signing in with Acme was cancelled."
    [failed] = await events(kit, "oauth.failed")
    assert failed.detail == {"provider": "acme", "reason": "denied"}


async def test_a_forged_state_signs_nobody_in(
    app: Starlette, kit: AuthKit, provider_browser: httpx.AsyncClient
) -> None:
    async with browser(app) as b:
        started = await start(b)
        callback = await sign_in_at_provider(
            provider_browser, started.headers["location"], "mallory", until=CALLBACK
        )
        forged = callback.replace("state=", "state=x")
        r = await b.get(forged.removeprefix(TEST_SITE))
        page = await b.get(r.headers["location"])
        assert "took too long or was started in another browser" in (alert_text(page.text) or "")
        assert (await whoami(b))["is_signed_in"] is False
    [failed] = await events(kit, "oauth.failed")
    assert failed.detail["reason"] == "state_mismatch"
    assert await links(kit) == []


async def test_a_callback_used_twice_works_once(
    app: Starlette, kit: AuthKit, provider_browser: httpx.AsyncClient
) -> None:
    """State reuse: the second use of the same callback finds the attempt used up."""
    async with browser(app) as b:
        started = await start(b)
        callback = await sign_in_at_provider(
            provider_browser, started.headers["location"], "twice", until=CALLBACK
        )
        attempt_cookie = b.cookies["__ak_sign_in"]
        assert (await b.get(callback.removeprefix(TEST_SITE))).status_code == 303
        assert (await whoami(b))["is_signed_in"] is True
        b.cookies.set("__ak_sign_in", attempt_cookie, path="/auth")
        again = await b.get(callback.removeprefix(TEST_SITE))
        assert "oauth_error=oauth_expired" in again.headers["location"]
    assert [e.detail["reason"] for e in await events(kit, "oauth.failed")] == ["no_attempt"]


async def test_login_csrf_a_callback_in_another_browser_signs_nobody_in(
    app: Starlette, kit: AuthKit, provider_browser: httpx.AsyncClient
) -> None:
    """The attacker starts a sign-in with their own provider account and sends the
    victim the callback URL: the victim's browser has no such attempt."""
    async with browser(app) as attacker, browser(app) as victim:
        started = await start(attacker)
        callback = await sign_in_at_provider(
            provider_browser, started.headers["location"], "attacker", until=CALLBACK
        )
        await victim.get("/auth/sign-in")
        r = await victim.get(callback.removeprefix(TEST_SITE))
        assert "oauth_error=oauth_expired" in r.headers["location"]
        assert (await whoami(victim))["is_signed_in"] is False
        # Even with the attacker's attempt cookie (it is bound to their CSRF secret).
        victim.cookies.set("__ak_sign_in", attacker.cookies["__ak_sign_in"], path="/auth")
        r = await victim.get(callback.removeprefix(TEST_SITE))
        assert "oauth_error=oauth_expired" in r.headers["location"]
        assert (await whoami(victim))["is_signed_in"] is False
    assert await links(kit) == []


async def test_an_open_redirect_is_not_carried_across_the_round_trip(
    app: Starlette, provider_browser: httpx.AsyncClient
) -> None:
    async with browser(app) as b:
        r = await continue_with_acme(b, provider_browser, "wanderer", "https://evil.example/")
        assert r.status_code == 303 and r.headers["location"] == "/"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a provider that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.mark.parametrize("kind", ["down", "slow"])
async def test_a_provider_that_is_down_or_slow_comes_back_with_a_sentence(
    make_kit: KitFactory, silent_port: int, kind: str
) -> None:
    from ..conftest import free_port

    port = silent_port if kind == "slow" else free_port()
    provider = OAuthProvider(
        name="acme",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        issuer=f"http://127.0.0.1:{port}",
        timeout=0.5,
    )
    kit = make_kit(oauth_providers=[provider])
    async with browser(make_host_app(kit)) as b:
        r = await start(b)
        assert r.status_code == 422
        assert alert_text(r.text) == "Acme could not be reached. Please try again in a moment."
    [failed] = await events(kit, "oauth.failed")
    assert failed.detail["reason"] == (
        "discovery_timeout" if kind == "slow" else "discovery_unreachable"
    )
    await kit.aclose()


async def test_tokens_are_kept_encrypted_only_when_asked(
    make_kit: KitFactory, oidc_provider: OpenIdProvider, provider_browser: httpx.AsyncClient
) -> None:
    from cryptography.fernet import Fernet

    kit = make_kit(**oidc_provider.settings(store_tokens=True))
    async with browser(make_host_app(kit)) as b:
        assert (await continue_with_acme(b, provider_browser, "keeper")).status_code == 303
    [link] = await links(kit)
    assert link.tokens_encrypted is not None
    assert "access_token" not in link.tokens_encrypted  # not readable as stored
    kept = json.loads(Fernet(kit.services.oauth_token_key).decrypt(link.tokens_encrypted.encode()))
    assert kept["access_token"] and kept["token_type"].lower() == "bearer"
    await kit.aclose()


async def test_reloading_the_callback_during_the_second_step_keeps_that_step(
    app: Starlette, kit: AuthKit, clock: FakeClock, provider_browser: httpx.AsyncClient
) -> None:
    async with browser(app) as b:
        assert (await continue_with_acme(b, provider_browser, "reloader")).status_code == 303
        totp = await set_up_totp(b, clock)
    async with browser(app) as b:
        started = await start(b)
        callback = await sign_in_at_provider(
            provider_browser, started.headers["location"], "reloader", until=CALLBACK
        )
        step = await b.get(callback.removeprefix(TEST_SITE))
        assert step.headers["location"].startswith("/auth/sign-in/factor/totp")
        reloaded = await b.get(callback.removeprefix(TEST_SITE))
        assert "oauth_error=oauth_expired" in reloaded.headers["location"]
        page = await b.get(step.headers["location"])
        clock.advance(30)
        done = await submit_code(b, page, totp.code(clock))
        assert done.status_code == 303 and (await whoami(b))["is_signed_in"] is True


async def test_tokens_kept_before_go_once_the_provider_no_longer_keeps_them(
    make_kit: KitFactory, oidc_provider: OpenIdProvider, provider_browser: httpx.AsyncClient
) -> None:
    keeping = make_kit(**oidc_provider.settings(store_tokens=True))
    async with browser(make_host_app(keeping)) as b:
        assert (await continue_with_acme(b, provider_browser, "forgetful")).status_code == 303
    assert (await links(keeping))[0].tokens_encrypted is not None
    await keeping.aclose()
    plain = make_kit(**oidc_provider.settings())
    async with browser(make_host_app(plain)) as b:
        assert (await continue_with_acme(b, provider_browser, "forgetful")).status_code == 303
    assert (await links(plain))[0].tokens_encrypted is None
    await plain.aclose()


@pytest.mark.parametrize("mode", ["closed", "invite", "waitlist"])
async def test_social_sign_up_follows_the_sign_up_mode(
    make_kit: KitFactory,
    oidc_provider: OpenIdProvider,
    provider_browser: httpx.AsyncClient,
    mode: str,
) -> None:
    """A new account by a provider obeys AUTHKIT_SIGN_UP as the form does: closed, nobody;
    by invitation or waitlist, only an invited address; an account linked before still
    signs in."""
    kit = make_kit(**oidc_provider.settings(), sign_up=mode)
    app = make_host_app(kit)
    await kit.ensure_started()
    # An account made before (by an operator), linked by its verified address.
    await kit.users.create(email="member@example.net", password=PASSWORD)
    async with browser(app) as b:
        r = await continue_with_acme(b, provider_browser, "stranger")
        page = await b.get(r.headers["location"])
        expected = (
            "Sign-up is closed."
            if mode == "closed"
            else "Sign-up here is by invitation. Use the link in your invitation email."
        )
        assert alert_text(page.text) == expected
        assert (await whoami(b))["is_signed_in"] is False
    provider_browser.cookies.clear()  # signed out at the provider: a new login there
    async with browser(app) as b:
        r = await continue_with_acme(b, provider_browser, "member@example.net")
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert (await whoami(b))["is_signed_in"] is True
    if mode != "closed":
        await kit.users.invite("invited@example.net")
        provider_browser.cookies.clear()
        async with browser(app) as b:
            r = await continue_with_acme(b, provider_browser, "invited@example.net")
            assert r.headers["location"] == "/"
            assert (await whoami(b))["is_signed_in"] is True
        async with kit.services.db.session() as s:
            invitation = (await s.exec(select(SignUpInvitationRow))).one()
        assert invitation.status == "accepted"
    refused = [
        e for e in await events(kit, "oauth.failed") if e.detail.get("reason") == "sign_up_refused"
    ]
    assert len(refused) == 1
    await kit.aclose()
