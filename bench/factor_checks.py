"""
Second-factor cost: what judging an authenticator-app code and a recovery code takes.

1. In-process, no database: `matching_step` (the three candidate TOTP codes of ±1 step,
   each compared in constant time), decrypting the stored secret (Fernet), and hashing a
   typed recovery code (normalise + keyed HMAC).
2. Through the pipeline on SQLite: `TotpFactor.attempt` for a user with an app set up
   (limiter, one query, decrypt, match), the whole second step as the web page runs it
   (`submit_factor`: judge, then record the step and create the session in one
   transaction).

Run by hand: .venv/bin/python bench/factor_checks.py   Prints µs per call; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp

from authkit import AuthKit
from authkit.audit import RequestMeta
from authkit.flows.admin import create_user
from authkit.flows.attempts import Status
from authkit.flows.factors import STRATEGIES
from authkit.flows.mfa import begin_totp_setup, enable_totp, judge_totp_setup
from authkit.flows.sign_in import start_sign_in, submit_factor
from authkit.security.recovery_codes import hash_recovery_code, normalize_recovery_code
from authkit.security.totp import decrypt_secret, encrypt_secret, matching_step, new_secret

SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"
EMAIL = "bench@example.com"
PASSWORD = "a perfectly fine passphrase"


class Clock:
    """Moves one TOTP step per sign-in, so every code is new (each works once)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def timed(samples: int, call: Callable[[], object]) -> list[float]:
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1e6)
    return out


async def atimed(samples: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        await call()
        out.append((time.perf_counter() - start) * 1e6)
    return out


def row(name: str, values: list[float]) -> None:
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    print(f"| {name} | {statistics.median(values):,.1f} | {p99:,.1f} |")


async def main(samples: int) -> None:
    print("| what | median µs | p99 µs |")
    print("|---|---|---|")
    secret = new_secret()
    now = datetime.now(UTC)
    code = pyotp.TOTP(secret).at(now)
    row("TOTP: match a code (±1 step)", timed(samples, lambda: matching_step(secret, code, now)))
    key = b"k" * 32
    fernet_key = base64.urlsafe_b64encode(key)
    encrypted = encrypt_secret(fernet_key, secret)
    row(
        "TOTP: decrypt the stored secret",
        timed(samples, lambda: decrypt_secret(fernet_key, encrypted)),
    )
    row(
        "recovery code: normalise and hash",
        timed(
            samples,
            lambda: hash_recovery_code(key, "user_x", normalize_recovery_code("ABCDE 12345") or ""),
        ),
    )

    clock = Clock()
    with tempfile.TemporaryDirectory() as folder:
        kit = AuthKit(
            secret_key=SECRET,
            database_url=f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}",
            auto_migrate=True,
            password_hash_profile="CHEAPEST",
            clock=clock,
            # The bench signs in thousands of times from one IP and one account.
            rate_limits={"mfa:account": "1000000/minute", "mfa:ip": "1000000/minute"},
        )
        svc = kit.services
        await kit.ensure_started()
        user_id = await create_user(svc, email=EMAIL, password=PASSWORD)
        setup = await begin_totp_setup(svc, user_id=user_id, account=EMAIL)
        first = pyotp.TOTP(setup.secret).at(clock.now)
        pending = await judge_totp_setup(
            svc, user_id=user_id, code=first, sealed=setup.sealed, meta=RequestMeta()
        )
        async with svc.db.session() as s:
            await enable_totp(svc, s, pending, user_id=user_id, meta=RequestMeta())
        totp = STRATEGIES["totp"]
        meta = RequestMeta(ip_address="127.0.0.1")

        async def judge() -> None:
            clock.now += timedelta(seconds=30)
            attempt = await start_sign_in(svc, email=EMAIL)
            fields = {"code": pyotp.TOTP(setup.secret).at(clock.now)}
            await totp.attempt(svc, attempt, fields, meta)

        row(
            "TOTP factor: judge (limiter, query, decrypt, match)", await atimed(samples // 4, judge)
        )

        async def second_step() -> None:
            clock.now += timedelta(seconds=30)
            # As after the password step (judged elsewhere: argon2 is not what this measures).
            attempt = replace(
                await start_sign_in(svc, email=EMAIL),
                status=Status.NEEDS_SECOND_FACTOR,
                first_factor="password",
                first_factor_at=clock.now,
            )
            step = await submit_factor(
                svc,
                attempt,
                "totp",
                {"code": pyotp.TOTP(setup.secret).at(clock.now)},
                browser="bench-browser",
                meta=meta,
            )
            assert step.session is not None

        row(
            "second step: judge + record + session (SQLite)",
            await atimed(samples // 4, second_step),
        )
        await kit.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=2000)
    asyncio.run(main(parser.parse_args().samples))
