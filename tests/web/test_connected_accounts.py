"""
Connected accounts in the Account section, against the real OpenID provider: connect
one (after "Confirm it's you" when the sign-in is old), which then signs in; disconnect
it, but never the last way to sign in; a provider account connected to another user
stays theirs; another user's connection is a 404. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.store.models import OAuthAccountRow

from ..conftest import FakeClock, KitFactory
from ..hostapp import make_host_app
from ..oidc_provider import TEST_SITE, OpenIdProvider, sign_in_at_provider
from .flow_helpers import PASSWORD, csrf_of
from .pipeline_helpers import EMAIL, alert_text, hidden_fields, sign_in_password
from .test_social_login import CALLBACK, browser, continue_with_acme, whoami

pytestmark = pytest.mark.anyio

ACCOUNT = "/auth/user"
CONNECT = "/auth/user/connected-accounts/connect/acme"


@pytest.fixture
async def kit(make_kit: KitFactory, oidc_provider: OpenIdProvider) -> AsyncIterator[AuthKit]:
    """The kit with the provider; closed after the test (its pool's threads would
    otherwise outlive the test's event loop)."""
    made = make_kit(**oidc_provider.settings())
    yield made
    await made.aclose()


@pytest.fixture
async def provider_browser() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


async def connect(
    client: httpx.AsyncClient, provider_browser: httpx.AsyncClient, login: str
) -> httpx.Response:
    """Press "Connect Acme" on the Account page and sign in at the provider as `login`;
    returns the callback's answer."""
    page = await client.get(ACCOUNT)
    assert "Connect Acme" in page.text
    started = await client.post(CONNECT, data={"csrf_token": csrf_of(page.text)})
    assert started.status_code == 303, started.text
    callback = await sign_in_at_provider(
        provider_browser, started.headers["location"], login, until=CALLBACK
    )
    return await client.get(callback.removeprefix(TEST_SITE))


async def connections(kit: AuthKit) -> list[OAuthAccountRow]:
    async with kit.services.db.session() as s:
        return list((await s.exec(select(OAuthAccountRow))).all())


async def test_connect_then_it_signs_in_then_disconnect(
    app: Starlette, kit: AuthKit, provider_browser: httpx.AsyncClient
) -> None:
    await kit.ensure_started()
    user = await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        r = await connect(b, provider_browser, "ada-elsewhere")
        assert r.status_code == 303 and r.headers["location"] == f"{ACCOUNT}?done=account_connected"
        page = (await b.get(r.headers["location"])).text
        assert "The account was connected." in page
        assert "ada-elsewhere@example.net" in page and "Connect Acme" not in page
    [link] = await connections(kit)
    assert (link.user_id, link.subject) == (user.id, "ada-elsewhere")
    # A new browser: the provider account signs in as the same user.
    async with browser(app) as other:
        assert (
            await continue_with_acme(other, provider_browser, "ada-elsewhere")
        ).status_code == 303
        assert (await whoami(other))["user_id"] == user.id
        confirm = await other.get(f"/auth/user/connected-accounts/{link.id}/remove")
        assert "Disconnect Acme?" in confirm.text
        done = await other.post(
            f"/auth/user/connected-accounts/{link.id}/remove", data=hidden_fields(confirm.text)
        )
        assert done.headers["location"] == f"{ACCOUNT}?done=account_disconnected"
    assert await connections(kit) == []


async def test_an_old_sign_in_confirms_it_is_you_before_connecting(
    app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        clock.advance(kit.settings.reverification_window + 1)
        page = await b.get(ACCOUNT)
        r = await b.post(CONNECT, data={"csrf_token": csrf_of(page.text)})
        assert r.status_code == 303
        assert r.headers["location"].startswith("/auth/reverify?redirect_url=")


async def test_the_last_way_to_sign_in_is_never_disconnected(
    make_kit: KitFactory, oidc_provider: OpenIdProvider, provider_browser: httpx.AsyncClient
) -> None:
    """A user who signed up through the provider, on a site that signs in by password
    only: the provider is their only way in."""
    kit = make_kit(sign_in_methods="password", **oidc_provider.settings())
    async with browser(make_host_app(kit)) as b:
        assert (await continue_with_acme(b, provider_browser, "only-way")).status_code == 303
        [link] = await connections(kit)
        path = f"/auth/user/connected-accounts/{link.id}/remove"
        confirm = await b.get(path)
        refused = await b.post(path, data=hidden_fields(confirm.text))
        assert refused.status_code == 422
        assert alert_text(refused.text) == (
            "Acme is the only way you have to sign in. Set a password first, then disconnect it."
        )
    assert len(await connections(kit)) == 1
    await kit.aclose()


async def test_a_provider_account_connected_to_another_user_stays_theirs(
    app: Starlette, kit: AuthKit, provider_browser: httpx.AsyncClient
) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as theirs:
        assert (await continue_with_acme(theirs, provider_browser, "shared")).status_code == 303
        owner = (await whoami(theirs))["user_id"]
    async with browser(app) as mine:
        assert (await sign_in_password(mine)).status_code == 303
        r = await connect(mine, provider_browser, "shared")
        page = (await mine.get(r.headers["location"])).text
        assert alert_text(page) == (
            "That Acme account is connected to another user here. Sign in with it there "
            "to disconnect it first."
        )
    [link] = await connections(kit)
    assert link.user_id == owner


async def test_another_users_connection_is_404_and_untouched(
    app: Starlette, kit: AuthKit, provider_browser: httpx.AsyncClient
) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app) as theirs:
        assert (await continue_with_acme(theirs, provider_browser, "theirs")).status_code == 303
    [link] = await connections(kit)
    async with browser(app) as mine:
        assert (await sign_in_password(mine)).status_code == 303
        path = f"/auth/user/connected-accounts/{link.id}/remove"
        assert (await mine.get(path)).status_code == 404
        page = await mine.get(ACCOUNT)
        posted = await mine.post(path, data={"csrf_token": csrf_of(page.text)})
        assert posted.status_code == 404
        assert (await mine.get("/auth/user/connected-accounts/connect/nope")).status_code == 404
    assert len(await connections(kit)) == 1
