"""
Tests for authkit.security.tokens: the KeyRing mints and verifies session JWTs, keys
rotate without breaking live tokens, private keys are stored encrypted, and every
process on one store shares the same keys (on SQLite and on PostgreSQL).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import col, select

from authkit import AuthKit
from authkit.errors import TokenError
from authkit.security.tokens import (
    ALGORITHM,
    KEY_PUBLISH_AHEAD,
    KEY_RELOAD_INTERVAL,
    KEY_RETENTION,
    REQUIRED_CLAIMS,
    KeyRing,
    new_signing_key_row,
)
from authkit.sessions import load_keys, reload_keys_if_stale, rotate_keys
from authkit.store.models import SigningKeyRow

from ..conftest import TEST_SECRET, FakeClock, KitFactory
from ..hostapp import make_host_app

pytestmark = pytest.mark.anyio

ISSUER = "https://authkit.test/auth"
NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
LIFETIME = 60
OTHER_SECRET = "another-secret-key-0123456789-abcdefghijkl"


def make_ring(now: datetime = NOW) -> tuple[KeyRing, SigningKeyRow]:
    ring = KeyRing(issuer=ISSUER, secret_key=TEST_SECRET)
    row = new_signing_key_row(TEST_SECRET, now)
    ring.load([row], now)
    return ring, row


def mint(ring: KeyRing, now: datetime = NOW) -> str:
    token, _ = ring.mint_session_token(
        user_id="user_a", session_id="sess_a", now=now, lifetime_seconds=LIFETIME
    )
    return token


def kid_of(token: str) -> str:
    kid = jwt.get_unverified_header(token)["kid"]
    assert isinstance(kid, str)
    return kid


# -- KeyRing on its own --------------------------------------------------------------------


def test_minted_session_token_verifies() -> None:
    """A token the ring mints verifies, giving back user, session and expiry."""
    ring, _ = make_ring()
    token, claims = ring.mint_session_token(
        user_id="user_a",
        session_id="sess_a",
        now=NOW,
        lifetime_seconds=LIFETIME,
        extra_claims={"org": "acme"},
    )
    verified = ring.verify_session_token(token, now_timestamp=NOW.timestamp())
    assert verified.user_id == "user_a"
    assert verified.session_id == "sess_a"
    assert verified.expires_at == int(NOW.timestamp()) + LIFETIME
    assert dict(verified.claims) == claims
    assert verified.claims["org"] == "acme"


def test_session_token_header_has_kid_eddsa_and_jwt_type() -> None:
    """The header is exactly alg EdDSA, typ JWT and the signing key's kid."""
    ring, row = make_ring()
    assert jwt.get_unverified_header(mint(ring)) == {"alg": "EdDSA", "kid": row.kid, "typ": "JWT"}


def test_session_token_carries_exactly_the_documented_claims() -> None:
    """Claims are iss, sub, sid, iat, nbf and exp, with exp one lifetime after iat."""
    ring, _ = make_ring()
    claims = jwt.decode(mint(ring), options={"verify_signature": False})
    assert set(claims) == set(REQUIRED_CLAIMS) == {"iss", "sub", "sid", "iat", "nbf", "exp"}
    assert claims["iss"] == ISSUER
    assert (claims["sub"], claims["sid"]) == ("user_a", "sess_a")
    assert claims["iat"] == claims["nbf"] == int(NOW.timestamp())
    assert claims["exp"] == claims["iat"] + LIFETIME


def test_extra_claims_cannot_override_the_session_claims() -> None:
    """Host claims are added, but never replace iss, sub, sid or the times."""
    ring, _ = make_ring()
    token, claims = ring.mint_session_token(
        user_id="user_a",
        session_id="sess_a",
        now=NOW,
        lifetime_seconds=LIFETIME,
        extra_claims={"sub": "user_admin", "iss": "https://evil.example", "exp": 2**40},
    )
    verified = ring.verify_session_token(token, now_timestamp=NOW.timestamp())
    assert verified.user_id == "user_a"
    assert claims["iss"] == ISSUER
    assert verified.expires_at == int(NOW.timestamp()) + LIFETIME


