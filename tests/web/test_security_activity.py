"""
Security activity: the user's own audit events as sentences with time (UTC), browser
and IP; the latest five on the security page, all of them on a paged page (20 a page,
"Newer" and "Older" both ways, keyset on (at, id)); folded failures show their count;
unknown events a generic sentence; a bad cursor is the first page. Never another
user's events. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event
from sqlmodel import col, select
from starlette.applications import Starlette

import authkit
from authkit import AuthKit
from authkit.audit import RequestMeta, record_event
from authkit.flows.activity import activity_page
from authkit.messages import MESSAGES
from authkit.store.models import AuditEventRow

from ..conftest import FakeClock
from .flow_helpers import PASSWORD, sign_in
from .pipeline_helpers import EMAIL
from .test_active_devices import CHROME_MAC, FIREFOX_ANDROID, browser, revoke, session_of

pytestmark = pytest.mark.anyio

SECURITY = "/auth/user/security"
ACTIVITY = "/auth/user/security/activity"
OTHER_EMAIL = "grace@example.com"


def activity_items(page: str) -> list[str]:
    return re.findall(r'<li class="ak-activity__item">(.*?)</li>', page, re.S)


def ips_on(page: str) -> list[str]:
    return re.findall(r'<span class="ak-ip">([^<]+)</span>', page)


def link(page: str, rel: str) -> str | None:
    match = re.search(rf'href="([^"]+)" rel="{rel}"', page)
    return html.unescape(match.group(1)) if match else None


async def only_synthetic_events(
    kit: AuthKit, clock: FakeClock, user_id: str, other_id: str, count: int
) -> list[str]:
    """Replace the log with `count` events of the user (three to a timestamp, so ties
    are broken by id) and some of the other user in between; returns the user's IPs,
    newest first."""
    ips = []
    async with kit.services.db.session() as s:
        await s.exec(delete(AuditEventRow))
        start = clock.now - timedelta(days=2)
        for n in range(count):
            at = start + timedelta(minutes=n // 3)
            ip = f"192.0.2.{n}"
            ips.append(ip)
            meta = RequestMeta(ip_address=ip, user_agent=CHROME_MAC)
            record_event(s, "sign_in", at=at, meta=meta, user_id=user_id, method="password")
            if n % 4 == 0:
                theirs = RequestMeta(ip_address=f"198.51.100.{n}", user_agent=FIREFOX_ANDROID)
                record_event(s, "sign_in", at=at, meta=theirs, user_id=other_id)
    # Newest first: later times first, and within a time the larger id first.
    async with kit.services.db.session() as s:
        rows = (
            await s.exec(
                select(AuditEventRow)
                .where(col(AuditEventRow.user_id) == user_id)
                .order_by(col(AuditEventRow.at).desc(), col(AuditEventRow.id).desc())
            )
        ).all()
    ordered = [row.ip_address for row in rows]
    assert sorted(ordered) == sorted(ips)
    return ordered


async def test_the_security_page_shows_the_latest_five_in_words(
    app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    await kit.users.create(email=OTHER_EMAIL, password=PASSWORD)
    async with browser(app, CHROME_MAC) as mac, browser(app, FIREFOX_ANDROID) as phone:
        clock.advance(1)
        assert (await sign_in(phone, EMAIL, "not the password at all")).status_code == 422
        assert (await sign_in(phone, OTHER_EMAIL)).status_code == 303  # not mine
        clock.advance(1)
        assert (await sign_in(mac, EMAIL)).status_code == 303
        page = (await mac.get(SECURITY)).text
        items = activity_items(page)
        assert len(items) == 3, items  # account created, failed sign-in, signed in
        assert "Signed in" in items[0] and "Chrome 131 on macOS" in items[0]
        assert "127.0.0.1" in items[0] and " UTC</time>" in items[0]
        assert "Failed sign-in attempt" in items[1] and "Firefox 133 on Android" in items[1]
        assert "Account created" in items[2]
        assert f'href="{ACTIVITY}"' in page
        # Signing a device out is activity too; the list keeps to five.
        other_phone = await session_of(phone)  # the other user's: 404, and no event
        assert (await revoke(mac, other_phone)).status_code == 404
        for _ in range(3):
            clock.advance(1)
            async with browser(app, FIREFOX_ANDROID) as extra:
                assert (await sign_in(extra, EMAIL)).status_code == 303
                clock.advance(1)
                assert (await revoke(mac, await session_of(extra))).status_code == 303
        items = activity_items((await mac.get(SECURITY)).text)
        assert len(items) == 5
        assert "Signed out another device" in items[0]
        assert all("grace" not in item for item in items)


async def test_folded_failures_show_their_count_and_unknown_events_a_generic_sentence(
    app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    await kit.ensure_started()
    user = await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app, CHROME_MAC) as mac:
        assert (await sign_in(mac, EMAIL)).status_code == 303
        meta = RequestMeta(ip_address="2001:db8:85a3::8a2e:370:7334", user_agent="")
        async with kit.services.db.session() as s:
            record_event(
                s,
                "sign_in.failed",
                at=clock.now,
                meta=meta,
                user_id=user.id,
                method="password",
                reason="invalid_credentials",
                repeats=23,
                since=clock.now.isoformat(),
            )
            record_event(s, "webhook.frobnicated", at=clock.now, meta=meta, user_id=user.id)
            record_event(s, "password.changed", at=clock.now, meta=meta, user_id=user.id)
        text = (await mac.get(ACTIVITY)).text
        assert "23 more failed sign-in attempts" in text
        assert "Other account activity" in text and "webhook" not in text
        assert "Changed the password" in text
        assert 'Unknown browser · <span class="ak-ip">2001:db8:85a3::8a2e:370:7334' in text


async def test_paging_through_45_events_both_ways(
    app: Starlette, kit: AuthKit, clock: FakeClock
) -> None:
    await kit.ensure_started()
    user = await kit.users.create(email=EMAIL, password=PASSWORD)
    other = await kit.users.create(email=OTHER_EMAIL, password=PASSWORD)
    async with browser(app, CHROME_MAC) as mac:
        assert (await sign_in(mac, EMAIL)).status_code == 303
        expected = await only_synthetic_events(kit, clock, user.id, other.id, 45)
        first = (await mac.get(ACTIVITY)).text
        assert ips_on(first) == expected[:20]
        assert link(first, "prev") is None
        older = link(first, "next")
        assert older is not None and "before=" in older
        second = (await mac.get(older)).text
        assert ips_on(second) == expected[20:40]
        third_url = link(second, "next")
        assert third_url is not None
        third = (await mac.get(third_url)).text
        assert ips_on(third) == expected[40:]
        assert link(third, "next") is None
        # And back up with "Newer".
        newer = link(third, "prev")
        assert newer is not None and "after=" in newer
        back = (await mac.get(newer)).text
        assert ips_on(back) == expected[20:40]
        top_url = link(back, "prev")
        assert top_url is not None
        top = (await mac.get(top_url)).text
        assert ips_on(top) == expected[:20]
        assert link(top, "prev") is None and link(top, "next") is not None
        # Never the other user's events, on any page.
        for page in (first, second, third, back, top):
            assert "198.51.100." not in page
        # The security page shows the newest five of them.
        assert ips_on((await mac.get(SECURITY)).text) == expected[:5]


async def test_each_page_is_read_along_the_user_at_id_index(kit: AuthKit, clock: FakeClock) -> None:
    """The page queries (first, older, newer) as the flow sends them: the database reads
    them along (user_id, at, id), with no sort of all the user's events."""
    await kit.ensure_started()
    user = await kit.users.create(email=EMAIL, password=PASSWORD)
    other = await kit.users.create(email=OTHER_EMAIL, password=PASSWORD)
    await only_synthetic_events(kit, clock, user.id, other.id, 45)
    engine = kit.services.db.engine
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        if "FROM audit_events" in sql and "ORDER BY" in sql:
            statements.append((sql, params))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        first = await activity_page(kit.services, user.id)
        second = await activity_page(kit.services, user.id, before=first.older)
        await activity_page(kit.services, user.id, after=second.newer)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    assert len(statements) == 3
    postgres = engine.dialect.name == "postgresql"
    async with engine.connect() as conn:
        if postgres:
            # A few dozen rows: without this the planner rightly reads the whole table.
            await conn.exec_driver_sql("SET enable_seqscan = off")
        for sql, params in statements:
            explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            plan = " ".join(str(row) for row in await conn.exec_driver_sql(explain + sql, params))
            assert "ix_audit_events_user_id_at_id" in plan, plan
            assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


