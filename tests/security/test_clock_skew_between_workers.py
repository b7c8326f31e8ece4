"""
Clock skew between workers (SECURITY.md load test L8; ASVS 9.2.1 exp/nbf, 7.3 session
timeouts): two AuthKit instances ("workers") on one database, one browser whose requests
a load balancer sends to either, and the second worker's clock 5, 30 or 120 seconds ahead
of or behind the first's.

- A session token minted by one worker is accepted by the other while the skew stays
  inside what the token allows (`nbf` with NBF_LEEWAY_SECONDS, `exp` with none) and
  refused beyond it; the refused token is then refreshed from `__refresh`, so the user
  stays signed in, in the same session, whichever worker answers and however often.
- Refresh-token rotation and its reuse detection survive the skew: a browser alternating
  between the workers is never taken for a thief.
- A session's end, its rotations and the reuse grace are judged by one clock all workers
  share (the database's; here the test's clock, passed as `store_clock`), so a worker
  behind cannot revive a session that has ended, and racing refreshes across skewed
  workers are not taken for a replay.
- A clock stepped back (NTP) makes the verified-token cache decide exactly as a full
  verification does.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.cookies import REFRESH_COOKIE, SESSION_COOKIE
from authkit.errors import TokenError
from authkit.flows.admin import create_user
from authkit.security.tokens import KeyRing
from authkit.store.models import AuditEventRow, SessionRow, SigningKeyRow

from ..conftest import FakeClock, KitFactory
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, sign_in

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"
TOKEN_LIFETIME = 60
#: The documented policy (tokens.NBF_LEEWAY_SECONDS), written out so that a change to the
#: constant fails here instead of moving the expectations with it.
LEEWAY = 5
SKEWS = [-120, -30, -5, 5, 30, 120]


class SkewedClock:
    """Another host's clock: the test's clock plus a fixed offset (seconds)."""

    def __init__(self, base: FakeClock, offset: float) -> None:
        self.base = base
        self.offset = timedelta(seconds=offset)

    def __call__(self) -> datetime:
        return self.base.now + self.offset


class LoadBalancer(httpx.AsyncBaseTransport):
    """Sends each request to the worker named in `to`; one browser, one cookie jar."""

    def __init__(self, **apps: Starlette) -> None:
        # raise_app_exceptions=False: an exception escaping the app is the 500 a browser sees.
        self.workers = {
            name: httpx.ASGITransport(app=app, raise_app_exceptions=False)
            for name, app in apps.items()
        }
        self.to = next(iter(apps))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.workers[self.to].handle_async_request(request)


@dataclass
class Farm:
    """Two workers on one database: `a` on the test's clock, `b` skewed by `skew` seconds."""

    a: AuthKit
    b: AuthKit
    skew: int
    balancer: LoadBalancer
    browser: httpx.AsyncClient

    async def visit(self, worker: str, browser: httpx.AsyncClient | None = None) -> Visit:
        """The home page through worker `worker`: who is signed in, and any refresh."""
        browser = browser or self.browser
        self.balancer.to = worker
        r = await browser.get("/")
        assert r.status_code == 200, r.text
        body = r.json()
        set_cookies = [c.split("=", 1)[0] for c in r.headers.get_list("set-cookie")]
        cleared = browser.cookies.get(REFRESH_COOKIE) is None
        return Visit(
            signed_in=body["is_signed_in"],
            session_id=body["session_id"],
            # New cookies, not the expired ones that sign a browser out.
            refreshed=REFRESH_COOKIE in set_cookies and not cleared,
            cleared=cleared,
        )

    def tab(self) -> httpx.AsyncClient:
        """Another tab of the browser, holding (a copy of) the cookies it holds now."""
        cookies = httpx.Cookies()
        for cookie in self.browser.cookies.jar:
            cookies.jar.set_cookie(copy.copy(cookie))
        return httpx.AsyncClient(
            transport=self.balancer, base_url="http://testserver", cookies=cookies
        )

    async def session(self) -> SessionRow:
        async with self.a.services.db.session() as s:
            rows = list((await s.exec(select(SessionRow))).all())
        assert len(rows) == 1, rows
        return rows[0]

    async def reuse_alarms(self) -> int:
        async with self.a.services.db.session() as s:
            rows = (
                await s.exec(
                    select(AuditEventRow).where(AuditEventRow.event == "session.refresh_reused")
                )
            ).all()
        return len(rows)


