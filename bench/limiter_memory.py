"""
The in-process rate limiter under a flood of distinct clients: the cost of one check and
the process's memory after 1k, 10k, 100k and 1M distinct client keys, with authkit's
bounded counters (client-IP rules without Redis) and, for comparison, the `limits`
library's MemoryStorage that authkit used before (its moving windows, no cap).

Each key is checked against the default `sign_in:ip` rule (30/minute;300/hour), as a
flood of sign-ins from ever new IPv6 /64s is. Run by hand; prints a table.

    .venv/bin/python bench/limiter_memory.py            # --keys 1000 10000 100000 1000000
    .venv/bin/python bench/limiter_memory.py --old      # also the `limits` MemoryStorage
"""

from __future__ import annotations

import argparse
import gc
import os
import time

from limits import parse_many
from limits import strategies as limits_strategies
from limits.storage import MemoryStorage

from authkit.security.memory_counters import MemoryCounters
from authkit.security.moving_windows import windows_of
from authkit.security.ratelimit import DEFAULT_RULES

RULE = parse_many(DEFAULT_RULES["sign_in:ip"])
WINDOWS = windows_of(RULE)
#: Checks timed after the flood, on keys already there and new ones alike.
SAMPLES = 20_000


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def bounded(keys: int) -> tuple[float, float, int]:
    counters = MemoryCounters()
    before = rss_mb()
    for i in range(keys):
        counters.hit(f"sign_in:ip/{i:032x}", WINDOWS)
    start = time.perf_counter()
    for i in range(SAMPLES):
        counters.hit(f"sign_in:ip/{(i * 7919) % (2 * keys):032x}", WINDOWS)
    per_check = (time.perf_counter() - start) / SAMPLES * 1e6
    return per_check, rss_mb() - before, len(counters)


def old_limits(keys: int) -> tuple[float, float, int]:
    storage = MemoryStorage()
    limiter = limits_strategies.MovingWindowRateLimiter(storage)
    before = rss_mb()
    for i in range(keys):
        for item in RULE:
            limiter.hit(item, "sign_in:ip", f"{i:032x}")
    start = time.perf_counter()
    for i in range(SAMPLES):
        for item in RULE:
            limiter.hit(item, "sign_in:ip", f"{(i * 7919) % (2 * keys):032x}")
    per_check = (time.perf_counter() - start) / SAMPLES * 1e6
    return per_check, rss_mb() - before, len(storage.events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--old", action="store_true", help="also measure limits' MemoryStorage")
    args = parser.parse_args()
    cases = [("authkit MemoryCounters", bounded)]
    if args.old:
        cases.append(("limits MemoryStorage", old_limits))
    print(f"{'store':<24}{'keys':>10}{'µs/check':>10}{'RSS +MB':>10}{'kept':>10}")
    for name, run in cases:
        for keys in args.keys:
            gc.collect()
            per_check, grown, kept = run(keys)
            print(f"{name:<24}{keys:>10,}{per_check:>10.2f}{grown:>10.1f}{kept:>10,}")


if __name__ == "__main__":
    main()
