"""
Latency of a cheap route while sign-ins hash passwords with the real Argon2 profile.

Run it by hand::

    .venv/bin/python bench/signin_storm.py [--workers 1] [--duration 10] [--nodelay]
                                           [--loops 3] [--hash-concurrency 0]
                                           [--threads 1] [--connections 8]

What it does: makes a temporary SQLite database, migrates it, creates one user with the
real default password hashing (``RFC_9106_LOW_MEMORY``: Argon2id, m=64 MiB, t=3, p=4),
mints a valid `__session` cookie, and starts `uvicorn --workers N` on 127.0.0.1 serving
`throughput_app:create_signin_storm_app` (the app of `bench/throughput.py` with generous
sign-in rate limits, see below). Then it loads `/public` (calls `auth(request)`, one
cookie sent all along) with wrk, `-t 1 -c 8 --latency`: a steady load of a few thousand
requests a second. (`throughput.py`'s `-c 64` saturates one event loop, so its p99 is 64
requests' worth of queueing, tens of ms on a slow machine even idle, and says nothing
about the storm; pass `--connections 64` to see it.)

- **idle**: nothing else runs;
- **sign-in storm**: `--loops` threads (default 3) each sign in through the real form in
  a tight loop for the whole case: GET `/auth/sign-in` (for the CSRF cookie and token),
  then POST email, password and token, expecting a 303 that sets `__session`, then forget
  the cookies and start again. The loops start 2 s before wrk and stop after it; the
  sign-ins counted are those that finished while wrk ran.

Why: each sign-in runs one Argon2 verification (64 MiB, ~0.18 CPU-seconds here) in a
thread of its own at nice 10, at most one per core at a time
(`AUTHKIT_PASSWORD_HASH_CONCURRENCY`, 0 = one per CPU), never on the event loop; a cheap
request should stay fast meanwhile (the
target: p99 < 25 ms during the storm), and the server's memory should grow by at most
concurrency times 64 MiB.

The default rate limits (`sign_in:ip` 30/minute) would stop the loops within seconds, so
this server's kit is built with ``sign_in:ip`` and ``sign_in:account`` at 100000/minute;
the output says so. All traffic goes to 127.0.0.1 only; the server is stopped at the end,
on Ctrl-C and on errors.

How to read the output: the first table has `throughput.py`'s columns ("ratio" is req/s
over the idle case's; srv CPU µs/req of the storm row includes the sign-ins' Argon2 work).
Under it, for each case, the event-loop thread's own CPU time per request and the share
of wall time it was runnable but waiting for a CPU (the run-queue delay in
`/proc/<pid>/task/<pid>/schedstat`, mean over workers): a loop that waits there is not
blocked by the app but preempted by other threads (Argon2's, wrk's). The second table
counts the sign-ins completed while wrk ran and the latency of their POST (the Argon2
verification, the wait for a hashing slot, the session's creation). Last, for each
worker: its RSS before the storm, and its peak RSS (VmHWM, `/proc/<pid>/status`) after
it; the difference is what the storm added, to compare with the bound (concurrency times
the profile's memory cost). Start-up already makes one hash (the dummy hash that unknown
addresses are verified against), so the peak before the storm is about RSS + 64 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import argon2.profiles
import httpx
from throughput import (
    HOST,
    TOKEN_LIFETIME_SECONDS,
    WARMUP_SECONDS,
    Case,
    Cookies,
    Load,
    _descendants,
    _raise_keyboard_interrupt,
    add_server_option,
    check_routes,
    format_ms,
    free_port,
    kit_environment,
    require_server_kinds,
    run_wrk,
    server,
    server_cpu_seconds,
    server_title,
    table_lines,
)
from throughput_app import GENEROUS_RATE_LIMITS

from authkit import AuthKit
from authkit.config import Settings
from authkit.flows.admin import create_user
from authkit.ids import new_id
from authkit.security.ratelimit import DEFAULT_RULES

APP = "throughput_app:create_signin_storm_app"


def _default_profile() -> str:
    """The profile a kit uses when none is configured: the point of this benchmark."""
    for field in dataclasses.fields(Settings):
        if field.name == "password_hash_profile" and isinstance(field.default, str):
            return field.default
    raise RuntimeError("Settings has no default password_hash_profile")


PROFILE = _default_profile()
CASE = Case("/public", cookie="one")
EMAIL = "storm@example.com"
PASSWORD = "correct horse battery staple"
#: The loops run this long before wrk starts, so the hashing slots are already full.
RAMP_SECONDS = 2.0
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
MIB = 1024 * 1024


# -- setup -------------------------------------------------------------------------------


async def prepare_database(environ: dict[str, str]) -> tuple[str, int, int]:
    """
    Migrate, create the signing key and the user the loops sign in as (hashed with the
    server's profile), and mint a session cookie. Returns the `Cookie` header, and the
    hashing concurrency and memory bound per worker.
    """
    kit = AuthKit.from_env(environ)
    try:
        await kit.ensure_started()
        svc = kit.services
        if svc.settings.password_hash_profile != PROFILE:
            raise RuntimeError(f"the kit hashes with {svc.settings.password_hash_profile}")
        user_id = await create_user(svc, email=EMAIL, password=PASSWORD)
        token, _ = svc.keyring.mint_session_token(
            user_id=user_id,
            session_id=new_id("sess"),
            now=datetime.now(UTC),
            lifetime_seconds=TOKEN_LIFETIME_SECONDS,
        )
        return f"__session={token}", svc.hasher.concurrency, svc.hasher.max_memory_bytes
    finally:
        await kit.aclose()


# -- the sign-in loops -------------------------------------------------------------------


@dataclasses.dataclass
class SignIns:
    #: (perf_counter when the POST's answer arrived, its latency in seconds)
    done: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    failures: list[str] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


def _sign_in_loop(base_url: str, stop: threading.Event, out: SignIns) -> None:
    # Origin as a browser sends it on a same-origin form post (the CSRF check reads it).
    with httpx.Client(
        base_url=base_url, headers={"Origin": base_url}, timeout=60.0, follow_redirects=False
    ) as client:
        while not stop.is_set():
            client.cookies.clear()  # signed in, the page would redirect
            try:
                page = client.get("/auth/sign-in")
                found = CSRF_INPUT.search(page.text)
                if page.status_code != 200 or found is None:
                    failure = f"GET /auth/sign-in gave {page.status_code} without a CSRF token"
                else:
                    form = {"email": EMAIL, "password": PASSWORD, "csrf_token": found[1]}
                    start = time.perf_counter()
                    answer = client.post("/auth/sign-in", data=form)
                    end = time.perf_counter()
                    if answer.status_code == 303 and "__session" in answer.cookies:
                        with out.lock:
                            out.done.append((end, end - start))
                        continue
                    failure = f"POST /auth/sign-in gave {answer.status_code}"
            except httpx.HTTPError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            with out.lock:
                out.failures.append(failure)
            stop.wait(0.1)  # do not spin on a failing server


@contextmanager
def sign_in_loops(base_url: str, loops: int) -> Iterator[SignIns]:
    """`loops` threads signing in until the block ends."""
    out = SignIns()
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_sign_in_loop, args=(base_url, stop, out), name=f"sign-in-{n}", daemon=True
        )
        for n in range(loops)
    ]
    for thread in threads:
        thread.start()
    try:
        yield out
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


# -- /proc -------------------------------------------------------------------------------


def worker_pids(server_pid: int, workers: int) -> list[int]:
    """The processes that serve requests: uvicorn itself, or its spawned workers."""
    if workers == 1:
        return [server_pid]
    found = []
    for pid in _descendants(server_pid)[1:]:
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def memory_bytes(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak since the process started), in bytes; {} without /proc."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    found = re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE)
    return {name: int(kib) * 1024 for name, kib in found}


def loop_thread_ns(pids: list[int]) -> tuple[int, int] | None:
    """
    Time the main (event-loop) threads of `pids` spent on a CPU, and waiting in the run
    queue for one, in ns (`/proc/<pid>/task/<pid>/schedstat`); None without it.
    """
    running = waiting = 0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
            running += int(fields[0])
            waiting += int(fields[1])
    except (OSError, IndexError, ValueError):
        return None
    return running, waiting


# -- the run -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Phase:
    load: Load
    #: CPU time of the event-loop threads per request, in µs.
    loop_cpu_us_per_request: float | None
    #: Share of wall time the event-loop threads waited for a CPU (mean over workers).
    loop_waiting: float | None


def measure(
    wrk: str, port: int, server_pid: int, workers: list[int], cookie: str, args: argparse.Namespace
) -> Phase:
    cookies = Cookies(
        one=cookie, pool=[], pool_file=Path(os.devnull), per_thread=0, cache_size=None
    )
    cpu_before = server_cpu_seconds(server_pid)
    loop_before = loop_thread_ns(workers)
    start = time.perf_counter()
    load = run_wrk(
        wrk,
        f"http://{HOST}:{port}{CASE.path}",
        CASE,
        cookies,
        duration=args.duration,
        threads=args.threads,
        connections=args.connections,
    )
    wall = time.perf_counter() - start
    cpu_after = server_cpu_seconds(server_pid)
    loop_after = loop_thread_ns(workers)
    if cpu_before is not None and cpu_after is not None and load.requests:
        cpu_us = (cpu_after - cpu_before) * 1e6 / load.requests
        load = dataclasses.replace(load, cpu_us_per_request=cpu_us)
    if loop_before is None or loop_after is None or not load.requests:
        return Phase(load, None, None)
    running = (loop_after[0] - loop_before[0]) / 1e3 / load.requests
    waiting = (loop_after[1] - loop_before[1]) / 1e9 / wall / len(workers)
    return Phase(load, running, waiting)


@dataclasses.dataclass(frozen=True)
class Storm:
    phase: Phase
    sign_ins: list[float]  # POST latencies, s, of the sign-ins finished during wrk
    seconds: float
    failures: list[str]


def storm(
    wrk: str, port: int, server_pid: int, workers: list[int], cookie: str, args: argparse.Namespace
) -> Storm:
    with sign_in_loops(f"http://{HOST}:{port}", args.loops) as out:
        time.sleep(RAMP_SECONDS)
        start = time.perf_counter()
        phase = measure(wrk, port, server_pid, workers, cookie, args)
        end = time.perf_counter()
    with out.lock:
        latencies = [latency for at, latency in out.done if start <= at <= end]
        failures = list(out.failures)
    return Storm(phase, latencies, end - start, failures)


def render(args: argparse.Namespace, idle: Phase, during: Storm, memory: list[str]) -> str:
    title = (
        f"{server_title(args.workers, args.nodelay, args.server)}, "
        f"GET {CASE.path} by wrk -t {args.threads} -c {args.connections}, "
        f"idle then with {args.loops} sign-in loops"
    )
    lines = [title]
    if args.workers > 1 and not args.nodelay:
        lines.append(
            "WARNING: without --nodelay every keep-alive request waits ~40 ms (uvicorn#3149)."
        )
    rows = [
        (f"{CASE.label}, idle", idle.load),
        (f"{CASE.label}, storm", during.phase.load),
    ]
    lines += table_lines(rows, idle.load)

    lines.append("(srv CPU µs/req of the storm row includes the sign-ins' work, Argon2 above all)")
    for name, phase in (("idle", idle), ("storm", during.phase)):
        if phase.loop_cpu_us_per_request is not None and phase.loop_waiting is not None:
            lines.append(
                f"event-loop thread, {name + ':':<6} {phase.loop_cpu_us_per_request:.0f} µs CPU"
                f" per request; runnable but waiting for a CPU {phase.loop_waiting:.0%}"
                " of the time"
            )
    lines.append("")
    ordered = sorted(during.sign_ins)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] if ordered else None
    header = (
        f"{'sign-in loops':<14} {'sign-ins':>9} {'per s':>7} {'POST p50 ms':>12}"
        f" {'POST p99 ms':>12} {'failures':>9}"
    )
    lines += [header, "-" * len(header)]
    lines.append(
        f"{args.loops:<14} {len(ordered):>9} {len(ordered) / during.seconds:>7.1f}"
        f" {format_ms(statistics.median(ordered) * 1000 if ordered else None):>12}"
        f" {format_ms(p99 * 1000 if p99 is not None else None):>12}"
        f" {len(during.failures):>9}"
    )
    for failure in sorted(set(during.failures))[:5]:
        lines.append(f"  failure: {failure}")
    lines.append("")
    lines += memory
    return "\n".join(lines)


def _mib(value: int | None) -> str:
    return f"{value / MIB:.1f} MiB" if value is not None else "n/a"


def memory_lines(before: dict[int, dict[str, int]], concurrency: int, bound: int) -> list[str]:
    """
    Each worker's RSS before the storm against its peak after it. The peak before the
    storm is shown too: start-up makes one hash (the dummy hash for unknown addresses).
    """
    lines = []
    for pid, start in before.items():
        rss, hwm_before = start.get("VmRSS"), start.get("VmHWM")
        hwm = memory_bytes(pid).get("VmHWM")
        grew = f"+{_mib(hwm - rss)}" if rss is not None and hwm is not None else "n/a"
        lines.append(
            f"worker {pid}: RSS {_mib(rss)} before the storm (peak so far {_mib(hwm_before)},"
            f" from start-up's one hash); peak RSS (VmHWM) after it {_mib(hwm)}: {grew}"
            f" (bound: concurrency {concurrency} x {bound // concurrency // MIB} MiB"
            f" = {bound // MIB} MiB)"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per case")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker count")
    parser.add_argument("--loops", type=int, default=3, help="concurrent sign-in loops")
    parser.add_argument(
        "--hash-concurrency",
        type=int,
        default=0,
        help="AUTHKIT_PASSWORD_HASH_CONCURRENCY for the server (default 0: one per CPU)",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    add_server_option(parser, several=False)
    parser.add_argument(
        "--nodelay",
        action="store_true",
        help="serve through bench/uvicorn_nodelay.py (works around uvicorn#3149 for --workers>1)",
    )
    args = parser.parse_args(argv)
    problem = require_server_kinds([args.server])
    if problem is not None:
        parser.error(problem)
    wrk = shutil.which("wrk")
    if wrk is None:
        parser.error("wrk is not installed (apt-get install -y wrk)")

    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    parameters = getattr(argon2.profiles, PROFILE)
    print(
        f"authkit sign-in storm — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.2f}), "
        f"Python {platform.python_version()}, {args.duration} s per case\n",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="authkit-bench-") as tmp:
            port = free_port()
            environ = kit_environment(Path(tmp) / "authkit.db", port)
            environ["AUTHKIT_PASSWORD_HASH_PROFILE"] = PROFILE
            environ["AUTHKIT_PASSWORD_HASH_CONCURRENCY"] = str(args.hash_concurrency)
            print("creating the user (one real Argon2 hash) ...", file=sys.stderr, flush=True)
            cookie, concurrency, bound = asyncio.run(prepare_database(environ))
            limits = ", ".join(
                f"{name} {GENEROUS_RATE_LIMITS[name]}" for name in GENEROUS_RATE_LIMITS
            )
            defaults = ", ".join(f"{name} {DEFAULT_RULES[name]}" for name in GENEROUS_RATE_LIMITS)
            print(
                f"argon2 profile {PROFILE} (m={parameters.memory_cost // 1024} MiB, "
                f"t={parameters.time_cost}, p={parameters.parallelism}), at most {concurrency} "
                f"hashes at once per worker\nrate limits raised for this run: {limits} "
                f"(defaults: {defaults})\n",
                flush=True,
            )
            log = Path(tmp) / "uvicorn.log"
            print(f"starting uvicorn --workers {args.workers}", file=sys.stderr, flush=True)
            with server(
                port, args.workers, environ, log, nodelay=args.nodelay, kind=args.server, app=APP
            ) as proc:
                check_routes(port, cookie)
                workers = worker_pids(proc.pid, args.workers)
                if len(workers) != args.workers:
                    raise RuntimeError(f"found {len(workers)} worker processes, not {args.workers}")
                warmup = argparse.Namespace(**{**vars(args), "duration": WARMUP_SECONDS})
                measure(wrk, port, proc.pid, workers, cookie, warmup)
                print(f"  idle for {args.duration} s ...", file=sys.stderr, flush=True)
                idle = measure(wrk, port, proc.pid, workers, cookie, args)
                before = {pid: memory_bytes(pid) for pid in workers}
                print(
                    f"  {args.loops} sign-in loops for {RAMP_SECONDS:.0f} + {args.duration} s ...",
                    file=sys.stderr,
                    flush=True,
                )
                during = storm(wrk, port, proc.pid, workers, cookie, args)
                memory = memory_lines(before, concurrency, bound)
            print(render(args, idle, during, memory) + "\n", flush=True)
    except KeyboardInterrupt:
        print("interrupted; server stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
