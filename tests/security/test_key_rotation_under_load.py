"""
Signing-key rotation under load (SECURITY.md load test L9): while signed-in browsers keep
requesting and refreshing through two workers behind a round-robin balancer, the keys
are rotated, by a worker (`authkit.sessions.rotate_keys`) or by the operator's
`authkit keys rotate` in another process. Nobody is signed out or refused; the new key is
published by every worker before any worker signs with it (`KEY_PUBLISH_AHEAD`), so a
third party with a fresh JWKS never meets an unknown kid; a token signed by the old key
verifies on every worker until it expires, also after every worker signs with the new
key; the JWKS documents of the workers are the same and verify every token handed out.

The two workers are two kits over one database (SQLite file or PostgreSQL schema) on one
injected clock, so "tokens expire" (90 s here) and "a worker's keys go stale"
(`KEY_RELOAD_INTERVAL`, 60 s) happen exactly when the test moves the clock. R is the
rotation, at t+91 (the CLI, in its own process, stamps the key with the wall clock, a few
seconds after t+0: its times below come earlier); the new key may sign from R+360:

    t+0    sign-ins; a round of requests                  (old key everywhere)
    t+91   every token expired: refreshes; the keys rotate during this round (R)
    t+182  refreshes: both workers have reloaded and publish the new key; old key signs
    t+450  refreshes (R+359): the last old-key tokens, valid until t+540
    t+510  newcomers sign in on A and on B: both reload and sign with the new key, while
           the old-key tokens of t+450 still verify everywhere
    t+541  those have expired; a day after the old key retired, it is gone from the JWKS
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import jwt
import pytest

from authkit import AuthKit
from authkit.cookies import REFRESH_COOKIE, SESSION_COOKIE
from authkit.flows.admin import create_user
from authkit.security.tokens import KEY_PUBLISH_AHEAD, KEY_RELOAD_INTERVAL, KEY_RETENTION
from authkit.sessions import rotate_keys
from authkit.store.models import SigningKeyRow

from ..conftest import TEST_SECRET, FakeClock, KitFactory, Store
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, sign_in

pytestmark = pytest.mark.anyio

TOKEN_LIFETIME = 90
USERS = 12
REQUESTS_PER_ROUND = 4
JSON = {"accept": "application/json"}
JWKS_PATH = "/auth/.well-known/jwks.json"
#: The CLI round goes on until the command is done; a bound on it all the same.
MAX_REQUESTS_WHILE_THE_CLI_RUNS = 200
CLI_DEADLINE_SECONDS = 120


class Balancer(httpx.AsyncBaseTransport):
    """Round-robin over the workers, as a load balancer would; notes who served what."""

    def __init__(self, workers: Sequence[tuple[str, httpx.AsyncBaseTransport]], first: int):
        self.workers = workers
        self.turn = first

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        name, transport = self.workers[self.turn % len(self.workers)]
        self.turn += 1
        response = await transport.handle_async_request(request)
        response.extensions["worker"] = name
        return response


@dataclass
class Seen:
    """One request of the load: which worker, which key signed the token sent, outcome."""

    round: int
    worker: str
    kid: str | None
    status: int
    refreshed: bool
    user_id: str
    signed_in_as: str | None


@dataclass
class Cluster:
    kits: dict[str, AuthKit]
    clock: FakeClock
    store: Store
    transports: list[tuple[str, httpx.AsyncBaseTransport]]
    seen: list[Seen] = field(default_factory=list)
    #: Every session token a worker handed out, with the worker's name.
    minted: list[tuple[str, str]] = field(default_factory=list)
    jwks_seen: list[tuple[int, str, list[str]]] = field(default_factory=list)

    def browser(self, first: int = 0) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=Balancer(self.transports, first), base_url="http://testserver"
        )

    def direct(self, worker: str) -> httpx.AsyncClient:
        """A client of one worker only, with no cookies of its own."""
        transport = dict(self.transports)[worker]
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def note_minted(self, response: httpx.Response) -> bool:
        token = response.cookies.get(SESSION_COOKIE)
        if token:
            self.minted.append((response.extensions["worker"], token))
        return bool(token)


def kid_of(token: str | None) -> str | None:
    return jwt.get_unverified_header(token)["kid"] if token else None


@dataclass
class User:
    email: str
    user_id: str
    client: httpx.AsyncClient


@pytest.fixture
async def cluster(make_kit: KitFactory, clock: FakeClock, store: Store) -> AsyncIterator[Cluster]:
    kits = {name: make_kit(session_token_lifetime=TOKEN_LIFETIME) for name in ("A", "B")}
    for kit in kits.values():
        await kit.ensure_started()
    transports: list[tuple[str, httpx.AsyncBaseTransport]] = [
        (name, httpx.ASGITransport(app=make_host_app(kit))) for name, kit in kits.items()
    ]
    yield Cluster(kits, clock, store, transports)
    for kit in kits.values():
        await kit.aclose()


async def sign_in_users(cluster: Cluster, emails: Sequence[str], first: int = 0) -> list[User]:
    users = []
    for n, email in enumerate(emails):
        user_id = await create_user(cluster.kits["A"].services, email=email, password=PASSWORD)
        client = cluster.browser(first + n)
        r = await sign_in(client, email)
        assert r.status_code == 303, r.text
        cluster.note_minted(r)
        users.append(User(email, user_id, client))
    return users


async def browse(cluster: Cluster, user: User, round_: int, requests: int) -> None:
    """`requests` signed-in requests, one after the other, as one browser tab would."""
    for _ in range(requests):
        sent = user.client.cookies.get(SESSION_COOKIE)
        r = await user.client.get("/api/me", headers=JSON)
        body = r.json() if r.status_code == 200 else {}
        cluster.seen.append(
            Seen(
                round_,
                r.extensions["worker"],
                kid_of(sent),
                r.status_code,
                cluster.note_minted(r),
                user.user_id,
                body.get("user_id"),
            )
        )
        # A failed refresh would clear the session cookies: that is a sign-out too.
        cleared = [
            c
            for c in r.headers.get_list("set-cookie")
            if c.startswith((f"{SESSION_COOKIE}=", f"{REFRESH_COOKIE}=")) and "Max-Age=0" in c
        ]
        assert not cleared, cleared


async def sample_jwks(cluster: Cluster, round_: int, times: int) -> None:
    """Third parties fetching the JWKS through the balancer meanwhile."""
    async with cluster.browser() as client:
        for _ in range(times):
            r = await client.get(JWKS_PATH)
            assert r.status_code == 200, r.text
            kids = [key["kid"] for key in r.json()["keys"]]
            cluster.jwks_seen.append((round_, r.extensions["worker"], kids))


async def load_round(
    cluster: Cluster,
    users: Sequence[User],
    round_: int,
    *,
    requests: int = REQUESTS_PER_ROUND,
    during: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    async with anyio.create_task_group() as tg:
        for user in users:
            tg.start_soon(browse, cluster, user, round_, requests)
        tg.start_soon(sample_jwks, cluster, round_, 6)
        if during is not None:
            tg.start_soon(during)


async def session_only(cluster: Cluster, token: str) -> dict[str, int]:
    """Each worker's answer to a request carrying `token` alone: no refresh possible."""
    answers = {}
    for name in cluster.kits:
        async with cluster.direct(name) as client:
            client.cookies.set(SESSION_COOKIE, token)
            r = await client.get("/api/me", headers=JSON)
            answers[name] = r.status_code
    return answers