@dataclass(frozen=True)
class Visit:
    signed_in: bool
    session_id: str | None
    #: The worker refused the session token and minted a new one from `__refresh`.
    refreshed: bool
    #: The browser no longer holds a refresh token (it was signed out).
    cleared: bool


@pytest.fixture
async def make_farm(make_kit: KitFactory, clock: FakeClock) -> AsyncIterator[Callable[..., Farm]]:
    made: list[Farm] = []

    def factory(skew: int, **settings: object) -> Farm:
        a = make_kit(**settings)
        b = make_kit(clock=SkewedClock(clock, skew), store_clock=clock, **settings)
        balancer = LoadBalancer(a=make_host_app(a), b=make_host_app(b))
        browser = httpx.AsyncClient(transport=balancer, base_url="http://testserver")
        farm = Farm(a, b, skew, balancer, browser)
        made.append(farm)
        return farm

    yield factory
    for farm in made:
        await farm.browser.aclose()
        await farm.a.aclose()
        await farm.b.aclose()


async def signed_in_farm(factory: Callable[..., Farm], skew: int, **settings: object) -> Farm:
    """A farm whose browser signed in at worker `a` (its token minted by `a`)."""
    farm = factory(skew, **settings)
    await farm.a.ensure_started()  # the first worker makes the signing key ...
    await farm.b.ensure_started()  # ... the second loads it from the database
    assert farm.a.services.keyring.kids == farm.b.services.keyring.kids
    await create_user(farm.a.services, email=EMAIL, password=PASSWORD)
    farm.balancer.to = "a"
    r = await sign_in(farm.browser, EMAIL)
    assert r.status_code == 303, r.text
    return farm


def accepts(skew: int, age: int = 0) -> bool:
    """Does a worker `skew` seconds off accept a token minted `age` seconds ago elsewhere?"""
    return -LEEWAY <= skew + age < TOKEN_LIFETIME


# -- session tokens across workers ---------------------------------------------------------


@pytest.mark.parametrize("skew", SKEWS)
async def test_a_token_from_one_worker_is_accepted_by_a_skewed_one_only_within_the_leeway(
    make_farm: Callable[..., Farm], skew: int
) -> None:
    """L8: within the leeway the token is accepted as is; beyond it, refreshed, never a
    sign-out; and the first worker accepts (or refreshes) what the second minted."""
    farm = await signed_in_farm(make_farm, skew)
    token = farm.browser.cookies[SESSION_COOKIE]
    start = await farm.visit("a")
    assert start.signed_in and not start.refreshed

    # The same token, judged by the other worker's key ring with the other's clock.
    now_b = farm.b.services.clock().timestamp()
    if accepts(skew):
        farm.b.services.keyring.verify_session_token(token, now_timestamp=now_b)
    else:
        with pytest.raises(TokenError):
            farm.b.services.keyring.verify_session_token(token, now_timestamp=now_b)

    at_b = await farm.visit("b")
    assert at_b.signed_in, at_b
    assert at_b.session_id == start.session_id
    assert at_b.refreshed == (not accepts(skew)), at_b
    assert (await farm.session()).refresh_generation == (0 if accepts(skew) else 1)

    # Back at the first worker: whatever the second minted is accepted or refreshed.
    back = await farm.visit("a")
    assert back.signed_in and back.session_id == start.session_id, back
    if at_b.refreshed:
        assert back.refreshed == (not accepts(-skew)), back
    assert (await farm.session()).revoked_at is None
    assert await farm.reuse_alarms() == 0