def test_token_expires_exactly_at_exp() -> None:
    """One second before exp the token is valid; at exp it is not (no leeway on exp)."""
    ring, _ = make_ring()
    token = mint(ring)
    ring.verify_session_token(token, now_timestamp=NOW.timestamp() + LIFETIME - 1)
    with pytest.raises(TokenError, match="expired"):
        ring.verify_session_token(token, now_timestamp=NOW.timestamp() + LIFETIME)


def test_token_from_the_near_future_is_accepted_within_the_leeway() -> None:
    """A few seconds of clock skew between hosts does not sign anyone out."""
    ring, _ = make_ring()
    token = mint(ring, NOW + timedelta(seconds=5))
    ring.verify_session_token(token, now_timestamp=NOW.timestamp())
    with pytest.raises(TokenError, match="not yet valid"):
        ring.verify_session_token(
            mint(ring, NOW + timedelta(seconds=6)), now_timestamp=NOW.timestamp()
        )


def test_token_issued_in_the_future_is_refused_beyond_the_leeway() -> None:
    """An iat ahead of the clock (beyond the skew leeway) is as suspect as a future nbf."""
    ring, _ = make_ring()
    iat = int(NOW.timestamp())
    claims = {"iss": ISSUER, "sub": "u", "sid": "s", "nbf": iat, "exp": iat + LIFETIME}
    ring.verify_session_token(ring.mint({**claims, "iat": iat + 5}), now_timestamp=iat)
    with pytest.raises(TokenError, match="not yet valid"):
        ring.verify_session_token(ring.mint({**claims, "iat": iat + 6}), now_timestamp=iat)


def test_token_verifies_in_another_ring_with_the_same_keys_only() -> None:
    """A ring that loaded the same rows verifies; a ring with other keys does not."""
    ring, row = make_ring()
    token = mint(ring)
    twin = KeyRing(issuer=ISSUER, secret_key=TEST_SECRET)
    twin.load([row], NOW)
    twin.verify_session_token(token, now_timestamp=NOW.timestamp())
    stranger, _ = make_ring()
    with pytest.raises(TokenError):
        stranger.verify_session_token(token, now_timestamp=NOW.timestamp())


def test_token_from_another_issuer_is_refused() -> None:
    """The same keys under another issuer (another site) refuse the token."""
    ring, row = make_ring()
    other = KeyRing(issuer="https://other.example/auth", secret_key=TEST_SECRET)
    other.load([row], NOW)
    with pytest.raises(TokenError):
        other.verify_session_token(mint(ring), now_timestamp=NOW.timestamp())


def test_empty_ring_cannot_mint() -> None:
    """Without a loaded key minting fails loudly instead of producing an unsigned token."""
    ring = KeyRing(issuer=ISSUER, secret_key=TEST_SECRET)
    assert not ring.has_signing_key
    with pytest.raises(TokenError, match="no signing key"):
        mint(ring)


def test_private_key_is_stored_encrypted() -> None:
    """The row holds no PEM private key, only Fernet ciphertext."""
    _, row = make_ring()
    assert "PRIVATE KEY" not in row.private_key_encrypted
    assert row.private_key_encrypted.startswith("gAAAAA")  # Fernet version byte
    assert '"d"' not in row.public_jwk


def test_ring_with_a_different_secret_key_cannot_load_the_keys() -> None:
    """Changing AUTHKIT_SECRET_KEY makes the stored keys unusable, with a clear TokenError."""
    _, row = make_ring()
    ring = KeyRing(issuer=ISSUER, secret_key=OTHER_SECRET)
    with pytest.raises(TokenError, match="AUTHKIT_SECRET_KEY"):
        ring.load([row], NOW)


