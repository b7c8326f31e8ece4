"""
The server's own CPU per request for `throughput.py`'s cases, through uvicorn's real
HTTP protocol classes but with no socket, kernel or load generator.

Run it by hand::

    .venv/bin/python bench/server_cost.py [--rounds 7] [--requests 20000]
                                          [--server plain standard]

Why: on a two-core machine, wrk and the server share the cores, and with uvicorn's C
parser and loop ("standard") the server is about as fast as wrk. Which of the two waits
for the other then flips with a few µs of work, and waking the one that waits (a system
call, an inter-processor interrupt in a VM) costs more than those µs: 5 µs of busy work
added to the bare route, measured inside the server, raised its CPU per request by
12-14 µs there (bench/README.md, 2026-12-04). `throughput.py`'s ratios on "standard" measure
that seesaw as much as authkit. This script takes it away: it builds the same app
(`throughput_app.py`), connects 64 in-memory connections to uvicorn's own
`H11Protocol`/`HttpToolsProtocol` on the matching event loop (asyncio/uvloop), feeds each
the request's bytes as a socket would, and times CPU (`time.process_time`) per request
until the app has sent its response. What it counts: uvicorn's parsing and ASGI cycle,
Starlette, authkit, the app; what it leaves out: system calls and the client.

Each case runs `--requests` requests per round (after a warm-up), cases interleaved,
for `--rounds` rounds; the table shows the median round's µs per request, "+µs" over the
cookie-less bare route, and "ratio" = its µs / the case's µs: the throughput share a
CPU-bound server would keep. The "new cookie/req" case cycles through twice the
verified-token cache of distinct tokens, so every check is a full verification.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from datetime import UTC, datetime
from itertools import cycle
from pathlib import Path
from typing import Any

from throughput import (
    BASELINE,
    CASES,
    SERVER_KINDS,
    Case,
    Cookies,
    add_server_option,
    free_port,
    kit_environment,
    prepare_database,
    require_server_kinds,
)

CONNECTIONS = 64
WARMUP_REQUESTS = 5_000

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class MemoryTransport(asyncio.Transport):
    """What uvicorn's protocol writes to: discards the response bytes."""

    def __init__(self) -> None:
        super().__init__()
        self._closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


def request_bytes(path: str, cookie: str | None) -> bytes:
    """A keep-alive GET as wrk sends it (wrk adds only Host)."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1:8000"]
    if cookie is not None:
        lines.append(f"Cookie: {cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Bench:
    """64 in-memory connections to one uvicorn protocol class around the host app."""

    def __init__(self, app: ASGIApp, kind: str) -> None:
        from uvicorn.config import Config
        from uvicorn.server import ServerState

        http, _ = SERVER_KINDS[kind]
        self._remaining = 0
        self._all_done: asyncio.Future[None] | None = None

        async def app_then_count(scope: dict[str, Any], receive: Any, send: Any) -> None:
            # The app returns once its response is written: one request done.
            await app(scope, receive, send)
            self._remaining -= 1
            if self._remaining == 0 and self._all_done is not None:
                self._all_done.set_result(None)

        config = Config(app=app_then_count, http=http, lifespan="off", access_log=False)
        config.load()
        state = ServerState()
        self.connections = []
        for _ in range(CONNECTIONS):
            protocol_class: Any = config.http_protocol_class
            protocol = protocol_class(config=config, server_state=state, app_state={})
            protocol.connection_made(MemoryTransport())
            self.connections.append(protocol)

    async def cpu_per_request(self, requests: Iterator[bytes], count: int) -> float:
        """CPU seconds per request over `count` requests, one per connection at a time."""
        loop = asyncio.get_running_loop()
        done = 0
        started = time.process_time()
        while done < count:
            self._remaining = len(self.connections)
            self._all_done = loop.create_future()
            for protocol in self.connections:
                protocol.data_received(next(requests))
            await self._all_done
            done += len(self.connections)
        return (time.process_time() - started) / done


def requests_for(case: Case, cookies: Cookies) -> Iterator[bytes]:
    count = len(cookies.pool) if case.cookie == "pool" else 1
    return cycle([request_bytes(case.path, cookies.header(case, n)) for n in range(count)])


async def measure(kind: str, cookies: Cookies, args: argparse.Namespace) -> list[float]:
    """Median µs per request of each case in CASES, on a server of `kind`."""
    import throughput_app

    bench = Bench(throughput_app.create_app(), kind)
    streams = {case: requests_for(case, cookies) for case in CASES}
    for case in CASES:
        await bench.cpu_per_request(streams[case], WARMUP_REQUESTS)
    rounds: dict[Case, list[float]] = {case: [] for case in CASES}
    for round_ in range(1, args.rounds + 1):
        print(f"  {kind}: round {round_}/{args.rounds}", file=sys.stderr, flush=True)
        for case in CASES:
            count = args.requests if case.cookie != "pool" else args.requests // 10
            seconds = await bench.cpu_per_request(streams[case], count)
            rounds[case].append(seconds * 1e6)
    return [statistics.median(rounds[case]) for case in CASES]


def render(kind: str, results: list[float]) -> str:
    http, loop = SERVER_KINDS[kind]
    base = results[CASES.index(BASELINE)]
    header = f"{'route':<28} {'µs/req':>8} {'+µs':>7} {'ratio':>6}"
    lines = [
        f"uvicorn {http} protocol on {loop} ({kind}), {CONNECTIONS} in-memory connections",
        header,
        "-" * len(header),
    ]
    for case, micros in zip(CASES, results, strict=True):
        lines.append(
            f"{case.label:<28} {micros:>8.2f} {micros - base:>+7.2f} {base / micros:>6.2f}"
        )
    return "\n".join(lines)


def run_on_loop(kind: str, work: Coroutine[Any, Any, list[float]]) -> list[float]:
    if SERVER_KINDS[kind][1] == "uvloop":
        import uvloop

        return uvloop.run(work)
    return asyncio.run(work)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds over all cases")
    parser.add_argument("--requests", type=int, default=20_000, help="per case and round")
    add_server_option(parser, several=True)
    args = parser.parse_args(argv)
    problem = require_server_kinds(args.server)
    if problem is not None:
        parser.error(problem)
    print(
        f"authkit server cost — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.2f}), "
        f"Python {platform.python_version()}, {args.rounds} rounds of {args.requests} "
        "requests per case (median shown; a tenth of that for the new-cookie case)\n",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="authkit-bench-") as tmp:
        environ = kit_environment(Path(tmp) / "authkit.db", free_port())
        cookies = asyncio.run(prepare_database(environ, Path(tmp), threads=1))
        os.environ.update(environ)  # throughput_app builds its kit from AUTHKIT_* variables
        for kind in args.server:
            results = run_on_loop(kind, measure(kind, cookies, args))
            print(render(kind, results) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
