"""The verified-token cache: a hit is a dictionary lookup, and it changes no decision:
expiry, not-before, key retirement and tampering behave exactly as without it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from authkit.errors import TokenError
from authkit.security.tokens import KEY_RETENTION, KeyRing, new_signing_key_row

SECRET = "cache-test-secret-0123456789-abcdefghijkl"
ISSUER = "http://testserver/auth"


def _ring(now: datetime, *, cache_size: int = 100) -> tuple[KeyRing, list[object]]:
    rows = [new_signing_key_row(SECRET, now)]
    ring = KeyRing(issuer=ISSUER, secret_key=SECRET, cache_size=cache_size)
    ring.load(rows, now)  # type: ignore[arg-type]
    return ring, rows  # type: ignore[return-value]


def _token(ring: KeyRing, now: datetime, lifetime: int = 60) -> str:
    token, _ = ring.mint_session_token(
        user_id="user_1", session_id="sess_1", now=now, lifetime_seconds=lifetime
    )
    return token


def test_second_check_is_served_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """After one full verification, the same token is not verified again."""
    now = datetime.now(UTC)
    ring, _ = _ring(now)
    token = _token(ring, now)
    first = ring.verify_session_token(token, now_timestamp=now.timestamp())

    def explode(*args: object, **kwargs: object) -> None:
        raise AssertionError("verified twice")

    monkeypatch.setattr(ring, "_verify_uncached", explode)
    again = ring.verify_session_token(token, now_timestamp=now.timestamp() + 1)
    assert again is first
    # What auth(request) returns was built once, with the claims: a hit allocates nothing.
    assert again.auth is first.auth
    assert (again.auth.user_id, again.auth.session_id) == ("user_1", "sess_1")
    assert again.auth.claims is first.claims


def test_cached_token_still_expires_at_exp() -> None:
    """A cached token is refused from its exp on, exactly as an uncached one."""
    now = datetime.now(UTC).replace(microsecond=0)
    ring, _ = _ring(now)
    token = _token(ring, now, lifetime=60)
    ring.verify_session_token(token, now_timestamp=now.timestamp())
    ring.verify_session_token(token, now_timestamp=now.timestamp() + 59.9)
    with pytest.raises(TokenError):
        ring.verify_session_token(token, now_timestamp=now.timestamp() + 60)
    with pytest.raises(TokenError):  # and stays refused once evicted
        ring.verify_session_token(token, now_timestamp=now.timestamp() + 61)


def test_cached_token_respects_not_before_when_the_clock_goes_back() -> None:
    """A clock stepping back before nbf (beyond the leeway) refuses a cached token too."""
    now = datetime.now(UTC).replace(microsecond=0)
    ring, _ = _ring(now)
    token = _token(ring, now)
    ring.verify_session_token(token, now_timestamp=now.timestamp())
    with pytest.raises(TokenError):
        ring.verify_session_token(token, now_timestamp=now.timestamp() - 30)


def test_dropped_key_drops_its_cached_tokens() -> None:
    """After a key leaves the key ring, tokens it signed are refused even if cached."""
    now = datetime.now(UTC)
    ring, rows = _ring(now)
    token = _token(ring, now, lifetime=3600)
    ring.verify_session_token(token, now_timestamp=now.timestamp())
    later = now + KEY_RETENTION + timedelta(seconds=1)
    old = rows[0]
    old.retired_at = now  # type: ignore[attr-defined]
    ring.load([old, new_signing_key_row(SECRET, later)], later)  # type: ignore[list-item]
    with pytest.raises(TokenError):
        ring.verify_session_token(token, now_timestamp=now.timestamp() + 10)


def test_tampered_token_never_hits_the_cache() -> None:
    """Changing one character of a cached token makes it a different, invalid token."""
    now = datetime.now(UTC)
    ring, _ = _ring(now)
    token = _token(ring, now)
    ring.verify_session_token(token, now_timestamp=now.timestamp())
    head, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(TokenError):
        ring.verify_session_token(f"{head}.{payload}.{flipped}", now_timestamp=now.timestamp())


def test_invalid_tokens_are_not_cached() -> None:
    """A refused token is refused again by full verification, never remembered."""
    now = datetime.now(UTC)
    ring, _ = _ring(now)
    for _ in range(3):
        with pytest.raises(TokenError):
            ring.verify_session_token("a.b.c", now_timestamp=now.timestamp())
    assert len(ring._verified) == 0


def test_cache_is_bounded_and_evicts_the_least_recently_used() -> None:
    """The cache never holds more than its size; the oldest unused token goes first."""
    now = datetime.now(UTC)
    ring, _ = _ring(now, cache_size=3)
    minted = [
        ring.mint_session_token(
            user_id=f"user_{n}", session_id=f"sess_{n}", now=now, lifetime_seconds=60
        )[0]
        for n in range(4)
    ]
    # Minting remembers each token too (the newest three): start from verification alone.
    ring._verified.clear()
    tokens = minted
    for token in tokens[:3]:
        ring.verify_session_token(token, now_timestamp=now.timestamp())
    ring.verify_session_token(tokens[0], now_timestamp=now.timestamp())  # refresh its use
    ring.verify_session_token(tokens[3], now_timestamp=now.timestamp())
    assert list(ring._verified) == [tokens[2], tokens[0], tokens[3]]


def test_minted_tokens_need_no_full_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token this ring just minted (sign-in, refresh) is recognised without verifying."""
    now = datetime.now(UTC)
    ring, _ = _ring(now)
    token = _token(ring, now)

    def explode(*args: object, **kwargs: object) -> None:
        raise AssertionError("verified in full")

    monkeypatch.setattr(ring, "_verify_uncached", explode)
    assert ring.verify_session_token(token, now_timestamp=now.timestamp()).user_id == "user_1"


def test_changing_the_issuer_empties_the_cache() -> None:
    """After the issuer changes, a cached token of the old issuer is refused like any other."""
    now = datetime.now(UTC)
    ring, _ = _ring(now)
    token = _token(ring, now)
    ring.verify_session_token(token, now_timestamp=now.timestamp())
    ring.issuer = "http://testserver/account"
    with pytest.raises(TokenError):
        ring.verify_session_token(token, now_timestamp=now.timestamp())