def test_newest_published_key_signs() -> None:
    """With several active rows, the newest one published long enough signs; when all
    are younger than KEY_PUBLISH_AHEAD, the oldest (the one signing before) does."""
    oldest = new_signing_key_row(TEST_SECRET, NOW - timedelta(hours=2))
    older = new_signing_key_row(TEST_SECRET, NOW - timedelta(hours=1))
    fresh = new_signing_key_row(TEST_SECRET, NOW - KEY_PUBLISH_AHEAD + timedelta(seconds=1))
    ring = KeyRing(issuer=ISSUER, secret_key=TEST_SECRET)
    ring.load([fresh, older, oldest], NOW)
    assert kid_of(mint(ring)) == older.kid
    assert ring.kids == {fresh.kid, older.kid, oldest.kid}
    ring.load([fresh], NOW)
    assert kid_of(mint(ring)) == fresh.kid
    fresher = new_signing_key_row(TEST_SECRET, NOW)
    ring.load([fresher, fresh], NOW)
    assert kid_of(mint(ring)) == fresh.kid


def test_a_key_retiring_later_still_signs_until_then() -> None:
    old = new_signing_key_row(TEST_SECRET, NOW - timedelta(hours=1))
    old.retired_at = NOW + timedelta(seconds=10)
    new = new_signing_key_row(TEST_SECRET, NOW)
    ring = KeyRing(issuer=ISSUER, secret_key=TEST_SECRET)
    ring.load([old, new], NOW)
    assert kid_of(mint(ring)) == old.kid
    ring.load([old, new], NOW + KEY_PUBLISH_AHEAD)
    assert kid_of(mint(ring)) == new.kid


def test_retired_key_verifies_but_never_signs() -> None:
    """A retired key keeps verifying its tokens; new tokens use the active key."""
    old_ring, old = make_ring(NOW - timedelta(hours=1))
    token = mint(old_ring, NOW)
    old.retired_at = NOW
    new = new_signing_key_row(TEST_SECRET, NOW)
    ring = KeyRing(issuer=ISSUER, secret_key=TEST_SECRET)
    ring.load([old, new], NOW)
    ring.verify_session_token(token, now_timestamp=NOW.timestamp())
    assert kid_of(mint(ring)) == new.kid
    assert [k["kid"] for k in ring.jwks()["keys"]] == [new.kid, old.kid]


def test_retired_key_is_dropped_after_the_retention() -> None:
    """A key retired more than KEY_RETENTION ago is neither published nor trusted."""
    ring, old = make_ring(NOW)
    old.retired_at = NOW
    new = new_signing_key_row(TEST_SECRET, NOW)
    later = NOW + KEY_RETENTION + timedelta(seconds=1)
    ring.load([old, new], later)
    assert ring.kids == {new.kid}
    assert [k["kid"] for k in ring.jwks()["keys"]] == [new.kid]


@given(st.text(max_size=300))
def test_any_text_is_refused_with_token_error_only(text: str) -> None:
    """Arbitrary cookie text fails verification with TokenError, never another exception."""
    ring, _ = make_ring()
    with pytest.raises(TokenError):
        ring.verify_session_token(text, now_timestamp=NOW.timestamp())


