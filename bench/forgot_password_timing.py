"""
Forgot-password as a timing oracle: does POST /auth/forgot-password answer for a
registered address differently from an unknown one? (issue 11, defect 4)

In-process through httpx.ASGITransport, one browser (its CSRF token reused), a new
registered address against a new unknown one for every sample (so the per-address send
counters start alike on both sides), `--samples` pairs, random order within each pair.
Only the POST is timed. Mail goes to an SMTP sink in its own process (aiosmtpd), as it
would to a real server. Three modes:

- settled: after each answer, the mailer's background work is awaited outside the
  timing: what the request itself costs up to its answer;
- host middleware, settled: the same with a pass-through `@app.middleware("http")`
  (Starlette's BaseHTTPMiddleware) in the host app. It hands the answer on through a
  stream, so the event loop runs other tasks while the answer is on its way: work started
  in the background during the request can run before the answer is out;
- slow writer, settled: the same behind a server that takes 1 ms (`WRITE_SECONDS`) to
  write each message of the answer, letting the event loop run other tasks meanwhile (a
  client reading slowly, a socket buffer full);
- back to back: no waiting; the next request starts as soon as the last answer is in,
  as a prober's would, and pays for whatever the last one left running (its mail's send).

For each it prints the medians, the Mann-Whitney z of unknown against registered
(negative: registered slower) and how often the median of 30 samples, held against the
midpoint of the two medians, tells the sides apart (50 % is chance).

Run by hand: .venv/bin/python bench/forgot_password_timing.py   (--samples 300,
--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test). Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authkit import AuthKit
from authkit.flows.admin import create_user

SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"
PASSWORD = "a perfectly fine passphrase"
#: One sender asks for hundreds of resets: the default limits would refuse them.
GENEROUS_LIMITS = {
    "reset:ip": "1000000/minute",
    "code_send:ip": "1000000/minute",
    "code_send:account": "1000000/minute",
}
WARM_UP = 20
SINK = "aiosmtpd.handlers.Sink"
GROUP = 30
#: How long the slow writer takes over each message of an answer.
WRITE_SECONDS = 0.001
#: (label, host middleware, slow writer, settle)
MODES = [
    ("settled", False, False, True),
    ("host middleware, settled", True, False, True),
    ("slow writer, settled", False, True, True),
    ("back to back", False, False, False),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_smtp_sink(port: int) -> subprocess.Popen[bytes]:
    """aiosmtpd's Sink handler (takes every message, keeps none) in its own process."""
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", SINK],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return sink
        except OSError:
            time.sleep(0.05)
    sink.terminate()
    raise RuntimeError("the SMTP sink did not start")


def mann_whitney_z(a: list[float], b: list[float]) -> float:
    """z of U for `a` against `b` (normal approximation, ties ranked by their average):
    negative when `a` tends to be smaller."""
    ranked = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = [0.0] * len(ranked)
    i = 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    n1, n2 = len(a), len(b)
    r1 = sum(r for r, (_, side) in zip(ranks, ranked, strict=True) if side == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    return (u1 - n1 * n2 / 2) / math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)


def classified(unknown: list[float], known: list[float], trials: int = 2000) -> float:
    """Share of random groups of GROUP samples a median-against-midpoint rule gets right."""
    rng = random.Random(1)
    mk, mu = statistics.median(known), statistics.median(unknown)
    midpoint = (mk + mu) / 2
    right = 0
    for _ in range(trials):
        is_known = rng.random() < 0.5
        group = rng.sample(known if is_known else unknown, GROUP)
        says_known = (statistics.median(group) > midpoint) == (mk > mu)
        right += says_known == is_known
    return right / trials


