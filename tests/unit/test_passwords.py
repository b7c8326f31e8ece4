"""
Tests for authkit.security.passwords: Argon2id hashing off the event loop under a
concurrency cap, and the rules for new passwords (length, email, common words).
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import anyio
import argon2
import pytest

from authkit.errors import ConfigError, FieldError
from authkit.i18n.phrase import Phrase
from authkit.messages import Messages
from authkit.security.password_advice import PASSWORD_ADVICE
from authkit.security.passwords import (
    HASH_THREAD_NICE,
    PasswordHasher,
    check_password,
    password_guidance,
)

# Hashing every test password with the real profile would take seconds; only one test does.
CHEAP = "CHEAPEST"
MIN_LENGTH = 8
MAX_LENGTH = 64


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(profile=CHEAP, concurrency=2)


def refusal(
    password: str,
    *,
    min_length: int = MIN_LENGTH,
    max_length: int = MAX_LENGTH,
    email: str | None = None,
    context_words: Iterable[str] = (),
    min_score: int = 0,
) -> FieldError:
    """Return the FieldError check_password raises for `password`."""
    with pytest.raises(FieldError) as caught:
        check_password(
            password,
            min_length=min_length,
            max_length=max_length,
            email=email,
            context_words=context_words,
            min_score=min_score,
        )
    assert caught.value.field == "password"
    return caught.value


class TestPasswordHasher:
    @pytest.mark.anyio
    @pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux-only")
    async def test_hashing_runs_at_low_priority_without_lowering_the_shared_pool(
        self, hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Argon2 work yields the CPU to the event loop (nice 10), in a thread of its
        own: the shared worker threads the host's blocking code uses keep their priority."""

        def nice_here() -> int:
            return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

        base = nice_here()
        seen: list[int] = []
        real = hasher._hasher

        class Spy:
            def hash(self, password: str) -> str:
                seen.append(nice_here())
                return real.hash(password)

        monkeypatch.setattr(hasher, "_hasher", Spy())
        for _ in range(3):
            await hasher.hash("correct horse battery staple")
        assert seen == [max(base, HASH_THREAD_NICE)] * 3
        pool = [await anyio.to_thread.run_sync(nice_here) for _ in range(5)]
        assert pool == [base] * 5

    @pytest.mark.anyio
    async def test_hash_then_verify_round_trips(self, hasher: PasswordHasher) -> None:
        """A hash verifies against the password it was made from."""
        password_hash = await hasher.hash("correct horse battery staple")

        assert await hasher.verify(password_hash, "correct horse battery staple") is True

    @pytest.mark.anyio
    async def test_verify_with_wrong_password_is_false(self, hasher: PasswordHasher) -> None:
        """A different password does not verify."""
        password_hash = await hasher.hash("correct horse battery staple")

        assert await hasher.verify(password_hash, "correct horse battery stapler") is False

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        "bad_hash",
        [
            "",
            "not a hash",
            "$argon2id$v=19$m=8,t=1,p=1$",
            "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAA\x00",
            "$argon2id$v=19$m=8,t=1,p=1$s2HM/dvFrPs$9PgIOA-corrupted",
            "$2b$12$WApznUOJfkEGSmYRfnkrPOr466oFDCaj4b6HY3EXGvfxm43seyhgC",
            "$argon2id$v=19$m=65536,t=3,p=4$é$é",
        ],
    )
    async def test_verify_with_corrupt_hash_is_false(
        self, hasher: PasswordHasher, bad_hash: str
    ) -> None:
        """An invalid, corrupt or foreign hash gives False instead of an argon2 error."""
        assert await hasher.verify(bad_hash, "password") is False

    @pytest.mark.anyio
    async def test_default_profile_meets_owasp_minimum(self) -> None:
        """The default profile hashes with Argon2id at m >= 19456 KiB and t >= 2."""
        password_hash = await PasswordHasher(concurrency=1).hash("correct horse battery staple")

        match = re.match(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", password_hash)
        assert match is not None, password_hash
        memory_cost, time_cost, parallelism = (int(group) for group in match.groups())
        assert memory_cost >= 19456, password_hash
        assert time_cost >= 2, password_hash
        assert parallelism >= 1, password_hash

    @pytest.mark.anyio
    async def test_needs_rehash_for_hash_made_with_weaker_profile(
        self, hasher: PasswordHasher
    ) -> None:
        """A CHEAPEST hash needs rehashing under the default profile but not under its own."""
        password_hash = await hasher.hash("correct horse battery staple")

        assert PasswordHasher().needs_rehash(password_hash) is True
        assert hasher.needs_rehash(password_hash) is False

    def test_needs_rehash_for_unreadable_hash(self, hasher: PasswordHasher) -> None:
        """A hash that cannot be parsed should be replaced, not raise."""
        assert hasher.needs_rehash("not a hash") is True

    @pytest.mark.anyio
    async def test_long_password_is_not_truncated(self, hasher: PasswordHasher) -> None:
        """Two 200-character passwords that differ only in the last one do not match."""
        first = "a" * 199 + "b"
        second = "a" * 199 + "c"

        password_hash = await hasher.hash(first)

        assert await hasher.verify(password_hash, first) is True
        assert await hasher.verify(password_hash, second) is False

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        ("stored", "typed"),
        [("Password123", "password123"), ("password123 ", "password123"), (" pw", "pw")],
    )
    async def test_password_is_not_case_folded_or_stripped(
        self, hasher: PasswordHasher, stored: str, typed: str
    ) -> None:
        """Case and surrounding spaces are part of the password."""
        password_hash = await hasher.hash(stored)

        assert await hasher.verify(password_hash, typed) is False

    @pytest.mark.anyio
    async def test_equivalent_unicode_forms_verify(self, hasher: PasswordHasher) -> None:
        """A password typed with a decomposed accent matches one stored with a composed one."""
        password_hash = await hasher.hash("caf\u00e9-au-lait")

        assert await hasher.verify(password_hash, "cafe\u0301-au-lait") is True

    @pytest.mark.anyio
    async def test_concurrent_hashes_are_capped_and_loop_keeps_running(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """16 hashes with concurrency=2 never overlap more than 2, and the loop keeps ticking."""
        probe = _Probe()
        original = argon2.PasswordHasher.hash

        def counting_hash(
            self: argon2.PasswordHasher, password: str | bytes, *, salt: bytes | None = None
        ) -> str:
            with probe.lock:
                probe.running += 1
                probe.peak = max(probe.peak, probe.running)
            ticks_before = probe.ticks
            # Long enough for calls to overlap if the cap let them.
            time.sleep(0.01)
            result = original(self, password, salt=salt)
            with probe.lock:
                probe.running -= 1
                probe.ticks_during.append(probe.ticks - ticks_before)
            return result

        monkeypatch.setattr(argon2.PasswordHasher, "hash", counting_hash)
        hasher = PasswordHasher(profile=CHEAP, concurrency=2)

        async def tick() -> None:
            while True:
                probe.ticks += 1
                await anyio.sleep(0.001)

        async with anyio.create_task_group() as ticker:
            ticker.start_soon(tick)
            async with anyio.create_task_group() as hashing:
                for number in range(16):
                    hashing.start_soon(hasher.hash, f"password-{number}")
            ticker.cancel_scope.cancel()

        assert len(probe.ticks_during) == 16
        assert probe.peak == 2, probe.peak
        # Had hashing blocked the loop, no tick could happen while a hash ran.
        assert max(probe.ticks_during) > 0, probe.ticks_during

    @pytest.mark.anyio
    async def test_dummy_verify_hashes_once_with_same_parameters(
        self, monkeypatch: pytest.MonkeyPatch, hasher: PasswordHasher
    ) -> None:
        """dummy_verify makes its fixed hash once, with the hasher's own parameters."""
        hashes_made: list[str] = []
        hashes_verified: list[str] = []
        original_hash = argon2.PasswordHasher.hash
        original_verify = argon2.PasswordHasher.verify

        def recording_hash(
            self: argon2.PasswordHasher, password: str | bytes, *, salt: bytes | None = None
        ) -> str:
            hashes_made.append(original_hash(self, password, salt=salt))
            return hashes_made[-1]

        def recording_verify(
            self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes
        ) -> bool:
            hashes_verified.append(str(hash))
            return original_verify(self, hash, password)

        monkeypatch.setattr(argon2.PasswordHasher, "hash", recording_hash)
        monkeypatch.setattr(argon2.PasswordHasher, "verify", recording_verify)

        for _ in range(3):
            await hasher.dummy_verify("correct horse battery staple")

        assert len(hashes_made) == 1
        assert hashes_verified == hashes_made * 3
        assert hasher.needs_rehash(hashes_made[0]) is False

    def test_max_memory_bytes_is_concurrency_times_memory_cost(self) -> None:
        """The default profile's 64 MiB per hash, times 3 at once, is 192 MiB."""
        assert PasswordHasher(concurrency=3).max_memory_bytes == 3 * 64 * 1024 * 1024

    def test_zero_concurrency_means_one_per_cpu(self) -> None:
        """concurrency=0 allows one hash per CPU, and never fewer than one."""
        assert PasswordHasher(profile=CHEAP).concurrency == max(os.cpu_count() or 1, 1)

    @pytest.mark.parametrize(
        "options",
        [
            {"profile": "NO_SUCH_PROFILE"},
            {"profile": "Parameters"},
            {"profile": "get_default_parameters"},
            {"concurrency": -1},
        ],
    )
    def test_bad_settings_fail_at_construction(self, options: dict[str, object]) -> None:
        """An unknown profile or a negative concurrency is a ConfigError, raised at once."""
        with pytest.raises(ConfigError):
            PasswordHasher(**options)  # type: ignore[arg-type]


class TestCheckPassword:
    def test_empty_password_is_required(self) -> None:
        """An empty password is refused as missing."""
        assert refusal("").code == "required"

    def test_short_password_is_refused_with_minimum(self) -> None:
        """A password under min_length is refused, naming the minimum."""
        error = refusal("abc1234")

        assert error.code == "password_too_short"
        assert error.params == {"min": 8}

    def test_long_password_is_refused_with_maximum(self) -> None:
        """A password over max_length is refused, naming the maximum."""
        error = refusal("x" * 65)

        assert error.code == "password_too_long"
        assert error.params == {"max": 64}

    def test_password_at_max_length_is_accepted(self) -> None:
        """256 characters pass at max_length=256 and 257 do not."""
        check_password("q" * 256, min_length=15, max_length=256)

        assert refusal("q" * 257, min_length=15, max_length=256).code == "password_too_long"

    @pytest.mark.parametrize(
        "password", ["Alice.Smith@Example.com", "alice.smith@example.com", "ALICE.SMITH"]
    )
    def test_password_equal_to_email_is_refused(self, password: str) -> None:
        """The email address, or its local part, in any case, is refused."""
        error = refusal(password, email="alice.smith@example.com")

        assert error.code == "password_is_email"

    def test_password_containing_email_local_part_is_accepted(self) -> None:
        """Only the whole password is compared with the email."""
        check_password(
            "alice.smith rides bikes",
            min_length=MIN_LENGTH,
            max_length=MAX_LENGTH,
            email="alice.smith@example.com",
        )

    @pytest.mark.parametrize(
        "password", ["password", "123456789", "PassWord", "Qwertyuiop", "iloveyou2024"]
    )
    def test_easy_to_guess_is_refused_with_advice(self, password: str) -> None:
        """zxcvbn's dictionaries and patterns (common passwords, keyboard rows, years):
        refused under the least score, with its advice as one sentence of the table (so
        it is translated with the rest)."""
        error = refusal(password, min_score=3)
        assert error.code == "password_too_weak"
        advice = error.params["advice"]
        assert isinstance(advice, Phrase)
        assert advice.code in PASSWORD_ADVICE
        shown = Messages()("password_too_weak", **error.params)
        assert shown == "This password is too easy to guess. " + PASSWORD_ADVICE[advice.code]

    def test_the_users_own_details_and_the_site_count_as_easy_guesses(self) -> None:
        """The user's names, address and the site's name are the first guesses: the same
        password scores lower once zxcvbn knows them."""
        for password, score in (("adalovelace2024", 4), ("lovelaceengines", 2)):
            check_password(password, min_length=8, max_length=64, min_score=score)
            error = refusal(
                password,
                email="ada@lovelace-engines.example",
                context_words=["Ada", "Lovelace", "Engines"],
                min_score=score,
            )
            assert error.code == "password_too_weak", password

    def test_a_score_of_zero_checks_only_length_and_address(self) -> None:
        check_password("aaaaaaaaaaaaaaaa", min_length=15, max_length=64, min_score=0)
        assert refusal("aaaaaaaaaaaaaaaa", min_length=15, min_score=1).code == "password_too_weak"

    def test_a_long_password_is_estimated_on_its_start(self) -> None:
        """zxcvbn takes at most 72 characters; a longer password is judged on those (it
        only gains from the rest) and never raises."""
        check_password(
            "correct horse battery staple " * 8, min_length=15, max_length=256, min_score=4
        )

    def test_passphrase_is_accepted(self) -> None:
        """A long passphrase of common words passes: no composition rules."""
        check_password(
            "correct horse battery staple",
            min_length=15,
            max_length=64,
            email="alice@example.com",
            context_words=["authkit"],
        )

    @pytest.mark.parametrize(
        ("password", "accepted"),
        [
            ("\U0001f600" * 8, True),  # 8 code points, 16 UTF-16 units, 32 bytes
            ("\U0001f600" * 7, False),
            ("e\u0301" * 8, True),  # 16 code points that NFKC composes into 8
            ("\u00e9" * 7, False),  # 14 bytes in UTF-8 but 7 code points
        ],
    )
    def test_length_counts_code_points(self, password: str, accepted: bool) -> None:
        """Length is the number of Unicode code points after NFKC."""
        found = password_guidance(password, min_length=8, max_length=8)

        assert (found == []) is accepted, found


class TestPasswordGuidance:
    def test_acceptable_password_has_no_guidance(self) -> None:
        """A good password gives an empty list."""
        assert (
            password_guidance(
                "correct horse battery staple", min_length=MIN_LENGTH, max_length=MAX_LENGTH
            )
            == []
        )

    def test_every_failing_rule_is_listed(self) -> None:
        """A short common password reports both rules it breaks."""
        found = password_guidance(
            "abc123", min_length=MIN_LENGTH, max_length=MAX_LENGTH, min_score=3
        )

        assert [code for code, _ in found] == ["password_too_short", "password_too_weak"]

    def test_empty_password_only_reports_required(self) -> None:
        """An empty password is reported as required, not also as too short."""
        assert password_guidance("", min_length=MIN_LENGTH, max_length=MAX_LENGTH) == [
            ("required", {})
        ]


@dataclass
class _Probe:
    lock: threading.Lock = field(default_factory=threading.Lock)
    running: int = 0
    peak: int = 0
    ticks: int = 0
    ticks_during: list[int] = field(default_factory=list)


def test_the_least_score_is_one_of_zxcvbns() -> None:
    from authkit.config import settings_from

    assert settings_from({"secret_key": "x" * 40}).password_min_score == 3
    with pytest.raises(ConfigError, match="AUTHKIT_PASSWORD_MIN_SCORE must be between 0 and 4"):
        settings_from({"secret_key": "x" * 40, "password_min_score": 5})
