"""
A third-party verifier with a cached JWKS while ours is down (SECURITY.md load test L14;
ASVS 9.1.3 keys from a pre-configured source, 16.5.3 fail closed).

The verifier is npm `jose` (tests/js), the way a service in another stack checks our
session tokens: `createRemoteJWKSet` on our JWKS URL, caching it for the max-age our
endpoint publishes. It runs in one long-lived node process the test drives line by line,
so its cache lives across our outage. The verifier's cache clock (`Date.now`, which jose
reads for the cache's age and nothing else) is frozen and moved only by the test; token
times are checked at the instant the test names (`currentDate`). No wall-clock waiting.

While our JWKS is unreachable (the server stopped: connection refused) or failing (it
answers 503), a verifier that fetched the JWKS before keeps verifying our tokens from its
cache until the cache's max-age has passed, still refusing forgeries; from then on it
refuses every token until the JWKS is back (fail closed, no stale fallback), and so does
a verifier that never fetched it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from authkit import AuthKit
from authkit.security.tokens import KeyRing, new_signing_key_row

from ..conftest import JS_DIR, FakeClock, KitFactory, need_node
from ..hostapp import make_host_app
from .live_server import live_server

pytestmark = pytest.mark.anyio

JWKS_PATH = "/auth/.well-known/jwks.json"
#: A hang guard for one exchange with node, not a measurement.
NODE_TIMEOUT_SECONDS = 30

#: The verifier: one JSON command per line on stdin, one JSON answer per line on stdout.
VERIFIER_JS = r"""
import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose';
import { createInterface } from 'node:readline';

// jose reads Date.now() for the age of its JWKS cache: freeze it, move it on command.
let now = Date.now();
Date.now = () => now;