def jwks_of(cluster: Cluster) -> dict[str, dict[str, Any]]:
    return {name: dict(kit.services.keyring.jwks()) for name, kit in cluster.kits.items()}


async def served_jwks(cluster: Cluster) -> dict[str, Any]:
    documents = {}
    for name in cluster.kits:
        async with cluster.direct(name) as client:
            r = await client.get(JWKS_PATH)
            assert r.status_code == 200, r.text
            documents[name] = r.json()
    return documents


def verify_with_jwks(cluster: Cluster, jwks: dict[str, Any], token: str) -> str:
    """A third party's check of `token` against a published JWKS (time not checked: the
    test's clock is not the wall clock)."""
    keys = jwt.PyJWKSet.from_dict(jwks)
    key = keys[str(kid_of(token))]
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["EdDSA"],
        issuer=cluster.kits["A"].issuer,
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )
    return str(claims["sub"])


async def rotate_through_the_cli(cluster: Cluster) -> None:
    env = {
        **os.environ,
        "AUTHKIT_SECRET_KEY": TEST_SECRET,
        "AUTHKIT_DATABASE_URL": cluster.store.url,
        "AUTHKIT_DATABASE_SCHEMA": cluster.store.schema or "",
        "AUTHKIT_PASSWORD_HASH_PROFILE": "CHEAPEST",
    }
    with anyio.fail_after(CLI_DEADLINE_SECONDS):
        result = await anyio.run_process(
            [sys.executable, "-m", "authkit.cli", "keys", "rotate"],
            env=env,
            check=False,
            stderr=subprocess.STDOUT,
        )
    assert result.returncode == 0, result.stdout.decode()
    assert b"new signing key" in result.stdout, result.stdout.decode()