async def test_expiry_gets_no_leeway_on_a_worker_ahead(make_farm: Callable[..., Farm]) -> None:
    """L8: `exp` has no leeway: 56 s after minting, a worker 5 s ahead refuses the token."""
    farm = await signed_in_farm(make_farm, 5)
    clock = farm.a.services.clock
    assert isinstance(clock, FakeClock)
    clock.advance(TOKEN_LIFETIME - 4)
    assert not (await farm.visit("a")).refreshed
    at_b = await farm.visit("b")
    assert at_b.signed_in and at_b.refreshed, at_b


@pytest.mark.parametrize("skew", SKEWS)
async def test_a_browser_alternating_between_skewed_workers_stays_signed_in(
    make_farm: Callable[..., Farm], clock: FakeClock, skew: int
) -> None:
    """L8: 24 requests over six minutes, alternating workers: always signed in, one
    session, refreshed only when a token is out of the skewed worker's window."""
    farm = await signed_in_farm(make_farm, skew)
    first = await farm.visit("a")
    for step in range(24):
        clock.advance(15)
        visit = await farm.visit("ab"[step % 2])
        assert visit.signed_in and visit.session_id == first.session_id, (step, visit)
        assert not visit.cleared, (step, visit)
    session = await farm.session()
    assert session.revoked_at is None
    assert await farm.reuse_alarms() == 0


# -- refresh tokens across workers ---------------------------------------------------------


@pytest.mark.parametrize("skew", [-5, 5])
@pytest.mark.parametrize("first", ["a", "b"])
async def test_racing_refreshes_on_two_skewed_workers_both_keep_the_session(
    make_farm: Callable[..., Farm], clock: FakeClock, skew: int, first: str
) -> None:
    """L8 + L2: two requests with one refresh token, one per worker (the second a second
    later): both signed in, same session, no reuse alarm."""
    farm = await signed_in_farm(make_farm, skew)
    await racing_refreshes(farm, clock, first)


async def racing_refreshes(farm: Farm, clock: FakeClock, first: str) -> None:
    clock.advance(TOKEN_LIFETIME + 1)  # the session token has expired on both workers
    clock.advance(abs(farm.skew))
    async with farm.tab() as tab:
        visit = await farm.visit(first)
        assert visit.signed_in and visit.refreshed, visit
        # The other tab's request left with the same cookies and lands on the other worker.
        clock.advance(1)
        other = await farm.visit("b" if first == "a" else "a", tab)
    assert other.signed_in and other.session_id == visit.session_id, other
    assert (await farm.session()).revoked_at is None
    assert await farm.reuse_alarms() == 0


@pytest.mark.parametrize("skew", [-120, -30, 30, 120])
async def test_racing_refreshes_survive_a_skew_beyond_the_grace(
    make_farm: Callable[..., Farm], clock: FakeClock, skew: int
) -> None:
    """L8 + L2: as above, 30 s or 120 s apart, the worker behind rotating first."""
    farm = await signed_in_farm(make_farm, skew)
    await racing_refreshes(farm, clock, "a" if skew > 0 else "b")


# -- the end of a session ------------------------------------------------------------------


IDLE = 3600


@pytest.mark.parametrize("skew", [s for s in SKEWS if s > 0])
async def test_a_worker_ahead_ends_a_session_no_later_than_the_database_says(
    make_farm: Callable[..., Farm], clock: FakeClock, skew: int
) -> None:
    """L8: once an idle session has ended by the first worker's clock, a worker ahead
    refuses to refresh it too, signs the browser out, and leaves the stored end alone."""
    farm = await signed_in_farm(make_farm, skew, session_lifetime=IDLE)
    ends = (await farm.session()).expires_at
    clock.now = ends
    visit = await farm.visit("b")
    assert not visit.signed_in and visit.cleared, visit
    assert (await farm.session()).expires_at == ends, "not extended"


