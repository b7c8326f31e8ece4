"""
The ALTCHA proof of work's server half (security/proof_of_work.py): challenges the widget
reads, judged in two HMACs; difficulty that grows with load; and the limiter's read
without counting that sign-in's "after failures" rests on, in memory and in Redis.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
from altcha import Challenge, Payload, solve_challenge

from authkit.security.proof_of_work import (
    ALGORITHM,
    BASE_COUNTER,
    CALM_SUBMISSIONS_PER_MINUTE,
    COST,
    MAX_MULTIPLIER,
    LoadGauge,
    ProofOfWork,
)
from authkit.security.ratelimit import RateLimiter

from ..conftest import REDIS_URL, FakeClock, needs_redis

pytestmark = pytest.mark.anyio


async def test_a_challenge_is_what_the_widget_reads_and_its_answer_is_judged() -> None:
    clock = FakeClock()
    work = ProofOfWork("k" * 40, clock=clock)
    made = await work.challenge("sign_up")
    parameters = made["parameters"]
    assert parameters["algorithm"] == ALGORITHM and parameters["cost"] == COST
    # The key's HMAC rides along (fast checks); the purpose and expiry are signed data.
    assert parameters["keySignature"] and made["signature"]
    assert parameters["data"]["for"] == "sign_up"
    assert parameters["data"]["until"] > clock().timestamp()
    challenge = Challenge.from_dict(made)
    solution = solve_challenge(challenge)
    assert solution is not None
    low, high = work.counter_range()
    assert low <= solution.counter < high
    payload = Payload(challenge, solution).to_base64()
    judged = work.judge(payload, "sign_up")
    assert judged.solved and judged.challenge_id == made["signature"]
    assert work.judge(payload, "sign_in").verdict == "other_form"
    # Another secret key (another site) signed nothing here.
    assert ProofOfWork("o" * 40, clock=clock).judge(payload, "sign_up").verdict == "invalid"
    clock.advance(20 * 60 + 1)
    assert work.judge(payload, "sign_up").verdict == "expired"


def test_difficulty_grows_with_load_and_stops_at_a_cap() -> None:
    gauge = LoadGauge()
    work = ProofOfWork("k" * 40, clock=lambda: datetime.now(UTC), load=gauge)
    assert work.counter_range() == (BASE_COUNTER // 2, BASE_COUNTER)
    seen = []
    for _ in range(CALM_SUBMISSIONS_PER_MINUTE * MAX_MULTIPLIER * 2):
        gauge.count()
        seen.append(work.counter_range()[1] // BASE_COUNTER)
    assert sorted(set(seen)) == [1, 2, 4, 8]
    assert seen[CALM_SUBMISSIONS_PER_MINUTE - 2] == 1 and seen[CALM_SUBMISSIONS_PER_MINUTE - 1] == 2
    assert work.counter_range()[1] == BASE_COUNTER * MAX_MULTIPLIER


def test_the_load_is_the_last_minutes() -> None:
    gauge = LoadGauge(window_seconds=0.0)
    for _ in range(CALM_SUBMISSIONS_PER_MINUTE * 4):
        gauge.count()
    assert gauge.recent() == 0 and gauge.multiplier() == 1


@pytest.mark.parametrize("backend", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def test_is_full_reads_a_client_ip_rule_without_counting(backend: str) -> None:
    if backend == "redis":
        needs_redis()
    limiter = RateLimiter(
        redis_url=REDIS_URL if backend == "redis" else None, key=secrets.token_bytes(32)
    )
    ip = f"203.0.113.{secrets.randbelow(250)}"
    for _ in range(10):
        assert not await limiter.is_full("sign_in_failed:ip", ip)  # reading counts nothing
    for _ in range(3):
        await limiter.hit("sign_in_failed:ip", ip)
    assert await limiter.is_full("sign_in_failed:ip", ip)
    assert not await limiter.is_full("sign_in_failed:ip", "198.51.100.7")
    with pytest.raises(ValueError, match="client-IP rules"):
        await limiter.is_full("sign_in:account", "ada@example.com")
