"""The request API hosts use: `requires_user`, `auth()`, `current_user()`, the handling of
broken cookies, the profile page, and a kit mounted somewhere other than /auth."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from authkit import Auth, AuthKit, auth, current_user
from authkit.flows.admin import create_user, delete_user

from ..conftest import FakeClock, KitFactory
from ..hostapp import make_host_app
from .flow_helpers import PASSWORD, csrf_of, form_token, sign_in

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"


@asynccontextmanager
async def browser(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def make_user(kit: AuthKit, **names: str) -> str:
    await kit.ensure_started()
    return await create_user(kit.services, email=EMAIL, password=PASSWORD, **names)


async def whoami(request: Request) -> Response:
    state = auth(request)
    user = await current_user(request)
    return JSONResponse({"is_signed_in": state.is_signed_in, "user": user.id if user else None})


def cleared(response: httpx.Response) -> set[str]:
    """Names of the cookies this response deletes."""
    return {
        c.split("=", 1)[0]
        for c in response.headers.get_list("set-cookie")
        if "Max-Age=0" in c and c.split(";", 1)[0].endswith("=")
    }


# -- requires_user ----------------------------------------------------------------------------


async def test_requires_user_redirects_html_to_sign_in_with_the_way_back(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """An anonymous page view goes to sign-in with redirect_url, and comes back after."""
    r = await client.get("/dashboard?x=1&y=2")
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/auth/sign-in?redirect_url=%2Fdashboard%3Fx%3D1%26y%3D2"
    page = await client.get(r.headers["location"])
    assert 'name="redirect_url" value="/dashboard?x=1&amp;y=2"' in page.text, page.text
    await make_user(kit)
    r = await client.post(
        "/auth/sign-in",
        data={
            "csrf_token": csrf_of(page.text),
            "email": EMAIL,
            "password": PASSWORD,
            "redirect_url": html.unescape("/dashboard?x=1&amp;y=2"),
        },
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/dashboard?x=1&y=2"


async def test_requires_user_answers_json_with_401(client: httpx.AsyncClient) -> None:
    """A JSON client gets 401 and a JSON body, not a redirect to an HTML page."""
    r = await client.get("/api/me", headers={"accept": "application/json"})
    assert r.status_code == 401, r.text
    assert r.json() == {"error": "unauthorized"}


async def test_requires_user_answers_htmx_with_401(client: httpx.AsyncClient) -> None:
    """An htmx request gets 401 (htmx would swap a redirected sign-in page into a fragment)."""
    r = await client.get("/dashboard", headers={"hx-request": "true"})
    assert r.status_code == 401, r.text


# -- auth() and current_user() ------------------------------------------------------------------


async def test_auth_without_the_middleware_says_to_install_it(kit: AuthKit) -> None:
    """Mounting the kit but forgetting install() fails loudly, naming the fix."""

    async def probe(request: Request) -> Response:
        return PlainTextResponse(str(auth(request).is_signed_in))

    app = Starlette(routes=[Route("/probe", probe), Mount("/auth", app=kit)])
    try:
        async with browser(app) as c:
            with pytest.raises(RuntimeError, match="install"):
                await c.get("/probe")
    finally:
        await kit.aclose()


async def test_sub_app_pages_work_even_without_install(
    kit: AuthKit, caplog: pytest.LogCaptureFixture
) -> None:
    """Forgetting install() leaves the kit's own pages working, and logs how to fix it."""
    app = Starlette(routes=[Mount("/auth", app=kit)])
    try:
        async with browser(app) as c:
            r = await c.get("/auth/sign-in")
            assert r.status_code == 200, r.text
            assert 'name="csrf_token"' in r.text
    finally:
        await kit.aclose()
    assert "call authkit.install(app)" in caplog.text