@pytest.mark.parametrize("skew", [s for s in SKEWS if s < 0])
async def test_a_worker_behind_does_not_revive_a_session_that_has_ended(
    make_farm: Callable[..., Farm], clock: FakeClock, skew: int
) -> None:
    """L8: a session ended (idle) by the first worker's clock is not refreshed by a worker
    behind it."""
    farm = await signed_in_farm(make_farm, skew, session_lifetime=IDLE)
    ends = (await farm.session()).expires_at
    clock.now = ends + timedelta(seconds=1)
    visit = await farm.visit("b")
    assert not visit.signed_in, visit
    assert (await farm.session()).expires_at == ends, "revived"


@pytest.mark.parametrize("skew", [s for s in SKEWS if s < 0])
async def test_a_worker_behind_serves_a_session_past_its_absolute_end_by_at_most_its_skew(
    make_farm: Callable[..., Farm], clock: FakeClock, skew: int
) -> None:
    """L8: the absolute end is fixed at sign-in and no worker moves it: a worker behind may
    refresh a copy of the cookies until its own clock reaches the end (`skew` seconds
    late), never longer, and the stored end stays where it was."""
    farm = await signed_in_farm(make_farm, skew, session_lifetime=600, session_max_lifetime=1200)
    absolute_end = (await farm.session()).created_at + timedelta(seconds=1200)
    # Kept busy through the first worker, refreshed every 50 s up to the absolute end.
    while clock.now + timedelta(seconds=50) < absolute_end:
        clock.advance(50)
        assert (await farm.visit("a")).signed_in
    assert (await farm.session()).expires_at == absolute_end
    async with farm.tab() as tab:
        clock.now = absolute_end
        ended = await farm.visit("a")
        assert not ended.signed_in and ended.cleared, ended
        # The copy in the other tab, its session token dropped so that it must refresh:
        # the worker behind still serves it today (its clock reads `skew` s before the
        # end); a kit judging session times by one shared clock would not.
        tab.cookies.delete(SESSION_COOKIE)
        late = await farm.visit("b", tab)
        assert late.refreshed if late.signed_in else late.cleared, late
        assert (await farm.session()).expires_at == absolute_end, "moved"
        clock.advance(-skew)  # the worker behind reaches the end too
        tab.cookies.delete(SESSION_COOKIE)
        over = await farm.visit("b", tab)
        assert not over.signed_in and over.cleared, over
    assert (await farm.session()).expires_at == absolute_end


# -- a clock stepped back ------------------------------------------------------------------


@pytest.mark.parametrize("step_back", [5, 30, 120])
async def test_a_clock_stepped_back_makes_the_token_cache_decide_as_a_full_check(
    make_farm: Callable[..., Farm], step_back: int
) -> None:
    """L8: NTP steps a worker's clock back by 5, 30 or 120 s; at every moment, a token
    the worker cached is accepted exactly when a fresh verifier (no cache) accepts it, and
    a token expired before and after the step stays refused."""
    farm = await signed_in_farm(make_farm, 0)
    ring = farm.a.services.keyring
    minted = (await farm.session()).created_at.timestamp()
    token = farm.browser.cookies[SESSION_COOKIE]
    fresh = KeyRing(issuer=ring.issuer, secret_key=str(farm.a.settings.secret_key))
    async with farm.a.services.db.session() as s:
        rows = list((await s.exec(select(SigningKeyRow))).all())
    fresh.load(rows, farm.a.services.clock())

    def decision(verifier: KeyRing, at: float) -> bool:
        try:
            verifier.verify_session_token(token, now_timestamp=at)
        except TokenError:
            return False
        return True

    # Forward through the token's life and beyond, then stepped back, then forward again.
    moments = [0, 30, 59, 60, 61, 200]
    moments += [200 - step_back, 61 - step_back, -step_back]
    moments += [m + 1 for m in moments]
    for moment in moments:
        at = minted + moment
        cached, full = decision(ring, at), decision(fresh, at)
        assert cached == full, (moment, cached, full)
        assert cached == (-LEEWAY <= moment < TOKEN_LIFETIME), moment