@pytest.mark.parametrize(
    "query",
    [
        "before=garbage",
        "after=garbage",
        "before=",
        "before=999999999999999999.evt_abc",
        "after=99999999999999999999999.evt_abc",
        "before=123.evt_x%27%20OR%201=1--",
        "before=-5.evt_abc",
        "before=" + "9" * 5000,
        "after=garbage&before=%00",
        "before=1.evt_abc",  # well formed, older than everything: nothing there
        "after=4102444800000000.evt_zzz",  # well formed, newer than everything
    ],
)
async def test_a_bad_cursor_shows_the_first_page(
    app: Starlette, kit: AuthKit, clock: FakeClock, query: str
) -> None:
    await kit.ensure_started()
    user = await kit.users.create(email=EMAIL, password=PASSWORD)
    other = await kit.users.create(email=OTHER_EMAIL, password=PASSWORD)
    async with browser(app, CHROME_MAC) as mac:
        assert (await sign_in(mac, EMAIL)).status_code == 303
        expected = await only_synthetic_events(kit, clock, user.id, other.id, 25)
        r = await mac.get(f"{ACTIVITY}?{query}")
        assert r.status_code == 200, r.text
        assert ips_on(r.text) == expected[:20]


async def test_the_activity_page_needs_a_signed_in_user(app: Starlette, kit: AuthKit) -> None:
    await kit.ensure_started()
    async with browser(app, CHROME_MAC) as c:
        r = await c.get(ACTIVITY)
        assert r.status_code == 303 and "/auth/sign-in" in r.headers["location"]