let fetches = 0;
const counting = (url, init) => { fetches += 1; return fetch(url, init); };
const verifiers = new Map();

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line);
  let answer = { ok: true };
  if (cmd.op === 'verifier') {
    verifiers.set(cmd.name, createRemoteJWKSet(new URL(cmd.jwks_url), {
      cacheMaxAge: cmd.cache_max_age_ms,
      [customFetch]: counting,
    }));
  } else if (cmd.op === 'wait') {
    now += cmd.ms;
  } else if (cmd.op === 'verify') {
    try {
      const { payload } = await jwtVerify(cmd.token, verifiers.get(cmd.name), {
        issuer: cmd.issuer,
        algorithms: ['EdDSA', 'Ed25519'],
        typ: 'JWT',
        currentDate: new Date(cmd.at * 1000),
      });
      answer = { ok: true, sub: payload.sub };
    } catch (e) {
      answer = { ok: false, error: `${e.code || e.name}: ${e.message}` };
    }
  }
  answer.fetches = fetches;
  process.stdout.write(JSON.stringify(answer) + '\n');
}
process.exit(0);
"""


class Verifier:
    """The node process holding jose's remote JWKS sets, driven one command at a time."""

    def __init__(self, process: Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self._process = process
        self._stdin = process.stdin
        self._stdout = BufferedByteReceiveStream(process.stdout)

    async def _ask(self, **command: Any) -> dict[str, Any]:
        with anyio.fail_after(NODE_TIMEOUT_SECONDS):
            await self._stdin.send(json.dumps(command).encode() + b"\n")
            line = await self._stdout.receive_until(b"\n", 1 << 20)
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def new(self, name: str, jwks_url: str, cache_max_age_seconds: int) -> None:
        await self._ask(
            op="verifier",
            name=name,
            jwks_url=jwks_url,
            cache_max_age_ms=cache_max_age_seconds * 1000,
        )

    async def wait(self, seconds: int) -> None:
        """Move the verifiers' cache clock on by `seconds`."""
        await self._ask(op="wait", ms=seconds * 1000)

    async def verify(self, name: str, token: str, issuer: str, at: float) -> dict[str, Any]:
        return await self._ask(op="verify", name=name, token=token, issuer=issuer, at=at)


@asynccontextmanager
async def verifier_process() -> AsyncIterator[Verifier]:
    node = need_node("the cached-JWKS test runs npm jose")
    process = await anyio.open_process([node, "--input-type=module", "-e", VERIFIER_JS], cwd=JS_DIR)
    async with process:
        try:
            yield Verifier(process)
        finally:
            assert process.stdin is not None
            await process.stdin.aclose()
            with anyio.fail_after(NODE_TIMEOUT_SECONDS):
                await process.wait()


class OurServer:
    """The kit served over HTTP; `down()` stops it, or makes its JWKS endpoint fail."""

    def __init__(self, kit: AuthKit, how: str) -> None:
        self.kit = kit
        self.how = how
        self.failing = False
        self._served: AbstractAsyncContextManager[str] = live_server(
            kit, self._app(make_host_app(kit))
        )
        self._running = False
        self.url = ""

    def _app(self, app: ASGIApp) -> ASGIApp:
        async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
            if self.failing and scope["type"] == "http" and scope["path"] == JWKS_PATH:
                await Response("unavailable", status_code=503)(scope, receive, send)
                return
            await app(scope, receive, send)

        return wrapper

    async def __aenter__(self) -> OurServer:
        self.url = await self._served.__aenter__()
        self._running = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._running:
            self._running = False
            await self._served.__aexit__(None, None, None)

    async def down(self) -> None:
        if self.how == "stopped":
            await self.__aexit__()
        else:
            self.failing = True


class Tokens:
    """Session tokens minted by the kit's key ring (pure computation, no server needed)."""

    def __init__(self, kit: AuthKit, clock: FakeClock) -> None:
        self.kit = kit
        self.clock = clock
        self.issuer = kit.issuer

    def mint(self, user_id: str = "user_cached_jwks") -> tuple[str, float]:
        """A fresh token and the instant to check it at (one second after minting)."""
        token, _ = self.kit.services.keyring.mint_session_token(
            user_id=user_id,
            session_id="sess_cached_jwks",
            now=self.clock.now,
            lifetime_seconds=self.kit.settings.session_token_lifetime,
        )
        return token, self.clock.now.timestamp() + 1

    def foreign(self) -> str:
        """A token our issuer would write, signed by a key that is not in our JWKS."""
        secret = str(self.kit.settings.secret_key)
        ring = KeyRing(issuer=self.issuer, secret_key=secret)
        ring.load([new_signing_key_row(secret, self.clock.now)], self.clock.now)
        token, _ = ring.mint_session_token(
            user_id="user_cached_jwks",
            session_id="sess_cached_jwks",
            now=self.clock.now,
            lifetime_seconds=self.kit.settings.session_token_lifetime,
        )
        return token


def forged(token: str) -> str:
    """The token with the first character of its signature changed (the last one may
    only carry padding bits, which decode to the same signature)."""
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


async def published_max_age(url: str) -> int:
    """The JWKS's Cache-Control max-age, which a well-behaved verifier caches it for."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        r = await http.get(JWKS_PATH)
    assert r.status_code == 200, r.text
    found = re.search(r"max-age=(\d+)", r.headers["cache-control"])
    assert found, r.headers
    return int(found.group(1))


@pytest.mark.parametrize("how", ["stopped", "failing"])
async def test_a_cached_jwks_keeps_verifying_while_we_are_down_until_it_expires(
    make_kit: KitFactory, clock: FakeClock, how: str
) -> None:
    """L14: cache fetched → we go down → verifies from cache until max-age, then refuses."""
    kit = make_kit()
    tokens = Tokens(kit, clock)
    async with verifier_process() as jose, OurServer(kit, how) as ours:
        max_age = await published_max_age(ours.url)  # also starts the kit
        assert max_age > 1
        jwks_url = ours.url + JWKS_PATH
        await jose.new("cached", jwks_url, max_age)

        token, at = tokens.mint()
        first = await jose.verify("cached", token, tokens.issuer, at)
        assert first == {"ok": True, "sub": "user_cached_jwks", "fetches": 1}, first

        await ours.down()
        # From the cache: our tokens verify, forgeries do not, and nothing is fetched.
        again = await jose.verify("cached", token, tokens.issuer, at)
        assert again == {"ok": True, "sub": "user_cached_jwks", "fetches": 1}, again
        refused = await jose.verify("cached", forged(token), tokens.issuer, at)
        assert not refused["ok"] and "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" in refused["error"]
        assert refused["fetches"] == 1
        # A key the cache does not hold (a rotation it has not seen) cannot be looked up.
        stranger = await jose.verify("cached", tokens.foreign(), tokens.issuer, at)
        assert not stranger["ok"] and stranger["error"].startswith("ERR_JWKS_NO_MATCHING_KEY")
        assert stranger["fetches"] == 1  # jose's cooldown: no refetch right after a fetch

        # The last second of the cache's life: a token minted then still verifies.
        await jose.wait(max_age - 1)
        clock.advance(max_age - 1)
        token, at = tokens.mint("user_later")
        late = await jose.verify("cached", token, tokens.issuer, at)
        assert late == {"ok": True, "sub": "user_later", "fetches": 1}, late

        # The cache has expired: the verifier must fetch, cannot, and refuses.
        await jose.wait(1)
        for _ in range(2):  # and keeps refusing: no fallback to the stale keys
            expired = await jose.verify("cached", token, tokens.issuer, at)
            assert not expired["ok"], expired
            assert is_fetch_failure(expired["error"], how), expired
        assert expired["fetches"] == 3

        # A verifier that never fetched our JWKS refuses from the start.
        await jose.new("cold", jwks_url, max_age)
        cold = await jose.verify("cold", token, tokens.issuer, at)
        assert not cold["ok"] and is_fetch_failure(cold["error"], how), cold
        assert cold["fetches"] == 4


def is_fetch_failure(error: str, how: str) -> bool:
    """The refusal is jose failing to get the JWKS, not a verdict on the token."""
    if how == "stopped":
        return error == "TypeError: fetch failed"
    return error == "ERR_JOSE_GENERIC: Expected 200 OK from the JSON Web Key Set HTTP response"
