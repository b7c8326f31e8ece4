"""
Active devices in the Security section: one row per live session with its browser and
system (parsed from the User-Agent), IP and times, "This device" on the right one; sign
out another device (its refresh fails at once, so it is out within a token lifetime),
or all others after "Confirm it's you"; another user's session, an unknown or ended one
→ 404 and nothing touched; CSRF refused. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col, select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.sessions import refresh_session
from authkit.store.models import AuditEventRow, SessionRow
from authkit.user_agents import describe_user_agent

from ..conftest import FakeClock
from .flow_helpers import PASSWORD, csrf_of, sign_in
from .pipeline_helpers import EMAIL, hidden_fields

pytestmark = pytest.mark.anyio

SECURITY = "/auth/user/security"
OTHERS = "/auth/user/security/sessions/revoke-others"
OTHER_EMAIL = "grace@example.com"
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
WINDOW = 600
HTMX = {"HX-Request": "true", "HX-Target": "div#ak-user-security"}


def browser(app: Starlette, user_agent: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"user-agent": user_agent},
    )


async def is_signed_in(client: httpx.AsyncClient) -> bool:
    return bool((await client.get("/")).json()["is_signed_in"])


async def session_of(client: httpx.AsyncClient) -> str:
    session_id = (await client.get("/")).json()["session_id"]
    assert isinstance(session_id, str)
    return session_id


def device_rows(page: str) -> list[str]:
    return re.findall(r'<li class="ak-item ak-device">(.*?)</li>', page, re.S)


def revoke_path(session_id: str) -> str:
    return f"/auth/user/security/sessions/{session_id}/revoke"


async def revoke(client: httpx.AsyncClient, session_id: str, **kwargs: object) -> httpx.Response:
    """Post a "Sign out" form with this browser's CSRF token (from the profile's form)."""
    page = await client.get("/auth/user")
    return await client.post(
        revoke_path(session_id),
        data={"csrf_token": csrf_of(page.text)},
        **kwargs,  # type: ignore[arg-type]
    )


async def revoked_events(kit: AuthKit) -> list[AuditEventRow]:
    async with kit.services.db.session() as s:
        rows = await s.exec(select(AuditEventRow).where(AuditEventRow.event == "session.revoked"))
        return list(rows.all())


async def test_each_signed_in_browser_is_a_row_and_this_device_is_marked(
    app: Starlette, kit: AuthKit
) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app, CHROME_MAC) as mac, browser(app, FIREFOX_ANDROID) as phone:
        assert (await sign_in(mac, EMAIL)).status_code == 303
        assert (await sign_in(phone, EMAIL)).status_code == 303
        phone_session = await session_of(phone)
        page = (await mac.get(SECURITY)).text
        rows = device_rows(page)
        assert len(rows) == 2, rows
        this, other = rows  # this device first
        assert "Chrome 131 on macOS" in this and "This device" in this
        assert "ak-device-icon--desktop" in this and "<form" not in this
        assert "Firefox 133 on Android" in other and "This device" not in other
        assert "ak-device-icon--mobile" in other
        assert f'action="{revoke_path(phone_session)}"' in other
        assert "127.0.0.1" in other and "Signed in " in other
        assert "Last active just now" in other
        assert 'href="/auth/user/security/sessions/revoke-others"' in page
        # Seen from the phone, the badge moves with it.
        rows = device_rows((await phone.get(SECURITY)).text)
        assert "Firefox 133 on Android" in rows[0] and "This device" in rows[0]
        assert "This device" not in rows[1]


async def test_a_lone_session_offers_nothing_to_sign_out(app: Starlette, kit: AuthKit) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app, "") as c:
        assert (await sign_in(c, EMAIL)).status_code == 303
        page = (await c.get(SECURITY)).text
        [row] = device_rows(page)
        assert "Unknown browser" in row and "This device" in row
        assert "revoke-others" not in page


async def test_last_active_follows_the_refreshes_and_ended_sessions_are_gone(
    app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app, CHROME_MAC) as mac, browser(app, SAFARI_IPHONE) as phone:
        assert (await sign_in(mac, EMAIL)).status_code == 303
        assert (await sign_in(phone, EMAIL)).status_code == 303
        clock.advance(3 * 3600)
        rows = device_rows((await mac.get(SECURITY)).text)  # mac refreshed: active now
        assert "Last active just now" in rows[0]
        assert "Safari 17 on iOS" in rows[1] and "Last active 3 h ago" in rows[1]
        # An expired session is no device any more.
        async with kit.services.db.session() as s:
            await s.exec(
                update(SessionRow)
                .where(col(SessionRow.id) == await session_of(phone))
                .values(expires_at=clock.now - timedelta(seconds=1))
            )
        assert len(device_rows((await mac.get(SECURITY)).text)) == 1


async def test_signing_another_device_out_ends_its_refresh_at_once(
    app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app, CHROME_MAC) as mac, browser(app, FIREFOX_ANDROID) as phone:
        assert (await sign_in(mac, EMAIL)).status_code == 303
        assert (await sign_in(phone, EMAIL)).status_code == 303
        phone_session = await session_of(phone)
        refresh_token = phone.cookies[kit.settings.cookie_names.refresh]
        r = await revoke(mac, phone_session)
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/auth/user/security?done=device_signed_out"
        page = (await mac.get(r.headers["location"])).text
        assert "That device was signed out." in page
        assert len(device_rows(page)) == 1
        # Its refresh token is dead now; its session token lives out its short life.
        assert await refresh_session(kit.services, refresh_token) is None
        assert await is_signed_in(phone)
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert not await is_signed_in(phone)
        assert await is_signed_in(mac)
        # Revoked already: nothing left to revoke.
        assert (await revoke(mac, phone_session)).status_code == 404
    [event] = await revoked_events(kit)
    assert event.detail["revoked_session_id"] == phone_session
    assert event.session_id != phone_session and event.user_agent == CHROME_MAC


async def test_with_htmx_the_section_swaps_in_place(app: Starlette, kit: AuthKit) -> None:
    """No full navigation: the redirect is a 303 htmx follows, and the security page
    comes back as its component only, with the notice."""
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app, CHROME_MAC) as mac, browser(app, FIREFOX_ANDROID) as phone:
        assert (await sign_in(mac, EMAIL)).status_code == 303
        assert (await sign_in(phone, EMAIL)).status_code == 303
        r = await revoke(mac, await session_of(phone), headers=HTMX)
        assert r.status_code == 303 and "hx-redirect" not in r.headers
        swapped = await mac.get(r.headers["location"], headers=HTMX)
        assert swapped.text.lstrip().startswith('<div class="ak-component" id="ak-user-security"')
        assert "<html" not in swapped.text
        assert "That device was signed out." in swapped.text
        assert len(device_rows(swapped.text)) == 1


async def test_a_stale_row_answers_404_with_the_list_as_it_is_now(
    app: Starlette, kit: AuthKit
) -> None:
    """A list open in two tabs: the second "Sign out" of the same device is a 404 whose
    body is the security page as it is now, with a sentence, so htmx (which swaps error
    responses too) puts the fresh list in place instead of an error page."""
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app, CHROME_MAC) as mac, browser(app, FIREFOX_ANDROID) as phone:
        assert (await sign_in(mac, EMAIL)).status_code == 303
        assert (await sign_in(phone, EMAIL)).status_code == 303
        phone_session = await session_of(phone)
        assert (await revoke(mac, phone_session)).status_code == 303
        for headers in (HTMX, {}):
            r = await revoke(mac, phone_session, headers=headers)
            assert r.status_code == 404
            assert "That device is no longer signed in." in r.text
            assert len(device_rows(r.text)) == 1
            assert r.headers["cache-control"] == "no-store"
        assert r.text.lstrip().startswith("<!doctype html>")
        swapped = (await revoke(mac, phone_session, headers=HTMX)).text
        assert swapped.lstrip().startswith('<div class="ak-component" id="ak-user-security"')


async def test_another_users_or_unknown_or_own_session_is_404_and_untouched(
    app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    await kit.users.create(email=OTHER_EMAIL, password=PASSWORD)
    async with browser(app, CHROME_MAC) as mine, browser(app, FIREFOX_ANDROID) as theirs:
        assert (await sign_in(mine, EMAIL)).status_code == 303
        assert (await sign_in(theirs, OTHER_EMAIL)).status_code == 303
        their_session = await session_of(theirs)
        for target in (their_session, "sess_doesnotexist", await session_of(mine), "x" * 300):
            r = await revoke(mine, target)
            assert r.status_code == 404, (target, r.status_code)
        # Their page never lists my session, mine never theirs.
        assert their_session not in (await mine.get(SECURITY)).text
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert await is_signed_in(theirs) and await is_signed_in(mine)
    assert await revoked_events(kit) == []
    async with kit.services.db.session() as s:
        rows = (await s.exec(select(SessionRow))).all()
    assert all(row.revoked_at is None for row in rows)


async def test_a_post_without_a_valid_csrf_token_is_refused(app: Starlette, kit: AuthKit) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app, CHROME_MAC) as mac, browser(app, FIREFOX_ANDROID) as phone:
        assert (await sign_in(mac, EMAIL)).status_code == 303
        assert (await sign_in(phone, EMAIL)).status_code == 303
        target = revoke_path(await session_of(phone))
        for data in ({"no_token": "1"}, {"csrf_token": "forged"}):
            r = await mac.post(target, data=data)
            assert r.status_code == 403, r.text
            assert "Your form expired. Please try again." in r.text
            assert len(device_rows(r.text)) == 2  # the page again, nothing signed out
        cross_site = await mac.post(
            target,
            data={"csrf_token": csrf_of((await mac.get(SECURITY)).text)},
            headers={"sec-fetch-site": "cross-site"},
        )
        assert cross_site.status_code == 403
        assert (await mac.get(target)).status_code == 405  # GET never changes anything
    assert await revoked_events(kit) == []


async def test_signed_out_visitors_are_sent_to_sign_in(app: Starlette, kit: AuthKit) -> None:
    await kit.ensure_started()
    async with browser(app, CHROME_MAC) as c:
        token = csrf_of((await c.get("/auth/sign-in")).text)
        r = await c.post(revoke_path("sess_whatever"), data={"csrf_token": token})
        assert r.status_code == 303 and "/auth/sign-in" in r.headers["location"]
        r = await c.get(OTHERS)
        assert r.status_code == 303 and "/auth/sign-in" in r.headers["location"]


async def test_signing_out_all_others_asks_to_confirm_its_you_first(
    app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with (
        browser(app, CHROME_MAC) as mac,
        browser(app, FIREFOX_ANDROID) as phone,
        browser(app, SAFARI_IPHONE) as iphone,
    ):
        for c in (mac, phone, iphone):
            assert (await sign_in(c, EMAIL)).status_code == 303
        clock.advance(WINDOW + 1)
        # Neither the page nor a post goes through without a recent factor.
        r = await mac.get(OTHERS)
        assert r.status_code == 303 and r.headers["location"].startswith("/auth/reverify")
        token = csrf_of((await mac.get(SECURITY)).text)
        posted = await mac.post(OTHERS, data={"csrf_token": token})
        assert posted.status_code == 303 and "/auth/reverify" in posted.headers["location"]
        assert await revoked_events(kit) == []
        reverify = await mac.get(r.headers["location"])
        done = await mac.post(
            "/auth/reverify", data={**hidden_fields(reverify.text), "password": PASSWORD}
        )
        assert done.status_code == 303 and done.headers["location"] == OTHERS, done.text
        confirm = await mac.get(OTHERS)
        assert confirm.status_code == 200 and "Sign out of all other devices?" in confirm.text
        r = await mac.post(OTHERS, data=hidden_fields(confirm.text))
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/auth/user/security?done=devices_signed_out"
        page = (await mac.get(r.headers["location"])).text
        assert "Your other devices were signed out." in page
        assert len(device_rows(page)) == 1
        clock.advance(kit.settings.session_token_lifetime + 1)
        assert await is_signed_in(mac)
        assert not await is_signed_in(phone) and not await is_signed_in(iphone)
    [event] = await revoked_events(kit)
    assert event.detail["others"] is True and event.detail["count"] == 2


def test_user_agents_are_parsed_by_the_library_and_cached() -> None:
    describe_user_agent.cache_clear()
    chrome = describe_user_agent(CHROME_MAC)
    assert (chrome.browser, chrome.os, chrome.is_mobile) == ("Chrome 131", "macOS", False)
    safari = describe_user_agent(SAFARI_IPHONE)
    assert (safari.browser, safari.os, safari.is_mobile) == ("Safari 17", "iOS", True)
    edge = describe_user_agent(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
    )
    assert (edge.browser, edge.os) == ("Edge 131", "Windows")
    for nothing in ("", "   ", "python-httpx/0.28.1", "\x00garbage ☃", "a" * 512):
        summary = describe_user_agent(nothing)
        assert summary.browser is None and summary.os is None, nothing
    describe_user_agent(CHROME_MAC)
    assert describe_user_agent.cache_info().hits >= 1
