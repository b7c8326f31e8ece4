"""
ALTCHA proof-of-work challenges: made and checked here, solved by ALTCHA's widget in the
visitor's browser (served by us: no third party is contacted).

A challenge asks the browser to find the counter whose PBKDF2-SHA-256 key starts with a
prefix we fixed by picking the counter at random ("deterministic mode"). Finding it costs
the browser `counter` derivations; checking the answer costs us two HMACs, because the
challenge carries an HMAC of the expected key (`hmac_key_secret`, the library's fast path).
Both HMAC keys are derived from the secret key, so challenges cannot be forged.

The challenge names what it is for (sign-up or sign-in) and until when it holds, inside
its signed data: a proof made for one form cannot serve the other, and expiry is judged by
authkit's clock. Difficulty adapts to load: the more checked submissions this process saw
in the last minute, the larger the counter range (up to `MAX_MULTIPLIER` times).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from altcha import Payload, create_challenge, verify_solution

from ..clock import Clock
from .secrets import derive_key

__all__ = [
    "ALGORITHM",
    "BASE_COUNTER",
    "COST",
    "PAYLOAD_MAX_LENGTH",
    "Judgement",
    "LoadGauge",
    "ProofOfWork",
]

Purpose = Literal["sign_up", "sign_in"]
PURPOSES: tuple[Purpose, ...] = ("sign_up", "sign_in")
#: The widget's default algorithm, done by the browser's WebCrypto in Web Workers.
ALGORITHM = "PBKDF2/SHA-256"
#: PBKDF2 iterations per counter tried (bench/proof_of_work.py measures the solve).
COST = 5_000
#: At normal load the counter lies in [BASE_COUNTER / 2, BASE_COUNTER): about half a
#: second's work in Chromium on a laptop core, split across the widget's workers.
BASE_COUNTER = 400
MAX_MULTIPLIER = 8
#: Submissions a minute this process takes without making challenges harder; each
#: doubling beyond it doubles the counter range.
CALM_SUBMISSIONS_PER_MINUTE = 60
#: Long enough to fill in a sign-up form at leisure; a form left open longer asks again.
CHALLENGE_LIFETIME_SECONDS = 20 * 60
#: A payload is a base64 JSON object of about 700 characters; anything far larger is not one.
PAYLOAD_MAX_LENGTH = 4096

Verdict = Literal["solved", "invalid", "expired", "other_form"]


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    #: The challenge's signature, naming it for "used once" (empty unless solved).
    challenge_id: str = ""

    @property
    def solved(self) -> bool:
        return self.verdict == "solved"


class LoadGauge:
    """Checked submissions in the last minute, in this process."""

    def __init__(self, *, window_seconds: float = 60.0) -> None:
        self._window = window_seconds
        self._times: deque[float] = deque()

    def count(self) -> None:
        now = time.monotonic()
        self._times.append(now)
        self._forget(now)

    def recent(self) -> int:
        self._forget(time.monotonic())
        return len(self._times)

    def multiplier(self) -> int:
        """1 when calm; 2, 4, ... up to MAX_MULTIPLIER as submissions double past calm."""
        recent = self.recent()
        multiplier = 1
        while recent >= CALM_SUBMISSIONS_PER_MINUTE * multiplier and multiplier < MAX_MULTIPLIER:
            multiplier *= 2
        return multiplier

    def _forget(self, now: float) -> None:
        while self._times and self._times[0] <= now - self._window:
            self._times.popleft()


class ProofOfWork:
    """Makes and judges challenges; see the module docstring."""

    def __init__(self, secret_key: str, *, clock: Clock, load: LoadGauge | None = None) -> None:
        self._challenge_key = derive_key(secret_key, "altcha-challenges")
        self._answer_key = derive_key(secret_key, "altcha-answers")
        self._clock = clock
        self.load = load or LoadGauge()

    def counter_range(self) -> tuple[int, int]:
        """Where the next challenge's counter is picked, [low, high), at today's load."""
        high = BASE_COUNTER * self.load.multiplier()
        return high // 2, high

    async def challenge(self, purpose: Purpose) -> dict[str, Any]:
        """A fresh signed challenge as the widget reads it (JSON)."""
        low, high = self.counter_range()
        counter = low + secrets.randbelow(high - low)
        until = int(self._clock().timestamp()) + CHALLENGE_LIFETIME_SECONDS
        # One PBKDF2 derivation (about a millisecond): off the event loop all the same.
        made = await asyncio.to_thread(
            create_challenge,
            ALGORITHM,
            COST,
            counter=counter,
            data={"for": purpose, "until": until},
            hmac_secret=self._challenge_key,
            hmac_key_secret=self._answer_key,
        )
        return made.to_dict()

    def judge(self, payload: str, purpose: Purpose) -> Judgement:
        """Whether `payload` (the widget's hidden field) proves the work for `purpose`.
        Two HMACs and a JSON decode: cheap enough for the event loop."""
        if not payload or len(payload) > PAYLOAD_MAX_LENGTH:
            return Judgement("invalid")
        try:
            parsed = Payload.from_base64(payload)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return Judgement("invalid")
        result = verify_solution(parsed, self._challenge_key, hmac_key_secret=self._answer_key)
        if not result.verified:
            return Judgement("invalid")
        # Signed by us, so the data is ours: its purpose and expiry can be trusted.
        data = parsed.challenge.parameters.data or {}
        until = data.get("until")
        if not isinstance(until, int) or until < self._clock().timestamp():
            return Judgement("expired")
        if data.get("for") != purpose:
            return Judgement("other_form")
        return Judgement("solved", challenge_id=str(parsed.challenge.signature))