async def test_current_user_is_none_when_anonymous(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    """Nobody signed in: current_user() is None."""
    app.add_route("/whoami", whoami)
    r = await client.get("/whoami")
    assert r.json() == {"is_signed_in": False, "user": None}, r.text


async def test_current_user_is_none_for_a_deleted_user_with_a_valid_token(
    client: httpx.AsyncClient, app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    """The token still verifies for its lifetime, but the deleted user is not loaded."""
    app.add_route("/whoami", whoami)
    user_id = await make_user(kit)
    assert (await sign_in(client, EMAIL)).status_code == 303
    assert (await client.get("/whoami")).json() == {"is_signed_in": True, "user": user_id}
    assert await delete_user(kit.services, user_id)
    r = await client.get("/whoami")
    assert r.json() == {"is_signed_in": True, "user": None}, r.text
    profile = await client.get("/auth/user")
    assert profile.status_code == 303, profile.text
    assert profile.headers["location"] == "/auth/sign-in"
    clock.advance(kit.settings.session_token_lifetime + 1)
    r = await client.get("/whoami")
    assert r.json() == {"is_signed_in": False, "user": None}, r.text
    assert {"__session", "__refresh"} <= cleared(r), r.headers


async def test_the_sites_own_cookies_are_not_parsed_for_an_anonymous_request(
    client: httpx.AsyncClient, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deliverable 2 of the performance issue: a visitor who is not signed in costs the
    middleware nothing beyond a substring search, whatever other cookies the site sets."""

    def no_full_parse(raw: bytes | None) -> None:
        raise AssertionError("the middleware parsed every cookie")

    monkeypatch.setattr("authkit.cookies.parse_cookies", no_full_parse)
    app.add_route("/whoami", whoami)
    r = await client.get("/whoami", headers={"cookie": "_ga=GA1.2.3; theme=dark; cart=x=y"})
    assert r.json() == {"is_signed_in": False, "user": None}, r.text


async def test_a_signed_in_request_reuses_the_auth_of_its_token(
    client: httpx.AsyncClient, app: Starlette, kit: AuthKit
) -> None:
    """The warm check allocates no Auth: the one built when the token was first verified
    comes back from the cache, request after request."""
    seen: list[Auth] = []

    async def remember(request: Request) -> Response:
        seen.append(auth(request))
        return PlainTextResponse("ok")

    app.add_route("/remember", remember)
    user_id = await make_user(kit)
    assert (await sign_in(client, EMAIL)).status_code == 303
    for _ in range(3):
        assert (await client.get("/remember")).status_code == 200
    assert seen[0] is seen[1] is seen[2]
    assert seen[0].user_id == user_id


@pytest.mark.parametrize("value", ["garbage", "sess_abc.def", "sess_" + "x" * 300, "a.b.c"])
async def test_garbage_refresh_cookie_means_anonymous_and_clears_both(
    client: httpx.AsyncClient, app: Starlette, value: str
) -> None:
    """A refresh cookie that matches no session: anonymous, and both cookies deleted."""
    app.add_route("/whoami", whoami)
    client.cookies.set("__refresh", value)
    r = await client.get("/whoami")
    assert r.status_code == 200, r.text
    assert r.json() == {"is_signed_in": False, "user": None}
    assert {"__session", "__refresh"} <= cleared(r), r.headers


@pytest.mark.parametrize("value", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
async def test_garbage_session_cookie_alone_is_cleared(
    client: httpx.AsyncClient, app: Starlette, value: str
) -> None:
    """A session token that does not verify, with no refresh cookie: anonymous, cleared."""
    app.add_route("/whoami", whoami)
    client.cookies.set("__session", value)
    r = await client.get("/whoami")
    assert r.status_code == 200, r.text
    assert r.json() == {"is_signed_in": False, "user": None}
    assert "__session" in cleared(r), r.headers
    dashboard = await client.get("/dashboard")
    assert dashboard.status_code == 303, dashboard.text


# -- the profile page ------------------------------------------------------------------------


async def test_user_page_shows_email_and_names(client: httpx.AsyncClient, kit: AuthKit) -> None:
    """The profile shows the primary email and the editable first and last name."""
    await make_user(kit, first_name="Ada", last_name="Lovelace")
    assert (await sign_in(client, EMAIL)).status_code == 303
    r = await client.get("/auth/user")
    assert r.status_code == 200, r.text
    assert f'id="ak-user-profile-email" title="{EMAIL}">{EMAIL}<' in r.text, r.text
    assert 'name="first_name" type="text" value="Ada"' in r.text, r.text
    assert 'name="last_name" type="text" value="Lovelace"' in r.text, r.text
    assert "Ada Lovelace" in r.text


async def test_saving_names_re_renders_with_a_notice_and_the_new_names(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """POST /user saves the names and shows them at once, with "Your profile was saved." """
    await make_user(kit, first_name="Ada", last_name="Byron")
    assert (await sign_in(client, EMAIL)).status_code == 303
    token = await form_token(client, "/auth/user")
    r = await client.post(
        "/auth/user",
        data={"csrf_token": token, "first_name": " Augusta ", "last_name": "Lovelace"},
    )
    assert r.status_code == 200, r.text
    assert "Your profile was saved." in r.text
    assert 'value="Lovelace"' in r.text, r.text
    again = await client.get("/auth/user")
    assert 'name="first_name" type="text" value="Augusta"' in again.text, again.text
    assert 'class="ak-identity__name">Augusta Lovelace<' in again.text, again.text
    # The page answering the save shows the saved names too, not the ones before it.
    assert 'class="ak-identity__name">Augusta Lovelace<' in r.text, r.text


# -- mounted elsewhere ----------------------------------------------------------------------


async def test_kit_mounted_at_another_path(make_kit: KitFactory) -> None:
    """Mounted at /account: sign-in redirects, forms and the token issuer all use it."""
    kit = make_kit()
    try:
        async with browser(make_host_app(kit, mount_path="/account")) as c:
            r = await c.get("/dashboard")
            assert r.status_code == 303, r.text
            assert r.headers["location"] == "/account/sign-in?redirect_url=%2Fdashboard"
            config = (await c.get("/account/.well-known/openid-configuration")).json()
            assert config["issuer"] == "http://testserver/account", config
            assert config["jwks_uri"] == "http://testserver/account/.well-known/jwks.json"
            page = await c.get("/account/sign-in")
            assert page.status_code == 200, page.text
            assert 'action="/account/sign-in"' in page.text
            await make_user(kit)
            r = await c.post(
                "/account/sign-in",
                data={"csrf_token": csrf_of(page.text), "email": EMAIL, "password": PASSWORD},
            )
            assert r.status_code == 303, r.text
            me = (await c.get("/api/me", headers={"accept": "application/json"})).json()
            assert me["claims"]["iss"] == "http://testserver/account", me
            assert (await c.get("/auth/sign-in")).status_code == 404
    finally:
        await kit.aclose()