@pytest.mark.parametrize("how", ["api", "cli"])
async def test_rotation_under_load_signs_nobody_out_and_old_tokens_verify_until_expiry(
    cluster: Cluster, clock: FakeClock, how: str
) -> None:
    """L9: keys rotated during concurrent signed-in requests and refreshes on two workers."""
    kit_a, kit_b = cluster.kits["A"], cluster.kits["B"]
    (old_kid,) = kit_a.services.keyring.kids
    users = await sign_in_users(cluster, [f"user{n}@example.com" for n in range(USERS)])
    await load_round(cluster, users, 0)

    clock.advance(TOKEN_LIFETIME + 1)  # t+91
    rotated = anyio.Event()
    token_before_rotation: list[str] = []

    async def rotate() -> None:
        # Mid-round: requests are flowing and refreshes have happened (each user's first
        # request of the round refreshes), so the newest token was minted just now.
        while sum(s.round == 1 for s in cluster.seen) < USERS * 2:
            await anyio.sleep(0)
        token_before_rotation.append(cluster.minted[-1][1])
        if how == "api":
            await rotate_keys(kit_a.services)
        else:
            await rotate_through_the_cli(cluster)
        rotated.set()

    if how == "api":
        await load_round(cluster, users, 1, during=rotate)
    else:

        async def browse_until_rotated(user: User) -> None:
            for _ in range(MAX_REQUESTS_WHILE_THE_CLI_RUNS):
                await browse(cluster, user, 1, 1)
                if rotated.is_set():
                    return
                await anyio.sleep(0.05)

        async with anyio.create_task_group() as tg:
            tg.start_soon(rotate)
            for user in users:
                tg.start_soon(browse_until_rotated, user)
    assert rotated.is_set()
    # A token signed before the rotation works on both workers after it, with no refresh.
    (early_token,) = token_before_rotation
    assert kid_of(early_token) == old_kid
    assert await session_only(cluster, early_token) == {"A": 200, "B": 200}

    clock.advance(TOKEN_LIFETIME + 1)  # t+182: everyone has reloaded, the new key is public
    await load_round(cluster, users, 2)
    (new_kid,) = set(kit_a.services.keyring.kids) - {old_kid}
    assert set(kit_b.services.keyring.kids) == {old_kid, new_kid}
    for document in (await served_jwks(cluster)).values():
        assert [k["kid"] for k in document["keys"]] == [new_kid, old_kid]
    # The new key may sign from its creation + KEY_PUBLISH_AHEAD (the CLI stamps it with
    # the wall clock, which the test clock started from).
    async with kit_a.services.db.session() as s:
        new_row = await s.get(SigningKeyRow, new_kid)
    assert new_row is not None
    switch_at = new_row.created_at + KEY_PUBLISH_AHEAD
    clock.advance((switch_at - clock.now).total_seconds() - 1)  # t+450 (api)
    await load_round(cluster, users, 4)
    # Until now every token was signed with the old key: the new one was only published.
    assert {kid_of(t) for _w, t in cluster.minted} == {old_kid}
    late_old_token = cluster.minted[-1][1]

    clock.advance(KEY_RELOAD_INTERVAL.total_seconds())  # t+510: keys stale on both workers
    newcomers = await sign_in_users(cluster, ["late.a@example.com", "late.b@example.com"])
    assert {kid_of(t) for _w, t in cluster.minted[-2:]} == {new_kid}
    assert {w for w, _t in cluster.minted[-2:]} == {"A", "B"}
    await load_round(cluster, [*users, *newcomers], 5)
    # Every worker signs with the new key now; an old-key token still verifies everywhere.
    assert await session_only(cluster, late_old_token) == {"A": 200, "B": 200}

    # -- no request of the load was refused, or answered for someone else -------------------
    failures = [s for s in cluster.seen if s.status != 200 or s.signed_in_as != s.user_id]
    assert failures == [], failures[:5]
    assert {s.user_id for s in cluster.seen} == {u.user_id for u in [*users, *newcomers]}
    # The load did what it claims: refreshes in every round after the first, old-key tokens
    # served by both workers after the rotation, new-key tokens served by both.
    assert sum(s.refreshed for s in cluster.seen if s.round in (1, 2, 4)) >= USERS * 3
    after = {(s.kid, s.worker) for s in cluster.seen if s.round >= 2}
    assert {(old_kid, "A"), (old_kid, "B"), (new_kid, "A"), (new_kid, "B")} <= after, after

    # -- the JWKS: the same on both workers, both keys, newest first -----------------------
    documents = await served_jwks(cluster)
    assert documents["A"] == documents["B"] == jwks_of(cluster)["A"]
    assert [k["kid"] for k in documents["A"]["keys"]] == [new_kid, old_kid]
    # ...and a third party holding it verifies every token either worker handed out.
    for _worker, token in cluster.minted:
        assert verify_with_jwks(cluster, documents["A"], token)
    # Every JWKS served during the load listed the old key (it is retained for a day), and
    # from round 2 on the new one too.
    assert all(old_kid in kids for _r, _w, kids in cluster.jwks_seen), cluster.jwks_seen
    assert all(new_kid in kids for r, _w, kids in cluster.jwks_seen if r >= 2), cluster.jwks_seen

    # -- until expiry, and no longer; the old key itself goes after its retention ---------
    clock.advance((late_old_token_expiry(late_old_token) - clock.now).total_seconds() + 1)
    assert await session_only(cluster, late_old_token) == {"A": 401, "B": 401}
    clock.advance(KEY_RETENTION.total_seconds() + timedelta(minutes=1).total_seconds())
    await sign_in_users(cluster, ["later.a@example.com", "later.b@example.com"])
    documents = await served_jwks(cluster)
    assert [k["kid"] for k in documents["A"]["keys"]] == [new_kid]
    assert documents["B"] == documents["A"]
    for user in users:
        # Long expired tokens, but the refresh cookie still signs the browser back in.
        assert REFRESH_COOKIE in user.client.cookies
        r = await user.client.get("/api/me", headers=JSON)
        assert r.status_code == 200 and r.json()["user_id"] == user.user_id, r.text
        assert kid_of(user.client.cookies.get(SESSION_COOKIE)) == new_kid
    for user in [*users, *newcomers]:
        await user.client.aclose()


def late_old_token_expiry(token: str) -> datetime:
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    return datetime.fromtimestamp(exp, tz=UTC)
