"""
Passwords: hashing and verifying them with Argon2id off the event loop, under a cap on
how many hashes run at once, and the rules a new password must pass (length in code
points, not the email address, and hard enough to guess by zxcvbn's estimate, which knows
the common passwords, words, names and keyboard patterns, and is told the user's own
name and address and the site's name; no composition rules, as NIST SP 800-63B-4
requires).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
import argon2
import argon2.exceptions
import argon2.profiles
from anyio.lowlevel import RunVar
from zxcvbn import zxcvbn

from ..errors import ConfigError, FieldError
from ..i18n.phrase import Phrase
from .legacy_hashes import is_legacy, verify_legacy
from .password_advice import advice_phrase

_T = TypeVar("_T")

__all__ = ["PasswordHasher", "check_new_password", "check_password", "password_guidance"]

_FIELD = "password"
#: zxcvbn estimates this much of a password (its own limit): a longer one only gains.
_ESTIMATED_LENGTH = 72
#: The advice when zxcvbn has none of its own to give.
_DEFAULT_ADVICE = "password_advice_add_word"
#: The nice value hashing threads run at: a storm of sign-ins then takes the CPU the
#: event loop leaves over, instead of sharing it equally, so other requests stay fast.
HASH_THREAD_NICE = 10


def _normalize(password: str) -> str:
    # NFKC (NIST 800-63B-4 SHOULD): the same password typed on another keyboard or OS
    # (decomposed accents, full-width forms) must still verify, or its owner is locked
    # out. It is not truncation or case folding, so ASVS 6.2.8 still holds. Every stored
    # hash depends on it: removing it would need a rehash of all passwords.
    return unicodedata.normalize("NFKC", password)


class PasswordHasher:
    """
    Argon2id hashing that never blocks the event loop.

    Each hash or verification runs in a worker thread, and at most `concurrency` of them
    run at once per event loop, so a storm of sign-ins queues instead of exhausting memory
    (each Argon2 call holds `memory_cost` KiB while it runs).

    Args:
        profile: The name of a parameter set in `argon2.profiles`. The default,
            ``"RFC_9106_LOW_MEMORY"`` (m=64 MiB, t=3, p=4), is above OWASP's minimum of
            m=19 MiB, t=2, p=1. ``"CHEAPEST"`` is **only for tests**: it offers no
            protection at all.
        concurrency: How many hashes may run at once; 0 means one per CPU.

    Raises:
        ConfigError: The profile is unknown or not Argon2id, or concurrency is negative.
    """

    def __init__(self, *, profile: str = "RFC_9106_LOW_MEMORY", concurrency: int = 0) -> None:
        parameters = getattr(argon2.profiles, profile, None) if profile.isupper() else None
        if not isinstance(parameters, argon2.Parameters):
            raise ConfigError(f"Unknown Argon2 profile {profile!r}; use a name in argon2.profiles.")
        # Argon2id only: argon2i is weaker against GPU cracking, argon2d leaks via side channels.
        if parameters.type is not argon2.Type.ID:
            raise ConfigError(f"Argon2 profile {profile!r} is not Argon2id.")
        if concurrency < 0:
            raise ConfigError("Password hashing concurrency must be 0 (one per CPU) or more.")
        self._parameters = parameters
        self._hasher = argon2.PasswordHasher.from_parameters(parameters)
        self._concurrency = concurrency or max(os.cpu_count() or 1, 1)
        # One limiter per event loop, made inside it: a limiter belongs to the loop that
        # created it, and the hasher is usually built before any loop runs.
        self._limiter: RunVar[anyio.CapacityLimiter] = RunVar("authkit_password_limiter")
        self._dummy_hash: str | None = None

    @property
    def concurrency(self) -> int:
        """
        How many hashes or verifications may run at once (per event loop).
        """
        return self._concurrency

    @property
    def max_memory_bytes(self) -> int:
        """
        The most memory hashing can use at once: concurrency times the profile's memory cost.

        A stored hash made with a costlier profile is verified with its own parameters, so
        after lowering the profile this bound holds only once those hashes are rehashed.
        """
        return self._concurrency * self._parameters.memory_cost * 1024

    async def hash(self, password: str) -> str:
        """
        Hash `password` with a fresh random salt.

        The password is used exactly as given apart from NFKC normalisation: it is never
        truncated, stripped or case-folded. Bound its size before calling (forms do).

        Raises:
            ValueError: The string is not valid Unicode text (a lone surrogate).
        """
        normalized = _normalize(password)
        return await anyio.to_thread.run_sync(
            _at_low_priority, self._hasher.hash, normalized, limiter=self._get_limiter()
        )

    async def verify(self, password_hash: str, password: str) -> bool:
        """
        Whether `password` matches `password_hash`.

        Returns False, never raises, when the password is wrong or the hash is invalid,
        corrupt or from an algorithm we do not know. An imported hash (bcrypt, Django's)
        is checked as its old site did (security/legacy_hashes.py). After True, call
        `needs_rehash` (yes for every imported hash: it moves to argon2id).
        """
        if is_legacy(password_hash):
            # Imported from another site, which hashed the password exactly as typed.
            return await anyio.to_thread.run_sync(
                _at_low_priority,
                verify_legacy,
                password_hash,
                password,
                limiter=self._get_limiter(),
            )
        normalized = _normalize(password)
        return await anyio.to_thread.run_sync(
            _at_low_priority,
            self._verify_sync,
            password_hash,
            normalized,
            limiter=self._get_limiter(),
        )

    def needs_rehash(self, password_hash: str) -> bool:
        """
        Whether `password_hash` was made with other parameters than this hasher's profile.

        Call it after a successful `verify` and, if True, store `await hash(password)`.
        A hash that cannot be parsed also needs replacing, so it answers True.
        """
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except ValueError:  # InvalidHashError is a ValueError; so is a non-ASCII hash.
            return True

    async def dummy_verify(self, password: str) -> None:
        """
        Spend the time of one `verify` and discard the result.

        Call it when the email is unknown, so that answer takes as long as a wrong password
        for a real account. The hash verified against is made once, with this hasher's
        parameters, from a random secret nobody knows.
        """
        # Unknown email costs the same Argon2 work as a known one: no account enumeration
        # by timing.
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(32))
        await self.verify(self._dummy_hash, password)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        # Mismatch, corrupt hash or non-ASCII garbage all mean "no"; argon2 types must not
        # reach callers (a stray exception would become a 500 and an oracle).
        except (argon2.exceptions.VerificationError, ValueError):
            return False

    def _get_limiter(self) -> anyio.CapacityLimiter:
        try:
            return self._limiter.get()
        except LookupError:
            # Bounded concurrency: each hash holds memory_cost KiB, so unbounded parallel
            # sign-ins would exhaust memory (denial of service).
            limiter = anyio.CapacityLimiter(self._concurrency)
            self._limiter.set(limiter)
            return limiter


def _at_low_priority(work: Callable[..., _T], *args: object) -> _T:
    """
    Run `work` in a fresh thread at `HASH_THREAD_NICE` and wait for it. A thread of its
    own because a thread's nice value cannot be raised back without privileges, and the
    thread pool running this is shared with the host's own blocking work; argon2's lane
    threads inherit the value. Starting a thread costs microseconds, a hash tens of ms.
    """
    outcome: list[_T] = []
    failure: list[BaseException] = []

    def run() -> None:
        _lower_this_threads_priority()
        try:
            outcome.append(work(*args))
        except BaseException as exc:  # handed to the waiting thread, re-raised there
            failure.append(exc)

    thread = threading.Thread(target=run, name="authkit-argon2", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


def _lower_this_threads_priority() -> None:
    # Per-thread nice values are a Linux property; elsewhere setpriority would renice the
    # whole process, so hashing simply shares the CPU as before.
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError):  # a sandbox may forbid it: hash at normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICE)


def check_password(
    password: str,
    *,
    min_length: int,
    max_length: int,
    email: str | None = None,
    context_words: Iterable[str] = (),
    min_score: int = 0,
) -> None:
    """
    Refuse a new password that breaks a rule; return None when it is acceptable.

    Rules, in the order they are checked: not empty; `min_length` to `max_length` Unicode
    code points after NFKC; not the email address or its local part; zxcvbn's score at
    least `min_score` (0 to 4), with the address, its parts and `context_words` (the
    user's names, the site's name) counted as the easiest guesses. There are no
    composition rules (NIST 800-63B-4 forbids them).

    Raises:
        FieldError: With field ``"password"`` and code ``"required"``,
            ``"password_too_short"`` (``min``), ``"password_too_long"`` (``max``),
            ``"password_is_email"`` or ``"password_too_weak"`` (``advice``: zxcvbn's
            feedback, one sentence).
    """
    failure = next(
        _failures(
            password,
            min_length=min_length,
            max_length=max_length,
            email=email,
            context_words=context_words,
            min_score=min_score,
        ),
        None,
    )
    if failure is not None:
        code, params = failure
        raise FieldError(code, field=_FIELD, **params)


def check_new_password(
    settings: PasswordSettings, password: str, *, email: str | None, names: Iterable[str] = ()
) -> None:
    """`check_password` with the site's rules (its lengths, least score and name) and the
    user's own `names` as easy guesses.

    Raises:
        FieldError: as `check_password`.
    """
    check_password(
        password,
        min_length=settings.password_min_length,
        max_length=settings.password_max_length,
        email=email,
        context_words=(settings.app_name, *names),
        min_score=settings.password_min_score,
    )


class PasswordSettings(Protocol):
    """What the password rules read of the settings."""

    @property
    def password_min_length(self) -> int: ...
    @property
    def password_max_length(self) -> int: ...
    @property
    def password_min_score(self) -> int: ...
    @property
    def app_name(self) -> str: ...


def password_guidance(
    password: str,
    *,
    min_length: int,
    max_length: int,
    email: str | None = None,
    context_words: Iterable[str] = (),
    min_score: int = 0,
) -> list[tuple[str, dict[str, object]]]:
    """
    Every rule `password` breaks, as (message code, its parameters); an empty list means
    it is acceptable. The same rules as `check_password`, all reported at once, for live
    guidance while the user types.
    """
    return list(
        _failures(
            password,
            min_length=min_length,
            max_length=max_length,
            email=email,
            context_words=context_words,
            min_score=min_score,
        )
    )


def _failures(
    password: str,
    *,
    min_length: int,
    max_length: int,
    email: str | None,
    context_words: Iterable[str],
    min_score: int,
) -> Iterator[tuple[str, dict[str, object]]]:
    # Spaces inside a password are kept as typed, but one made only of whitespace is no
    # password at all.
    if not password or password.isspace():
        yield "required", {}
        return
    normalized = _normalize(password)
    # Code points, not bytes or UTF-16 units (NIST 800-63B-4), counted on what gets hashed.
    length = len(normalized)
    if length < min_length:
        yield "password_too_short", {"min": min_length}
    # A bound on length: Argon2 pre-hashes the whole password, so huge ones cost CPU (DoS).
    if length > max_length:
        yield "password_too_long", {"max": max_length}
    folded = normalized.casefold()
    hints = [_normalize(word).casefold() for word in context_words if word]
    if email:
        email_folded = _normalize(email).casefold()
        local_part, _, domain = email_folded.rpartition("@")
        # The email is public to anyone who knows the user: guessed first.
        if folded in {email_folded, local_part}:
            yield "password_is_email", {}
        hints += [email_folded, local_part, domain, *local_part.replace("_", ".").split(".")]
    if min_score > 0:
        estimate = zxcvbn(normalized[:_ESTIMATED_LENGTH], user_inputs=[h for h in hints if h])
        if estimate["score"] < min_score:
            yield "password_too_weak", {"advice": _advice(estimate["feedback"])}


def _advice(feedback: Mapping[str, Any]) -> Phrase | str:
    """zxcvbn's warning, else its first suggestion, as one sentence of the table."""
    warning = str(feedback.get("warning") or "").strip()
    suggestions = list(feedback.get("suggestions") or [])
    first = str(suggestions[0]).strip() if suggestions else ""
    advice = warning or first
    if not advice:
        return Phrase(_DEFAULT_ADVICE)
    return advice_phrase(advice if advice.endswith((".", "!", "?")) else advice + ".")
