"""
The cost of one session check, in microseconds per call, measured in-process.

Run it by hand::

    .venv/bin/python bench/session_check.py [--batches 300] [--batch-size 100]

What it times (no network, no server; the ASGI apps are awaited directly with a minimal
scope, `receive` and `send`):

1. Token verification alone, `KeyRing.verify_session_token` on valid `__session` JWTs:
   "cold" gives it a token it has never seen on every call, so every call is a full
   verification (header parse, Ed25519 signature, claim checks; with the verified-token
   cache, plus the miss and the insertion); "warm (cache hit)" verifies the same token
   again and again, which the cache answers. Without the cache (before commit cff99b8)
   the warm row prints "n/a — no cache yet".
2. The middleware (`AuthKitMiddleware` around a minimal ASGI app that sends "ok") for a
   request without a cookie, with a valid cookie seen before (warm) and with a new valid
   cookie on every call (cold), against the same minimal app with no middleware at all.
3. The same in context: a small Starlette host app (`authkit.install(app)`, a `/bare`
   route) against the same Starlette app with no authkit installed.
4. Hostile Cookie headers: the middleware around the minimal app for an ordinary header
   (seen before, and new on every call) and for headers filled to the 16 KB limit with
   copies or mentions of `__session` (`--flood` shapes, see FLOODS), each alone and with
   one more cookie read the way an authkit page reads its CSRF cookie
   (`request_cookies(scope).get(...)`). Before issue 11 a flood was never remembered and
   its reading grew with the number of mentions (or, for the full parser, with their
   square); these rows show what one request costs whatever its header holds.

How to read the table: calls run in batches (of `--batch-size`; cold cases, a hundred
times slower, of a tenth of it); each batch's time divided by its size is one sample, so
"median" and "p99" are the median and 99th percentile of those per-call averages across
`--batches` batches (a single slow call is diluted by its batch; the p99 shows slow
batches such as garbage collection, not single-call tails). "vs baseline" is the extra
time per call over the bare app of the same section, i.e. what the session check adds.
Figures depend on the machine and its load (printed in the first line); compare rows of
one run, not numbers across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cryptography
import jwt
import starlette
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authkit import AuthKit
from authkit.context import request_cookies
from authkit.cookies import MAX_COOKIE_HEADER
from authkit.ids import new_id
from authkit.middleware import AuthKitMiddleware
from authkit.security.tokens import KeyRing

BASE_URL = "http://127.0.0.1:8000"
TOKEN_LIFETIME_SECONDS = 3600
WARMUP_CALLS = 500
COLD_WARMUP_CALLS = 20
#: Cold calls cost ~100x warm ones; smaller batches keep the run short and still
#: dwarf the timer's own cost.
COLD_BATCH_DIVISOR = 10

Headers = list[tuple[bytes, bytes]]

#: Cookie headers filled to MAX_COOKIE_HEADER by repeating a piece ("{token}" is a valid
#: session token): copies of the session cookie, and mentions of its name that are not it.
FLOODS = {
    "__session=<token>; (copies)": "__session={token}; ",
    "__session=x; (copies)": "__session=x; ",
    "x__session=1; (other names)": "x__session=1; ",
    "a=__session=; (in values)": "a=__session=; ",
    "__session (no separators)": "__session",
}


@dataclass(frozen=True)
class Result:
    label: str
    calls: int
    median_us: float
    p99_us: float
    baseline: str | None = None


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))
    return ordered[index]


def _summarise(label: str, per_call_ns: list[float], calls: int, baseline: str | None) -> Result:
    return Result(
        label=label,
        calls=calls,
        median_us=statistics.median(per_call_ns) / 1000,
        p99_us=_percentile(per_call_ns, 0.99) / 1000,
        baseline=baseline,
    )


def has_token_cache(keyring: KeyRing) -> bool:
    """True when this authkit caches verified tokens (KeyRing grew `cache_size`)."""
    return hasattr(keyring, "cache_size")


def time_verify(
    label: str,
    keyring: KeyRing,
    tokens: Sequence[str],
    *,
    warmup: int,
    batches: int,
    batch_size: int,
) -> Result:
    """Verify `tokens[i % len(tokens)]` on call i: one token = warm, all distinct = cold."""
    now_ts = time.time()
    verify = keyring.verify_session_token
    n = len(tokens)
    for i in range(warmup):
        verify(tokens[i % n], now_timestamp=now_ts)
    gc.collect()
    samples: list[float] = []
    i = warmup
    for _ in range(batches):
        start = time.perf_counter_ns()
        for _ in range(batch_size):
            verify(tokens[i % n], now_timestamp=now_ts)
            i += 1
        samples.append((time.perf_counter_ns() - start) / batch_size)
    return _summarise(label, samples, batches * batch_size, None)


def _scope(path: str, headers: Headers) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "headers": headers,
        "state": {},
    }


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def call_once(app: ASGIApp, path: str, headers: Headers) -> list[Message]:
    """One request, returning what the app sent."""
    sent: list[Message] = []

    async def record(message: Message) -> None:
        sent.append(message)

    await app(_scope(path, headers), _receive, record)
    return sent


async def time_asgi(
    label: str,
    app: ASGIApp,
    header_sets: Sequence[Headers],
    *,
    path: str,
    warmup: int,
    batches: int,
    batch_size: int,
    baseline: str | None = None,
    check: Callable[[list[Message]], None] | None = None,
) -> Result:
    """
    Await `app` with a fresh scope per call (the middleware writes into the scope); call
    i sends `header_sets[i % len(header_sets)]`, so one set repeats a request and as many
    sets as calls make every request new.
    """
    template = _scope(path, [])
    request_message: Message = {"type": "http.request", "body": b"", "more_body": False}
    n = len(header_sets)

    async def receive() -> Message:
        return request_message

    async def discard(message: Message) -> None:
        return None

    # One checked call first, so a broken setup (e.g. the cookie refused) is seen, not timed.
    if check is not None:
        check(await call_once(app, path, header_sets[0]))
    i = 1
    for _ in range(warmup):
        await app({**template, "headers": header_sets[i % n], "state": {}}, receive, discard)
        i += 1
    gc.collect()
    samples: list[float] = []
    for _ in range(batches):
        start = time.perf_counter_ns()
        for _ in range(batch_size):
            await app({**template, "headers": header_sets[i % n], "state": {}}, receive, discard)
            i += 1
        samples.append((time.perf_counter_ns() - start) / batch_size)
    return _summarise(label, samples, batches * batch_size, baseline)


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The smallest useful ASGI app: 200 "ok", no authentication."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


async def bare_endpoint(request: Request) -> Response:
    return PlainTextResponse("ok")


def _expect_ok(messages: list[Message]) -> None:
    start = next(m for m in messages if m["type"] == "http.response.start")
    has_set_cookie = any(k == b"set-cookie" for k, _ in start.get("headers", []))
    if start["status"] != 200 or has_set_cookie:
        sys.exit(
            f"setup problem: got status {start['status']} (set-cookie: {has_set_cookie}), "
            "expected 200 without set-cookie"
        )


def _expect_signed_in(holder: dict[str, Any]) -> Callable[[list[Message]], None]:
    def check(messages: list[Message]) -> None:
        _expect_ok(messages)
        state = holder.get("auth")
        if state is None or not state.is_signed_in:
            sys.exit("setup problem: the middleware did not accept the minted session cookie")

    return check


class Bench:
    """One kit, its tokens, and the rows measured so far."""

    def __init__(self, kit: AuthKit, batches: int, batch_size: int) -> None:
        self.kit = kit
        self.keyring = kit.services.keyring
        self.batches = batches
        self.batch_size = batch_size
        self.cold_batch_size = max(1, batch_size // COLD_BATCH_DIVISOR)
        self.rows: list[Result | str] = []

    @property
    def cold_calls(self) -> int:
        """Calls one cold case makes: the check, the warm-up and the timed ones."""
        return 1 + COLD_WARMUP_CALLS + self.batches * self.cold_batch_size

    def mint(self) -> str:
        token, _ = self.keyring.mint_session_token(
            user_id=new_id("user"),
            session_id=new_id("sess"),
            now=datetime.now(UTC),
            lifetime_seconds=TOKEN_LIFETIME_SECONDS,
        )
        return token

    def fresh_tokens(self) -> list[str]:
        """Tokens this process never verified: every use is a cache miss."""
        tokens = [self.mint() for _ in range(self.cold_calls)]
        # Minting remembers a token (the next request after a refresh is warm); forget
        # them, as if another worker had minted them.
        verified = getattr(self.keyring, "_verified", None)
        if verified is not None:
            verified.clear()
        return tokens

    async def asgi(
        self,
        label: str,
        app: ASGIApp,
        header_sets: Sequence[Headers],
        *,
        path: str,
        cold: bool = False,
        baseline: str | None = None,
        check: Callable[[list[Message]], None] = _expect_ok,
    ) -> None:
        self.rows.append(
            await time_asgi(
                label,
                app,
                header_sets,
                path=path,
                warmup=COLD_WARMUP_CALLS if cold else WARMUP_CALLS,
                batches=self.batches,
                batch_size=self.cold_batch_size if cold else self.batch_size,
                baseline=baseline,
                check=check,
            )
        )


def _with_cookie(headers: Headers, token: str) -> Headers:
    return [*headers, (b"cookie", f"__session={token}".encode())]


async def run(batches: int, batch_size: int) -> list[Result | str]:
    with tempfile.TemporaryDirectory(prefix="authkit-bench-") as tmp:
        kit = AuthKit(
            secret_key=secrets.token_urlsafe(48),
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'authkit.db'}",
            base_url=BASE_URL,
            password_hash_profile="CHEAPEST",
            auto_migrate=True,
        )
        try:
            await kit.ensure_started()
            return await _measure(Bench(kit, batches, batch_size))
        finally:
            await kit.aclose()


async def _measure(b: Bench) -> list[Result | str]:
    cached = has_token_cache(b.keyring)
    warm = "warm" if cached else "same token"
    token = b.mint()

    # 1. verification alone
    b.rows.append("verify_session_token")
    b.rows.append(
        time_verify(
            "cold (full verification)",
            b.keyring,
            b.fresh_tokens(),
            warmup=COLD_WARMUP_CALLS,
            batches=b.batches,
            batch_size=b.cold_batch_size,
        )
    )
    if cached:
        b.rows.append(
            time_verify(
                "warm (cache hit)",
                b.keyring,
                [token],
                warmup=WARMUP_CALLS,
                batches=b.batches,
                batch_size=b.batch_size,
            )
        )
    else:
        b.rows.append("warm (cache hit): n/a — no cache yet")

    # 2. the middleware around a minimal ASGI app
    plain: Headers = [(b"host", b"127.0.0.1:8000"), (b"accept", b"*/*")]
    seen: dict[str, Any] = {}

    async def spy_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen["auth"] = scope.get("authkit.auth")
        await bare_app(scope, receive, send)

    # Check once, through a spy, that the cookie is accepted; the timed runs don't spy.
    sent = await call_once(
        AuthKitMiddleware(spy_app, kit=b.kit), "/", _with_cookie(plain, b.mint())
    )
    _expect_signed_in(seen)(sent)
    b.rows.append("middleware around a minimal ASGI app")
    bare_label = "bare app, no middleware"
    middleware = AuthKitMiddleware(bare_app, kit=b.kit)
    await b.asgi(bare_label, bare_app, [plain], path="/")
    await b.asgi("middleware, no cookie", middleware, [plain], path="/", baseline=bare_label)
    await b.asgi(
        f"middleware, cookie, {warm}",
        middleware,
        [_with_cookie(plain, token)],
        path="/",
        baseline=bare_label,
    )
    await b.asgi(
        "middleware, cookie, cold (new token)",
        middleware,
        [_with_cookie(plain, t) for t in b.fresh_tokens()],
        path="/",
        cold=True,
        baseline=bare_label,
    )

    # 3. in context: a Starlette host app
    plain_host = Starlette(routes=[Route("/bare", bare_endpoint)])
    host = Starlette(routes=[Route("/bare", bare_endpoint), Mount("/auth", app=b.kit)])
    b.kit.install(host)
    b.rows.append("Starlette host app, GET /bare")
    host_label = "Starlette, no authkit"
    await b.asgi(host_label, plain_host, [plain], path="/bare")
    await b.asgi("Starlette + authkit, no cookie", host, [plain], path="/bare", baseline=host_label)
    await b.asgi(
        f"Starlette + authkit, cookie, {warm}",
        host,
        [_with_cookie(plain, token)],
        path="/bare",
        baseline=host_label,
    )
    await b.asgi(
        "Starlette + authkit, cookie, cold",
        host,
        [_with_cookie(plain, t) for t in b.fresh_tokens()],
        path="/bare",
        cold=True,
        baseline=host_label,
    )
    await _measure_floods(b, plain, bare_label, token)
    return b.rows


def _filled(piece: str) -> bytes:
    raw = piece.encode("latin-1")
    return (raw * (MAX_COOKIE_HEADER // len(raw) + 1))[:MAX_COOKIE_HEADER]


async def _measure_floods(b: Bench, plain: Headers, bare_label: str, token: str) -> None:
    """Section 4: the same middleware, ordinary and hostile Cookie headers."""
    other = "__ak_csrf"  # read as an authkit page reads its CSRF cookie

    async def reading_app(scope: Scope, receive: Receive, send: Send) -> None:
        request_cookies(scope).get(other)
        await bare_app(scope, receive, send)

    middleware = AuthKitMiddleware(bare_app, kit=b.kit)
    reading = AuthKitMiddleware(reading_app, kit=b.kit)
    ordinary = f"_ga=GA1.2.345678901.1700000000; __session={token}; {other}={'c' * 43}"
    # The same header with a new first cookie on every call: never remembered.
    calls = 1 + WARMUP_CALLS + b.batches * b.batch_size
    new_each = [[*plain, (b"cookie", f"_n={n}; {ordinary}".encode())] for n in range(calls)]
    floods = {label: _filled(piece.format(token=token)) for label, piece in FLOODS.items()}
    # Flooded headers can cost a thousand times more on an authkit before issue 11: fewer
    # calls, so that version's run stays short.
    batches = max(10, b.batches // 10)
    for app, title in ((middleware, "session check"), (reading, "+ one more cookie read")):
        b.rows.append(f"hostile Cookie headers, middleware ({title})")
        await b.asgi(
            "ordinary header, seen before",
            app,
            [[*plain, (b"cookie", ordinary.encode())]],
            path="/",
            baseline=bare_label,
        )
        await b.asgi("ordinary header, new each call", app, new_each, path="/", baseline=bare_label)
        for label, raw in floods.items():
            b.rows.append(
                await time_asgi(
                    f"16 KB {label}",
                    app,
                    [[*plain, (b"cookie", raw)]],
                    path="/",
                    warmup=COLD_WARMUP_CALLS,
                    batches=batches,
                    batch_size=b.cold_batch_size,
                    baseline=bare_label,
                )
            )


def render(rows: list[Result | str]) -> str:
    by_label = {r.label: r for r in rows if isinstance(r, Result)}
    header = f"{'case':<42} {'calls':>8} {'median µs':>10} {'p99 µs':>10} {'vs baseline':>12}"
    lines = [header, "-" * len(header)]
    for row in rows:
        if isinstance(row, str):
            if row.startswith("warm"):
                lines.append(f"  {row}")
            else:
                lines.append(f"[{row}]")
            continue
        extra = ""
        if row.baseline is not None:
            extra = f"{row.median_us - by_label[row.baseline].median_us:+.2f}"
        lines.append(
            f"  {row.label:<40} {row.calls:>8} {row.median_us:>10.2f} {row.p99_us:>10.2f}"
            f" {extra:>12}"
        )
    return "\n".join(lines)


async def _main_async(batches: int, batch_size: int) -> None:
    rows = await run(batches, batch_size)
    print(render(rows))
    if any(isinstance(r, str) and r.startswith("warm") for r in rows):
        print(
            "\nwarm (cache hit): n/a — no cache of verified tokens yet; the performance "
            "issue adds one, then that row times a repeated token served from the cache."
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--batches", type=int, default=300, help="samples per case")
    parser.add_argument("--batch-size", type=int, default=100, help="calls per sample")
    args = parser.parse_args(argv)
    cold_batch = max(1, args.batch_size // COLD_BATCH_DIVISOR)
    print(
        f"authkit session check — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"Python {platform.python_version()}, PyJWT {jwt.__version__}, "
        f"cryptography {cryptography.__version__}, Starlette {starlette.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.2f})"
    )
    print(
        f"{args.batches} batches of {args.batch_size} calls ({cold_batch} for cold cases); "
        "median and p99 of per-call µs (see the docstring)\n"
    )
    asyncio.run(_main_async(args.batches, args.batch_size))


if __name__ == "__main__":
    main()
