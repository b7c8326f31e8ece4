"""
Bot protection's proof of work: what it costs the visitor's browser and what it costs us.

1. In Chromium (Debian's, through Playwright), the sign-up page of a live server with bot
   protection on: ALTCHA's real widget fetches a challenge at the default difficulty and
   solves it in its Web Workers. The solve time is the widget's own measurement (the
   `time` it puts in the payload, before its 500 ms minimum display time); the page is
   reloaded for every sample. Median, quartiles and the slowest.
2. In-process: making one challenge (one PBKDF2 derivation of COST iterations, the server
   pre-solving it) and judging one solved answer (two HMACs and a JSON decode), in µs.

Run by hand: .venv/bin/python bench/proof_of_work.py [--samples 25]   Prints figures;
asserts nothing. Needs Chromium (scripts/test installs it).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import socket
import statistics
import tempfile
import threading
import time

import uvicorn
from altcha import Challenge, Payload, solve_challenge
from playwright.sync_api import sync_playwright
from starlette.applications import Starlette
from starlette.routing import Mount

from authkit import AuthKit
from authkit.clock import system_clock
from authkit.security.proof_of_work import BASE_COUNTER, COST, ProofOfWork

SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def browser_solves(samples: int) -> list[float]:
    with tempfile.TemporaryDirectory() as folder:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        kit = AuthKit(
            secret_key=SECRET,
            database_url=f"sqlite+aiosqlite:///{folder}/bench.db",
            base_url=f"http://127.0.0.1:{port}",
            auto_migrate=True,
            rate_limits={"bot_challenge:ip": "10000/minute"},
        )
        app = Starlette(routes=[Mount("/auth", app=kit)])
        kit.install(app)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        times: list[float] = []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
                )
                page = browser.new_page()
                for _ in range(samples):
                    page.goto(f"http://127.0.0.1:{port}/auth/sign-up")
                    page.wait_for_function(
                        "() => { const w = document.querySelector('altcha-widget');"
                        " return w && w.getState && w.getState() === 'verified' }",
                        timeout=60_000,
                    )
                    payload = page.locator("input[name=altcha]").input_value()
                    times.append(float(json.loads(base64.b64decode(payload))["solution"]["time"]))
                workers = page.evaluate("navigator.hardwareConcurrency")
                print(f"  (Chromium reports {workers} cores; the widget starts a worker each)")
                browser.close()
        finally:
            server.should_exit = True
            thread.join(5)
        return times


async def server_costs(rounds: int) -> tuple[float, float]:
    work = ProofOfWork(SECRET, clock=system_clock)
    started = time.perf_counter()
    for _ in range(rounds):
        made = await work.challenge("sign_up")
    make_us = (time.perf_counter() - started) / rounds * 1e6
    challenge = Challenge.from_dict(made)
    solution = solve_challenge(challenge)
    assert solution is not None
    payload = Payload(challenge, solution).to_base64()
    started = time.perf_counter()
    for _ in range(rounds * 10):
        judged = work.judge(payload, "sign_up")
    judge_us = (time.perf_counter() - started) / (rounds * 10) * 1e6
    assert judged.solved
    return make_us, judge_us


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=25)
    args = parser.parse_args()
    print(
        f"Default difficulty: PBKDF2-SHA-256, {COST} iterations per try, counter in "
        f"[{BASE_COUNTER // 2}, {BASE_COUNTER}) at normal load"
    )
    print(f"Chromium, {args.samples} solves of the real widget:")
    times = sorted(browser_solves(args.samples))
    quartiles = statistics.quantiles(times, n=4)
    print(
        f"  median {statistics.median(times):.0f} ms, quartiles {quartiles[0]:.0f}-"
        f"{quartiles[2]:.0f} ms, slowest {times[-1]:.0f} ms"
    )
    make_us, judge_us = asyncio.run(server_costs(500))
    print("Server, in-process:")
    print(f"  make a challenge  {make_us:8.1f} µs (off the event loop, in a thread)")
    print(f"  judge an answer   {judge_us:8.1f} µs")


if __name__ == "__main__":
    main()