async def test_no_activity_says_so(app: Starlette, kit: AuthKit) -> None:
    await kit.ensure_started()
    await kit.users.create(email=EMAIL, password=PASSWORD)
    async with browser(app, CHROME_MAC) as mac:
        assert (await sign_in(mac, EMAIL)).status_code == 303
        async with kit.services.db.session() as s:
            await s.exec(delete(AuditEventRow))
        assert "No activity yet." in (await mac.get(ACTIVITY)).text
        page = (await mac.get(SECURITY)).text
        assert "No activity yet." in page and f'href="{ACTIVITY}"' not in page


#: Events written without a user, or about steps the user never sees in their own list.
WITHOUT_A_SENTENCE = {
    "sign_up.started",
    "sign_up.code_failed",
    "sign_up.code_resent",
    "password_reset.code_failed",
    "user.deleted",
    # About an address with no account yet: in no user's activity.
    "sign_up.invited",
    "waitlist.joined",
}


def test_every_audited_event_has_a_sentence() -> None:
    """An event added without `activity_<event>` in messages.py would read "Other
    account activity" in the user's list: name it."""
    source = Path(authkit.__file__).parent
    written = {"sign_in", "sign_in.failed", "reverify.failed", "password.set"}  # in variables
    for path in source.rglob("*.py"):
        written |= set(re.findall(r'record_event\(\s*\w+,\s*"([a-z_.]+)"', path.read_text()))
    missing = sorted(
        event
        for event in written - WITHOUT_A_SENTENCE
        if "activity_" + event.replace(".", "_") not in MESSAGES
    )
    assert missing == [], missing
