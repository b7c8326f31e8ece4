"""
Throughput of a protected route against a bare route on the same uvicorn server.

Run it by hand::

    .venv/bin/python bench/throughput.py [--duration 5] [--rounds 3] [--workers 1 2]
                                         [--nodelay] [--no-wrk]

What it does: makes a temporary SQLite database, migrates it and creates the signing key,
mints valid `__session` cookies (lifetime 3600 s, the maximum, so none expires during a
run), then starts `uvicorn --workers N` on 127.0.0.1 serving `bench/throughput_app.py`
and loads each case in turn, `--rounds` times over (interleaved, so a slow spell of a
shared machine hits every case alike; each row shows the case's median round):

- `/bare` without a cookie: the baseline; the middleware runs but has nothing to verify;
- `/bare` with a cookie: no auth call in the route, but the middleware verifies the
  token, as it does on every route of a host that installed authkit;
- `/public` with a cookie: calls `auth(request)`;
- `/protected` with a cookie: decorated with `requires_user`;
- `/protected` with a new cookie on every request, cycling through a pool of distinct
  tokens at least twice the verified-token cache per load thread, so every check is a
  full verification: the cost for a site with many distinct visitors, or a worker that
  just started. The "cookie" rows above send one cookie all along, so with the cache
  they measure its hit path.

The load generator is `wrk` (`-t 2 -c 64 --latency`, `--duration` seconds per case; a
small Lua script rotates the cookies of the last case) when it is installed
(`apt-get install -y wrk`). Without it, a fallback written with httpx runs instead (same
connection count, bounded by `--duration` and `--max-requests`); its figures are labelled
"httpx": a Python client on the same two cores is the bottleneck, so its req/s and
latencies measure the client as much as the server, and only "srv CPU" and, roughly,
the ratios mean much.

`--workers 2` needs `--nodelay` for meaningful figures: uvicorn's multi-process mode
leaves Nagle's algorithm on (Kludex/uvicorn#3149), so every keep-alive request waits
~40 ms for a delayed ACK and req/s is pinned at connections / 40 ms. `--nodelay` serves
through `bench/uvicorn_nodelay.py`, which sets TCP_NODELAY on the listening socket.

How to read the table: req/s is completed requests per second over the case; p50 and
p99 are latency percentiles in milliseconds as the tool reports them; "ratio" is req/s
divided by the baseline's (`/bare` without a cookie), so 0.40 means 40 % of the
baseline's requests per second; "srv CPU µs/req" is the user + system CPU time of the
server's processes (from /proc) over the case, divided by the requests completed: the
server-side cost of one request, independent of the client. "non-2xx" and "errors" must
be 0 (a redirect or 401 means a cookie was refused and the row is meaningless). The
client shares the machine's cores with the server, so absolute figures are lower than on
a dedicated load box; compare rows of one run. All traffic goes to 127.0.0.1 only; the
server is stopped at the end, on Ctrl-C and on errors.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import http.client
import importlib.util
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Literal

from authkit import AuthKit
from authkit.ids import new_id

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
TOKEN_LIFETIME_SECONDS = 3600  # the maximum session_token_lifetime authkit accepts
SESSION_LIFETIME_SECONDS = 7 * 24 * 3600
SERVER_START_TIMEOUT_SECONDS = 30.0
SERVER_STOP_TIMEOUT_SECONDS = 10.0
WARMUP_SECONDS = 2
#: uvicorn's HTTP parser and event loop: "plain" is what `pip install uvicorn` (authkit's
#: own dependency) runs, h11 and asyncio, pure Python; "standard" is
#: `pip install 'uvicorn[standard]'`, httptools and uvloop, both in C. A request costs
#: about 3x less on "standard", so authkit's share of it is about 3x larger.
SERVER_KINDS: dict[str, tuple[str, str]] = {
    "plain": ("h11", "asyncio"),
    "standard": ("httptools", "uvloop"),
}


@dataclasses.dataclass(frozen=True)
class Case:
    path: str
    #: none: no cookie; other: a cookie of another name, as long as a session cookie (an
    #: anonymous visitor with the site's own cookies: what carrying the header costs);
    #: one: the same valid cookie on every request (a warm cache); pool: a different valid
    #: cookie on every request (every check a cache miss).
    cookie: Literal["none", "other", "one", "pool"]

    @property
    def label(self) -> str:
        kinds = {"none": "no cookie", "other": "other cookie", "one": "cookie"}
        kind = kinds.get(self.cookie, "new cookie/req")
        return f"{self.path} ({kind})"


CASES = (
    Case("/bare", cookie="none"),
    Case("/bare", cookie="other"),
    Case("/bare", cookie="one"),
    Case("/public", cookie="one"),
    Case("/protected", cookie="one"),
    Case("/protected", cookie="pool"),
)
BASELINE = CASES[0]
WARMUP_CASE = CASES[4]
#: Without a verified-token cache any pool size gives cold checks; this one is enough.
MIN_POOL_PER_THREAD = 1000

#: wrk script for the "pool" case: thread k cycles through slice k of the token file.
#: A slice of twice the cache size guarantees a miss even if a run wraps round it.
WRK_POOL_SCRIPT = """
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local per_thread = tonumber(args[2])
  local first = id * per_thread
  tokens = {}
  local k = 0
  for line in io.lines(args[1]) do
    if k >= first and k < first + per_thread then tokens[#tokens + 1] = line end
    k = k + 1
  end
  i = 0
end

function request()
  i = i % #tokens + 1
  return wrk.format(nil, nil, {["Host"] = wrk.headers["Host"], ["Cookie"] = tokens[i]})
end
"""


@dataclasses.dataclass(frozen=True)
class Cookies:
    """The `Cookie` header values to send: one, and a pool of distinct ones."""

    one: str
    pool: list[str]
    pool_file: Path
    per_thread: int
    cache_size: int | None

    @property
    def other(self) -> str:
        """A cookie of another name, as long as `one`."""
        return "prefs=" + "x" * (len(self.one) - len("prefs="))

    def header(self, case: Case, n: int = 0) -> str | None:
        """The Cookie header of `case`'s n-th request."""
        if case.cookie == "one":
            return self.one
        if case.cookie == "other":
            return self.other
        if case.cookie == "pool":
            return self.pool[n % len(self.pool)]
        return None


@dataclasses.dataclass(frozen=True)
class Load:
    requests_per_second: float
    p50_ms: float | None
    p99_ms: float | None
    requests: int
    non_2xx: int
    errors: int
    tool: str
    #: Server CPU (all processes) per completed request, in µs; None without /proc.
    cpu_us_per_request: float | None = None


# -- setup -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def kit_environment(database: Path, port: int) -> dict[str, str]:
    return {
        "AUTHKIT_SECRET_KEY": secrets.token_urlsafe(48),
        "AUTHKIT_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "AUTHKIT_BASE_URL": f"http://{HOST}:{port}",
        "AUTHKIT_EMAIL_URL": "console://",
        "AUTHKIT_PASSWORD_HASH_PROFILE": "CHEAPEST",
        "AUTHKIT_SESSION_TOKEN_LIFETIME": str(TOKEN_LIFETIME_SECONDS),
        "AUTHKIT_SESSION_LIFETIME": str(SESSION_LIFETIME_SECONDS),
        "AUTHKIT_AUTO_MIGRATE": "true",
    }


async def prepare_database(environ: dict[str, str], tmp: Path, threads: int) -> Cookies:
    """Migrate, create the signing key, and mint the session cookies the run sends."""
    kit = AuthKit.from_env(environ)
    try:
        await kit.ensure_started()
        keyring = kit.services.keyring
        # Present since the verified-token cache (commit cff99b8); None before it.
        cache_size: int | None = getattr(keyring, "cache_size", None)
        per_thread = max(MIN_POOL_PER_THREAD, 2 * (cache_size or 0))

        def cookie() -> str:
            token, _ = keyring.mint_session_token(
                user_id=new_id("user"),
                session_id=new_id("sess"),
                now=datetime.now(UTC),
                lifetime_seconds=TOKEN_LIFETIME_SECONDS,
            )
            return f"__session={token}"

        one = cookie()
        pool = [cookie() for _ in range(per_thread * max(1, threads))]
    finally:
        await kit.aclose()
    pool_file = tmp / "cookies.txt"
    pool_file.write_text("\n".join(pool) + "\n")
    return Cookies(one, pool, pool_file, per_thread, cache_size)


# -- the server --------------------------------------------------------------------------


def get(port: int, path: str, headers: dict[str, str]) -> tuple[int, str]:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


@contextmanager
def server(
    port: int,
    workers: int,
    environ: dict[str, str],
    log: Path,
    *,
    nodelay: bool,
    kind: str = "plain",
    app: str = "throughput_app:create_app",
) -> Iterator[subprocess.Popen[bytes]]:
    """uvicorn serving the factory `app` (a module in bench/), stopped on leaving."""
    launcher = [str(BENCH_DIR / "uvicorn_nodelay.py")] if nodelay else ["-m", "uvicorn"]
    http, loop = SERVER_KINDS[kind]
    command = [
        sys.executable,
        *launcher,
        "--app-dir",
        str(BENCH_DIR),
        "--factory",
        app,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--http",
        http,
        "--loop",
        loop,
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            command, env={**os.environ, **environ}, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            _wait_until_ready(proc, port, log)
            yield proc
        finally:
            _stop(proc)


def _wait_until_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}:\n{_tail(log)}")
        try:
            status, _ = get(port, "/bare", {})
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"uvicorn did not answer within {SERVER_START_TIMEOUT_SECONDS} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()  # uvicorn's supervisor stops its workers on SIGTERM
    try:
        proc.wait(timeout=SERVER_STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _descendants(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found.extend(_descendants(int(child)))
    return found


def server_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of the server and all its workers (Linux /proc), or None."""
    total_ticks = 0
    try:
        pids = _descendants(pid)
        for p in pids:
            # Fields after the ")" that closes the command name; utime and stime are 14, 15.
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total_ticks += int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None
    return total_ticks / os.sysconf("SC_CLK_TCK")


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def check_routes(port: int, cookie: str) -> None:
    """Refuse to measure when the cookie is not accepted: the figures would be of 401s."""
    expectations = [
        ("/bare", {}, 200, "ok"),
        ("/public", {"Cookie": cookie}, 200, "ok"),
        ("/protected", {"Cookie": cookie}, 200, "ok"),
        ("/protected", {"Accept": "application/json"}, 401, None),
    ]
    for path, headers, status, body in expectations:
        got_status, got_body = get(port, path, headers)
        if got_status != status or (body is not None and got_body != body):
            raise RuntimeError(
                f"GET {path} with {sorted(headers)} gave {got_status} {got_body[:80]!r}, "
                f"expected {status} {body!r}"
            )


# -- wrk ---------------------------------------------------------------------------------

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _to_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_wrk(output: str) -> Load:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if rps is None or total is None:
        raise RuntimeError(f"could not parse wrk's output:\n{output}")
    return Load(
        requests_per_second=float(rps.group(1)),
        p50_ms=_to_ms(p50.group(1)) if p50 else None,
        p99_ms=_to_ms(p99.group(1)) if p99 else None,
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
        tool="wrk",
    )


def run_wrk(
    wrk: str,
    url: str,
    case: Case,
    cookies: Cookies,
    *,
    duration: int,
    threads: int,
    connections: int,
) -> Load:
    command = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency"]
    if case.cookie in ("one", "other"):
        command += ["-H", f"Cookie: {cookies.header(case)}", url]
    elif case.cookie == "pool":
        script = cookies.pool_file.with_name("pool.lua")
        script.write_text(WRK_POOL_SCRIPT)
        command += ["-s", str(script), url, "--", str(cookies.pool_file), str(cookies.per_thread)]
    else:
        command.append(url)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return parse_wrk(done.stdout)


# -- the httpx fallback ------------------------------------------------------------------


async def _httpx_load(
    url: str, case: Case, cookies: Cookies, *, duration: float, connections: int, max_requests: int
) -> Load:
    import httpx  # only needed without wrk

    def headers(n: int) -> dict[str, str]:
        header = cookies.header(case, n)
        return {} if header is None else {"Cookie": header}

    latencies_ns: list[int] = []
    counts = {"started": 0, "non_2xx": 0, "errors": 0}
    # One client (one keep-alive connection) per worker: a single pool shared by 64 tasks
    # spends its time in the pool's bookkeeping. Clients are built before the clock starts
    # (each one loads a TLS context).
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(limits=limits, timeout=10.0) for _ in range(connections)]

    async def worker(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline and counts["started"] < max_requests:
            n = counts["started"]
            counts["started"] += 1
            t0 = time.perf_counter_ns()
            try:
                response = await client.get(url, headers=headers(n))
            except httpx.HTTPError:
                counts["errors"] += 1
                continue
            latencies_ns.append(time.perf_counter_ns() - t0)
            if not 200 <= response.status_code < 400:
                counts["non_2xx"] += 1

    start = time.perf_counter()
    deadline = start + duration
    try:
        await asyncio.gather(*(worker(client) for client in clients))
    finally:
        elapsed = time.perf_counter() - start
        for client in clients:
            await client.aclose()
    ordered = sorted(latencies_ns)

    def pct(fraction: float) -> float | None:
        if not ordered:
            return None
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] / 1e6

    return Load(
        requests_per_second=len(ordered) / elapsed if elapsed > 0 else 0.0,
        p50_ms=statistics.median(ordered) / 1e6 if ordered else None,
        p99_ms=pct(0.99),
        requests=len(ordered),
        non_2xx=counts["non_2xx"],
        errors=counts["errors"],
        tool="httpx",
    )


def run_httpx(
    url: str, case: Case, cookies: Cookies, *, duration: int, connections: int, max_requests: int
) -> Load:
    return asyncio.run(
        _httpx_load(
            url,
            case,
            cookies,
            duration=duration,
            connections=connections,
            max_requests=max_requests,
        )
    )


# -- the run -----------------------------------------------------------------------------


def measure(
    port: int, server_pid: int, cookies: Cookies, args: argparse.Namespace, wrk: str | None
) -> list[tuple[Case, Load]]:
    def load(case: Case, duration: int) -> Load:
        url = f"http://{HOST}:{port}{case.path}"
        if wrk is not None:
            return run_wrk(
                wrk,
                url,
                case,
                cookies,
                duration=duration,
                threads=args.threads,
                connections=args.connections,
            )
        return run_httpx(
            url,
            case,
            cookies,
            duration=duration,
            connections=args.connections,
            max_requests=args.max_requests,
        )

    # Warm every worker (first request starts the kit) and the interpreter's caches.
    load(WARMUP_CASE, WARMUP_SECONDS)
    # Rounds interleave the cases (A B C ... A B C ...), so a slow spell of a shared
    # machine hits every case alike; each row is then the case's median round.
    runs: dict[Case, list[Load]] = {case: [] for case in CASES}
    for round_ in range(1, args.rounds + 1):
        for case in CASES:
            print(
                f"  round {round_}/{args.rounds}: loading {case.label} for {args.duration} s ...",
                file=sys.stderr,
                flush=True,
            )
            cpu_before = server_cpu_seconds(server_pid)
            result = load(case, args.duration)
            cpu_after = server_cpu_seconds(server_pid)
            if cpu_before is not None and cpu_after is not None and result.requests:
                cpu_us = (cpu_after - cpu_before) * 1e6 / result.requests
                result = dataclasses.replace(result, cpu_us_per_request=cpu_us)
            runs[case].append(result)
    return [(case, median_round(runs[case])) for case in CASES]


def median_round(loads: list[Load]) -> Load:
    """The round with the median req/s (the lower middle one for an even count)."""
    ordered = sorted(loads, key=lambda load: load.requests_per_second)
    return ordered[(len(ordered) - 1) // 2]


def server_title(workers: int, nodelay: bool, kind: str) -> str:
    http, loop = SERVER_KINDS[kind]
    return f"uvicorn --workers {workers} --http {http} --loop {loop} ({kind})" + (
        " with the TCP_NODELAY fix" if nodelay else ""
    )


def add_server_option(parser: argparse.ArgumentParser, *, several: bool) -> None:
    """`--server plain|standard` (several of them when `several`)."""
    parser.add_argument(
        "--server",
        nargs="+" if several else None,
        choices=sorted(SERVER_KINDS),
        default=["plain", "standard"] if several else "plain",
        help="uvicorn's parser and loop: plain (h11, asyncio), standard (httptools, uvloop)",
    )


def require_server_kinds(kinds: Iterable[str]) -> str | None:
    """Why the server kinds asked for cannot run here, or None."""
    missing = [
        module
        for kind in kinds
        for module in SERVER_KINDS[kind]
        if module not in ("h11", "asyncio") and importlib.util.find_spec(module) is None
    ]
    if missing:
        return (
            f"{', '.join(missing)} not installed: `.venv/bin/pip install -e '.[bench]'`"
            " (uvicorn[standard]'s httptools and uvloop)"
        )
    return None


def render(workers: int, nodelay: bool, kind: str, results: list[tuple[Case, Load]]) -> str:
    baseline = next(load for case, load in results if case == BASELINE)
    tool = results[0][1].tool
    title = f"{server_title(workers, nodelay, kind)}, load by {tool}"
    if tool == "httpx":
        title += " (FALLBACK: Python client, client-bound; compare ratios and CPU only)"
    lines = [title]
    if workers > 1 and not nodelay:
        lines.append(
            "WARNING: uvicorn --workers N leaves Nagle on (Kludex/uvicorn#3149): each keep-alive"
            " request waits ~40 ms\n         for a delayed ACK, so req/s = connections / 40 ms"
            " whatever the app does. Rerun with --nodelay."
        )
    lines += table_lines([(case.label, load) for case, load in results], baseline)
    return "\n".join(lines)


def table_lines(rows: list[tuple[str, Load]], baseline: Load) -> list[str]:
    """The results table: a header, a rule and one line per (label, load); "ratio" is
    req/s over `baseline`'s. Also used by `bench/signin_storm.py`."""
    header = (
        f"{'route':<28} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}"
        f" {'srv CPU µs/req':>15} {'requests':>9} {'non-2xx':>8} {'errors':>7}"
    )
    lines = [header, "-" * len(header)]
    for label, load in rows:
        ratio = load.requests_per_second / baseline.requests_per_second
        cpu = f"{load.cpu_us_per_request:.0f}" if load.cpu_us_per_request is not None else "n/a"
        lines.append(
            f"{label:<28} {load.requests_per_second:>10.1f} {format_ms(load.p50_ms):>8}"
            f" {format_ms(load.p99_ms):>8} {ratio:>6.2f} {cpu:>15} {load.requests:>9}"
            f" {load.non_2xx:>8} {load.errors:>7}"
        )
    return lines


def format_ms(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "n/a"


def _describe(cookies: Cookies) -> str:
    cache = (
        f"verified-token cache of {cookies.cache_size} per worker"
        if cookies.cache_size is not None
        else "no verified-token cache in this authkit"
    )
    return (
        f"{cache}; 'cookie' rows send one cookie (warm), 'new cookie/req' rows cycle "
        f"{len(cookies.pool)} distinct cookies ({cookies.per_thread} per load thread: cold)"
    )


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per case and round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds over all cases; rows show the median"
    )
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1], help="uvicorn worker counts, e.g. 1 2"
    )
    add_server_option(parser, several=True)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=64, help="open connections")
    parser.add_argument(
        "--max-requests", type=int, default=50_000, help="per case, httpx fallback only"
    )
    parser.add_argument("--no-wrk", action="store_true", help="use the httpx fallback")
    parser.add_argument(
        "--nodelay",
        action="store_true",
        help="serve through bench/uvicorn_nodelay.py (works around uvicorn#3149 for --workers>1)",
    )
    args = parser.parse_args(argv)

    runs = len(args.workers) * len(args.server)
    budget = (WARMUP_SECONDS + len(CASES) * args.duration * args.rounds + 10) * runs
    if budget >= TOKEN_LIFETIME_SECONDS:
        parser.error(f"the run would outlast the session token ({TOKEN_LIFETIME_SECONDS} s)")

    problem = require_server_kinds(args.server)
    if problem is not None:
        parser.error(problem)

    wrk = None if args.no_wrk else shutil.which("wrk")
    if wrk is None:
        reason = "--no-wrk given" if args.no_wrk else "wrk is not installed"
        print(
            f"NOTE: {reason}; falling back to an httpx load generator. Its figures are "
            "bounded by the Python client, not the server: install wrk "
            "(apt-get install -y wrk) for real figures.\n",
            flush=True,
        )

    # SIGTERM as Ctrl-C (also when started with SIGINT ignored, as by `cmd &`), so the
    # server is stopped in every case.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    print(
        f"authkit throughput — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.2f}), "
        f"Python {platform.python_version()}, "
        f"{args.rounds} rounds of {args.duration} s per case (median shown), "
        f"{args.connections} connections" + (f", wrk -t {args.threads}" if wrk else "") + "\n",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="authkit-bench-") as tmp:
            port = free_port()
            environ = kit_environment(Path(tmp) / "authkit.db", port)
            print("minting session cookies ...", file=sys.stderr, flush=True)
            cookies = asyncio.run(prepare_database(environ, Path(tmp), args.threads))
            print(_describe(cookies) + "\n", flush=True)
            for workers in args.workers:
                for kind in args.server:
                    title = server_title(workers, args.nodelay, kind)
                    print(f"starting {title} on {HOST}:{port}", file=sys.stderr)
                    log = Path(tmp) / f"uvicorn-{workers}-{kind}.log"
                    with server(
                        port, workers, environ, log, nodelay=args.nodelay, kind=kind
                    ) as proc:
                        check_routes(port, cookies.one)
                        check_routes(port, cookies.pool[-1])
                        results = measure(port, proc.pid, cookies, args, wrk)
                    print(render(workers, args.nodelay, kind, results) + "\n", flush=True)
    except KeyboardInterrupt:
        print("interrupted; server stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