@given(
    st.lists(
        st.text(
            alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=",
            max_size=80,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_base64_segments_are_refused_with_token_error_only(segments: list[str]) -> None:
    """Dot-joined base64url garbage fails with TokenError, never another exception."""
    ring, _ = make_ring()
    with pytest.raises(TokenError):
        ring.verify_session_token(".".join(segments), now_timestamp=NOW.timestamp())


# -- keys in the database: rotation and sharing (SQLite and PostgreSQL) ---------------------


async def stored_keys(kit: AuthKit) -> list[SigningKeyRow]:
    async with kit.services.db.session() as s:
        rows = await s.exec(select(SigningKeyRow).order_by(col(SigningKeyRow.created_at)))
        return list(rows.all())


async def mint_for(kit: AuthKit) -> str:
    token, _ = kit.services.keyring.mint_session_token(
        user_id="user_a",
        session_id="sess_a",
        now=kit.services.clock(),
        lifetime_seconds=kit.settings.session_token_lifetime,
    )
    return token


def verify_now(kit: AuthKit, token: str) -> str:
    claims = kit.services.keyring.verify_session_token(
        token, now_timestamp=kit.services.clock().timestamp()
    )
    return claims.user_id


async def test_start_up_creates_one_encrypted_signing_key(kit: AuthKit) -> None:
    """The first start stores one key whose private half is encrypted with the secret key."""
    await kit.ensure_started()
    rows = await stored_keys(kit)
    assert len(rows) == 1
    (row,) = rows
    assert row.algorithm == ALGORITHM
    assert row.retired_at is None
    assert "PRIVATE KEY" not in row.private_key_encrypted
    assert kit.services.keyring.kids == {row.kid}
    stranger = KeyRing(issuer=kit.issuer, secret_key=OTHER_SECRET)
    with pytest.raises(TokenError, match="cannot be decrypted"):
        stranger.load(rows, kit.services.clock())
    await kit.aclose()


async def test_rotation_signs_with_the_new_key_and_keeps_old_tokens_valid(
    kit: AuthKit, clock: FakeClock
) -> None:
    """After rotate_keys the new key is published at once and signs KEY_PUBLISH_AHEAD
    later, when the old key retires; tokens of the old key verify until they expire."""
    await kit.ensure_started()
    old_token = await mint_for(kit)
    old_kid = kid_of(old_token)
    clock.advance(1)
    rotated_at = clock()
    new_kid = await rotate_keys(kit.services)
    assert new_kid != old_kid
    assert kit.services.keyring.kids == {old_kid, new_kid}  # published before it signs
    clock.advance(KEY_PUBLISH_AHEAD.total_seconds() - 1)
    await load_keys(kit.services)
    old_token = await mint_for(kit)
    assert kid_of(old_token) == old_kid
    clock.advance(1)
    await load_keys(kit.services)
    new_token = await mint_for(kit)
    assert kid_of(new_token) == new_kid
    assert verify_now(kit, new_token) == "user_a"
    assert verify_now(kit, old_token) == "user_a"
    rows = {r.kid: r for r in await stored_keys(kit)}
    assert rows[old_kid].retired_at == rotated_at + KEY_PUBLISH_AHEAD
    assert rows[new_kid].retired_at is None
    clock.advance(kit.settings.session_token_lifetime)
    with pytest.raises(TokenError, match="expired"):
        verify_now(kit, old_token)
    await kit.aclose()


async def test_jwks_lists_current_and_retired_keys_newest_first(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """The published JWKS holds the new key first and the retired key after it."""
    await kit.ensure_started()
    (old_kid,) = kit.services.keyring.kids
    clock.advance(1)
    new_kid = await rotate_keys(kit.services)
    r = await client.get("/auth/.well-known/jwks.json")
    assert r.status_code == 200, r.text
    assert [k["kid"] for k in r.json()["keys"]] == [new_kid, old_kid]


async def test_retired_key_disappears_after_the_retention(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """A day after rotation the old key is gone from the keyring and the JWKS."""
    await kit.ensure_started()
    old_token = await mint_for(kit)
    (old_kid,) = kit.services.keyring.kids
    clock.advance(1)
    new_kid = await rotate_keys(kit.services)
    clock.advance((KEY_PUBLISH_AHEAD + KEY_RETENTION).total_seconds() - 1)
    await load_keys(kit.services)
    assert kit.services.keyring.kids == {old_kid, new_kid}
    clock.advance(2)
    await load_keys(kit.services)
    assert kit.services.keyring.kids == {new_kid}
    r = await client.get("/auth/.well-known/jwks.json")
    assert [k["kid"] for k in r.json()["keys"]] == [new_kid]
    with pytest.raises(TokenError, match="unknown signing key"):
        verify_now(kit, old_token)


async def test_load_keys_does_not_add_a_key_when_one_is_active(kit: AuthKit) -> None:
    """Reloading (every worker does it each minute) never multiplies the keys."""
    await kit.ensure_started()
    for _ in range(3):
        await load_keys(kit.services)
    assert len(await stored_keys(kit)) == 1
    await kit.aclose()


async def test_second_process_verifies_tokens_of_the_first(
    make_kit: KitFactory, clock: FakeClock
) -> None:
    """Two kits on one store share the keys: each verifies what the other mints."""
    first, second = make_kit(), make_kit()
    await first.ensure_started()
    await second.ensure_started()
    assert first.services.keyring.kids == second.services.keyring.kids
    assert verify_now(second, await mint_for(first)) == "user_a"
    assert verify_now(first, await mint_for(second)) == "user_a"
    assert len(await stored_keys(first)) == 1
    await first.aclose()
    await second.aclose()


async def test_second_process_picks_up_a_rotation_on_its_next_reload(
    make_kit: KitFactory, clock: FakeClock
) -> None:
    """A key rotated at once (--now) by one process is trusted by another once it
    reloads its keys; meanwhile that one refuses the unknown kid and refreshes."""
    first, second = make_kit(), make_kit()
    await first.ensure_started()
    await second.ensure_started()
    clock.advance(1)
    new_kid = await rotate_keys(first.services, immediately=True)
    token = await mint_for(first)
    assert kid_of(token) == new_kid
    # Until it reloads, the second process refuses the unknown kid (and would refresh).
    with pytest.raises(TokenError, match="unknown signing key"):
        verify_now(second, token)
    clock.advance(60)
    await reload_keys_if_stale(second.services)
    assert new_kid in second.services.keyring.kids
    token = await mint_for(first)
    assert verify_now(second, token) == "user_a"
    assert kid_of(await mint_for(second)) == new_kid
    await first.aclose()
    await second.aclose()


async def test_second_process_with_another_secret_key_fails_to_start(
    make_kit: KitFactory,
) -> None:
    """A worker started with the wrong secret key fails at start-up, not per request."""
    first = make_kit()
    await first.ensure_started()
    second = make_kit(secret_key=OTHER_SECRET)
    with pytest.raises(TokenError, match="AUTHKIT_SECRET_KEY"):
        await second.ensure_started()
    assert second.is_started is False
    await first.aclose()
    await second.aclose()


async def test_rotation_now_signs_with_the_new_key_at_once(kit: AuthKit, clock: FakeClock) -> None:
    """`authkit keys rotate --now` (a leaked key): the old key stops signing this instant
    but still verifies what it signed until that expires."""
    await kit.ensure_started()
    old_token = await mint_for(kit)
    old_kid = kid_of(old_token)
    clock.advance(1)
    new_kid = await rotate_keys(kit.services, immediately=True)
    assert kid_of(await mint_for(kit)) == new_kid
    assert verify_now(kit, old_token) == "user_a"
    rows = {r.kid: r for r in await stored_keys(kit)}
    assert rows[old_kid].retired_at == clock()


async def test_a_second_worker_publishes_the_new_key_before_it_signs(
    make_kit: KitFactory, clock: FakeClock
) -> None:
    """L9: worker B's JWKS reloads by itself, so the new key is public everywhere before
    any worker signs with it."""
    a, b = make_kit(), make_kit()
    await a.ensure_started()
    await b.ensure_started()
    clock.advance(1)
    new_kid = await rotate_keys(a.services)
    transport = httpx.ASGITransport(app=make_host_app(b))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        clock.advance(KEY_RELOAD_INTERVAL.total_seconds())
        kids = [k["kid"] for k in (await c.get("/auth/.well-known/jwks.json")).json()["keys"]]
        assert kids[0] == new_kid
        assert kid_of(await mint_for(b)) != new_kid  # nobody signs with it yet
    await a.aclose()
    await b.aclose()


@pytest.mark.parametrize(
    "header",
    [b"[" * 3000, b"[]", b"not json", b"\xff\xfe", b'"a string"'],
    ids=["nested too deep", "a list", "not json", "not utf-8", "a string"],
)
def test_a_header_that_is_not_a_json_object_is_malformed(header: bytes) -> None:
    """The early read of the header refuses what is no JSON object, however hostile,
    with TokenError and nothing else (a RecursionError would be a 500)."""
    ring, _ = make_ring(NOW)
    segment = base64.urlsafe_b64encode(header).decode().rstrip("=")
    with pytest.raises(TokenError, match="malformed token"):
        ring.verify_session_token(f"{segment}.e30.c2ln", now_timestamp=NOW.timestamp())