async def passthrough(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    return await call_next(request)


def slow_writer(app: ASGIApp) -> ASGIApp:
    async def served(scope: Scope, receive: Receive, send: Send) -> None:
        async def writing(message: Message) -> None:
            await asyncio.sleep(WRITE_SECONDS)
            await send(message)

        await app(scope, receive, writing)

    return served


async def measure(
    kit: AuthKit,
    registered: list[str],
    samples: int,
    *,
    middleware: bool,
    slow: bool,
    settle: bool,
) -> tuple[list[float], list[float]]:
    host = Starlette(routes=[Mount("/auth", app=kit)])
    kit.install(host)
    if middleware:
        host.add_middleware(BaseHTTPMiddleware, dispatch=passthrough)
    app = slow_writer(host) if slow else host
    known: list[float] = []
    unknown: list[float] = []
    rng = random.Random(7)
    addresses = iter(registered)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        page = await client.get("/auth/forgot-password")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, page.text
        token = match.group(1)

        async def post(is_known: bool) -> float:
            email = next(addresses) if is_known else f"ghost-{secrets.token_hex(6)}@example.com"
            start = time.perf_counter()
            r = await client.post(
                "/auth/forgot-password", data={"csrf_token": token, "email": email}
            )
            elapsed = time.perf_counter() - start
            assert r.status_code == 303, (r.status_code, r.text[:300])
            if settle:
                await kit.services.mailer.drain()
            return elapsed * 1000

        for _ in range(WARM_UP):  # not counted
            await post(True)
            await post(False)
        for _ in range(samples):
            pair = [True, False]
            rng.shuffle(pair)
            for is_known in pair:
                (known if is_known else unknown).append(await post(is_known))
        await kit.services.mailer.drain()
    return known, unknown


def report(label: str, known: list[float], unknown: list[float], mails: int) -> None:
    mk, mu = statistics.median(known), statistics.median(unknown)
    z = mann_whitney_z(unknown, known)
    print(
        f"{label:<36} {len(known):>5} {mk:>10.3f} {mu:>10.3f} {mk - mu:>+8.3f}"
        f" {z:>+7.2f} {classified(unknown, known):>8.0%} {mails:>6}"
    )


async def run_store(name: str, url: str, schema: str | None, samples: int, smtp_port: int) -> None:
    for n, (mode, middleware, slow, settle) in enumerate(MODES):
        kit = AuthKit(
            secret_key=SECRET,
            database_url=url,
            database_schema=schema,
            email_url=f"smtp://127.0.0.1:{smtp_port}",
            email_from="bench <no-reply@bench.test>",
            base_url="http://bench",
            auto_migrate=True,
            password_hash_profile="CHEAPEST",
            rate_limits=GENEROUS_LIMITS,
        )
        try:
            await kit.ensure_started()
            registered = [f"owner-{n}-{i}@example.com" for i in range(samples + WARM_UP)]
            for email in registered:
                await create_user(kit.services, email=email, password=PASSWORD)
            known, unknown = await measure(
                kit, registered, samples, middleware=middleware, slow=slow, settle=settle
            )
            # One mail per registered request, warm-up included; none for unknown ones.
            report(f"{name}, {mode}", known, unknown, kit.services.mailer.sent_count)
        finally:
            await kit.aclose()


async def main(samples: int, postgres: str | None) -> None:
    smtp_port = free_port()
    sink = start_smtp_sink(smtp_port)
    print(f"load average {os.getloadavg()[0]:.2f}; {samples} samples per side; times in ms")
    print(
        f"{'store, mode':<36} {'n':>5} {'registered':>10} {'unknown':>10} {'diff':>8}"
        f" {'z':>7} {'median30':>8} {'mails':>6}"
    )
    try:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            await run_store("sqlite", url, None, samples, smtp_port)
        if postgres:
            import asyncpg

            schema = f"bench_{secrets.token_hex(4)}"
            try:
                await run_store("postgres", postgres, schema, samples, smtp_port)
            finally:
                conn = await asyncpg.connect(postgres.replace("+asyncpg", ""))
                try:
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                finally:
                    await conn.close()
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument(
        "--postgres", metavar="URL", help="also run on this PostgreSQL (a new schema, dropped)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.samples, args.postgres))
