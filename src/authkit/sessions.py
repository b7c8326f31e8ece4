"""
The session model: a row per signed-in browser, a long-lived opaque refresh token
(stored only as a hash) and short-lived session JWTs minted from it.

Refresh tokens rotate: every refresh hands out generation N+1 and retires N. A retired
token still works for a short grace (requests that were in flight, a response that
never arrived) and then only ever once more: presented after the grace, it proves the
token was copied, so the whole session is revoked and the event audited.

The rotation is recorded only when the new token is about to be delivered:
`refresh_session` returns it as a `PendingRotation`, and the middleware commits it as it
starts the response that carries the new cookie. A request whose response never
carries it (a WebSocket handshake, an endpoint that crashed into the host's 500 page)
rotates nothing, so the browser's only token stays the current one.

Tokens are `<session id>.<generation>.<HMAC(refresh key, session id, salt, generation)>`:
the server can recompute the current token for a holder of the previous one (so
concurrent refreshes all end with the same cookie) and can tell a genuine old token
from a forgery (so knowing a session id is not enough to revoke it).

Every function here touches the database; the per-request check in the middleware
never does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .audit import RequestMeta, record_event
from .clock import as_utc
from .ids import new_id
from .jwt_templates.minting import organization_context, template_context
from .organizations.claims import active_membership, organization_claim
from .pruning import prune_if_due
from .security.secrets import token_hash
from .security.tokens import KEY_PUBLISH_AHEAD, KEY_RELOAD_INTERVAL, KeyRing, new_signing_key_row
from .services import Services
from .store.models import (
    EmailAddressRow,
    MembershipRow,
    OrganizationRow,
    SessionRow,
    SigningKeyRow,
    UserRow,
)
from .users import user_of
from .webhooks.payloads import session_data

__all__ = [
    "IMPERSONATION_LIFETIME",
    "REFRESH_REUSE_GRACE",
    "PendingRotation",
    "RequestMeta",
    "SessionStart",
    "commit_rotation",
    "create_session",
    "factor_ages",
    "load_keys",
    "mint_session",
    "new_credential_generation",
    "prepare_session",
    "refresh_session",
    "revoke_all_sessions",
    "revoke_session",
    "rotate_keys",
]

#: 128 bits of per-session salt; each token carries a 256-bit HMAC.
REFRESH_SALT_BYTES = 16
#: How long a just-rotated refresh token still works (concurrent requests, lost replies).
REFRESH_REUSE_GRACE = timedelta(seconds=30)
_MAX_REFRESH_TOKEN_LENGTH = 256


#: An admin signed in as a user (impersonation) is signed out within this.
IMPERSONATION_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class PendingRotation:
    """A refresh token handed out but not yet recorded: `commit_rotation` records it."""

    session_id: str
    #: The generation the browser presented; the new token is the next one.
    from_generation: int
    token_hash: str
    at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionStart:
    """What a fresh or refreshed session hands to the browser."""

    user_id: str
    session_id: str
    session_token: str
    claims: Mapping[str, Any]
    #: The refresh token the browser should hold from now on.
    refresh_token: str
    #: When the session ends unless refreshed again (never past its absolute end).
    session_expires_at: datetime
    #: For a refresh that moves to the next token: record it when the cookie goes out.
    rotation: PendingRotation | None = None
    #: A sign-in's user's chosen language, which the browser is then shown (a cookie).
    locale: str | None = None

    @property
    def refresh_max_age(self) -> int:
        """Seconds the refresh cookie should live: until the session's end."""
        return max(0, int(self.session_expires_at.timestamp()) - int(self.claims["iat"]))


@dataclass(frozen=True, slots=True)
class _ParsedRefreshToken:
    session_id: str
    generation: int


def _refresh_token(key: bytes, session_id: str, salt: str, generation: int) -> str:
    message = f"{session_id}\x1f{salt}\x1f{generation}".encode()
    mac = hmac.new(key, message, hashlib.sha256).digest()
    return f"{session_id}.{generation}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _parse_refresh_token(token: str) -> _ParsedRefreshToken | None:
    parts = token.split(".")
    if len(token) > _MAX_REFRESH_TOKEN_LENGTH or len(parts) != 3:
        return None
    session_id, generation, mac = parts
    if not session_id.startswith("sess_") or not mac:
        return None
    if not (generation.isascii() and generation.isdigit() and len(generation) <= 9):
        return None
    return _ParsedRefreshToken(session_id, int(generation))


def _session_expiry(
    svc: Services, created_at: datetime, now: datetime, *, impersonated: bool = False
) -> datetime:
    """The idle expiry, never past the absolute end of the session (an hour after it
    began, for an admin signed in as the user)."""
    idle_end = now + timedelta(seconds=svc.settings.session_lifetime)
    absolute_end = created_at + timedelta(seconds=svc.settings.session_max_lifetime)
    if impersonated:
        absolute_end = min(absolute_end, created_at + IMPERSONATION_LIFETIME)
    return min(idle_end, absolute_end)


async def load_keys(svc: Services, *, create_if_missing: bool = True) -> KeyRing:
    """(Re)load the signing keys into the key ring; make the first key if there is none."""
    now = svc.clock()
    async with svc.db.session() as s:
        rows = list((await s.exec(select(SigningKeyRow))).all())
        if create_if_missing and not any(r.retired_at is None for r in rows):
            row = new_signing_key_row(str(svc.settings.secret_key), now)
            s.add(row)
            rows.append(row)
    svc.keyring.load(rows, now)
    return svc.keyring


async def reload_keys_if_stale(svc: Services) -> None:
    loaded_at = svc.keyring.loaded_at
    if loaded_at is None or svc.clock() - loaded_at >= KEY_RELOAD_INTERVAL:
        await load_keys(svc)


async def rotate_keys(svc: Services, *, immediately: bool = False) -> str:
    """
    Add a new signing key and retire the current ones; returns the new `kid`. The new
    key is published at once and signs after `KEY_PUBLISH_AHEAD`, when every worker and
    every cached JWKS knows it; until then the current key goes on signing. With
    `immediately` (a leaked key) it signs at once, and verifiers holding a cached JWKS
    refuse its tokens until their cache expires.
    """
    now = svc.clock()
    row = new_signing_key_row(str(svc.settings.secret_key), now)
    # Retired at once, the old keys cannot sign: the new one, alone, signs straight away.
    retire_at = now if immediately else now + KEY_PUBLISH_AHEAD
    async with svc.db.session() as s:
        await s.exec(
            update(SigningKeyRow)
            .where(
                col(SigningKeyRow.retired_at).is_(None)
                | (col(SigningKeyRow.retired_at) > retire_at)
            )
            .values(retired_at=retire_at)
        )
        s.add(row)
    await load_keys(svc)
    return row.kid


async def prepare_session(svc: Services) -> None:
    """
    What creating a session needs done first, outside any transaction (each opens its
    own): signing keys no older than a reload interval, and ended rows pruned when due.
    """
    await reload_keys_if_stale(svc)
    await prune_if_due(svc)


async def create_session(
    svc: Services,
    s: AsyncSession,
    *,
    user_id: str,
    meta: RequestMeta,
    amr: Sequence[str],
    first_factor_at: datetime,
    second_factor_at: datetime | None = None,
    credential_generation: int = 0,
    actor: tuple[str, str] | None = None,
) -> SessionStart:
    """
    Start a new session for `user_id` with a fresh refresh token, in the open
    transaction `s` (with the audit row and mail of the sign-in that starts it). `amr`
    names the factors that proved the user, and the two times say when (the token's
    `fva`). `actor` is (user id, session id) of an admin signing in as the user: the
    token says so (`act`) and the session ends within `IMPERSONATION_LIFETIME`. Call
    `prepare_session` before opening `s`.
    """
    now = svc.clock()
    session_id = new_id("sess")
    salt = secrets.token_urlsafe(REFRESH_SALT_BYTES)
    refresh_token = _refresh_token(svc.refresh_key, session_id, salt, 0)
    at = await _store_now(svc, s)
    expires_at = _session_expiry(svc, at, at, impersonated=actor is not None)
    row = SessionRow(
        id=session_id,
        user_id=user_id,
        refresh_hash=token_hash(refresh_token),
        refresh_salt=salt,
        refresh_generation=0,
        created_at=at,
        last_active_at=at,
        expires_at=expires_at,
        user_agent=meta.user_agent[:512],
        ip_address=meta.ip_address[:64],
        amr=list(amr),
        first_factor_at=first_factor_at,
        second_factor_at=second_factor_at,
        credential_generation=credential_generation,
        actor_user_id=actor[0] if actor else None,
        actor_session_id=actor[1] if actor else None,
    )
    s.add(row)
    extra = await _token_extras(svc, s, row, user_id)
    await svc.webhooks.emit(s, "session.created", session_data(row, "active"), about=user_id)
    return _start(svc, row, refresh_token, expires_at, now, extra)


async def mint_session(svc: Services, s: AsyncSession, row: SessionRow) -> str:
    """A new session token for a session whose factor times just moved (a "Confirm it's
    you"), in the open transaction `s`; the refresh token the browser holds stays."""
    extra = await _token_extras(svc, s, row, row.user_id)
    token, _ = svc.keyring.mint_session_token(
        user_id=row.user_id,
        session_id=row.id,
        now=svc.clock(),
        lifetime_seconds=svc.settings.session_token_lifetime,
        extra_claims=_claims_of(row, extra, svc.clock()),
    )
    return token


async def _token_extras(
    svc: Services, s: AsyncSession, row: SessionRow, user: UserRow | str
) -> dict[str, Any]:
    """The claims a session token carries beyond the registered ones, `fva` and `act`:
    the active organization's `o` (one query, only when organizations are on and the
    session has one) and those
    `AUTHKIT_SESSION_CLAIMS` adds."""
    membership = None
    if svc.settings.organizations:
        membership = await active_membership(s, row.user_id, row.active_organization_id)
    extra = await session_claim_values(svc, s, user, row.id, membership)
    if membership is not None:
        extra["o"] = organization_claim(*membership, svc.roles)
    return extra


async def session_claim_values(
    svc: Services,
    s: AsyncSession,
    user: UserRow | str,
    session_id: str,
    membership: tuple[OrganizationRow, MembershipRow] | None = None,
) -> dict[str, Any]:
    """The claims `AUTHKIT_SESSION_CLAIMS` adds for this user, session and active
    organization; none (and no query) when it is not set."""
    plan = svc.session_claims
    if plan is None or plan.compiled is None:
        return {}
    row = user if isinstance(user, UserRow) else await s.get(UserRow, user)
    if row is None:
        return {}
    address = (
        await s.exec(
            select(EmailAddressRow).where(
                col(EmailAddressRow.user_id) == row.id, col(EmailAddressRow.is_primary)
            )
        )
    ).first()
    if address is None:
        return {}
    view = user_of(row, address, mount_path=svc.mount_path)
    context = template_context(
        view,
        session_id=session_id,
        base_url=svc.settings.base_url,
        organization=organization_context(membership, svc),
    )
    return plan.render(context)


def _start(
    svc: Services,
    row: SessionRow,
    refresh_token: str,
    expires_at: datetime,
    now: datetime,
    extra: Mapping[str, Any],
) -> SessionStart:
    token, claims = svc.keyring.mint_session_token(
        user_id=row.user_id,
        session_id=row.id,
        now=now,
        lifetime_seconds=svc.settings.session_token_lifetime,
        extra_claims=_claims_of(row, extra, now),
    )
    return SessionStart(row.user_id, row.id, token, claims, refresh_token, expires_at)


def _claims_of(row: SessionRow, extra: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The session token's claims beyond the registered ones: the configured extras,
    `fva`, and for an admin signed in as the user, Clerk's `act` naming the admin."""
    claims = {**extra, "fva": factor_ages(row, now)}
    if row.actor_user_id is not None:
        claims["act"] = {"sub": row.actor_user_id, "sid": row.actor_session_id}
    return claims


def factor_ages(row: SessionRow, now: datetime) -> list[int]:
    """The `fva` claim (Clerk's): whole minutes since the session last verified a first
    and a second factor, -1 where it never did."""
    return [_minutes_since(row.first_factor_at, now), _minutes_since(row.second_factor_at, now)]


def _minutes_since(at: datetime | None, now: datetime) -> int:
    if at is None:
        return -1
    return max(0, int((now - as_utc(at)).total_seconds() // 60))


async def refresh_session(
    svc: Services, refresh_token: str, meta: RequestMeta | None = None
) -> SessionStart | None:
    """
    Mint a new session token and the next refresh token, or None when the session is
    unknown, revoked, expired or its user banned, or the token is not genuine. The
    rotation is only read here: commit `SessionStart.rotation` with `commit_rotation`
    when the response carrying the new cookie starts.

    One read and one write per token lifetime. Concurrent callers with the same token
    all succeed and all receive the same new refresh token; the previous token works
    for `REFRESH_REUSE_GRACE` after its rotation, and presenting any older one revokes
    the session (someone else holds a copy).
    """
    parsed = _parse_refresh_token(refresh_token)
    if parsed is None:
        return None
    await reload_keys_if_stale(svc)
    now = svc.clock()
    async with svc.db.session() as s:
        found = await _load_session(s, parsed.session_id)
        if found is None:
            return None
        row, user, database_now = found
        # Session times (ends, rotations, grace) are judged by the clock every worker
        # shares; `now` (this worker's) only dates the session token it mints.
        at = svc.store_clock() if svc.store_clock is not None else database_now
        if not row.refresh_salt:
            return None
        expected = _refresh_token(
            svc.refresh_key, row.id, row.refresh_salt, parsed.generation
        ).encode()
        # Constant-time: a forged token must not learn how much of its MAC matched.
        if not hmac.compare_digest(expected, refresh_token.encode()):
            return None
        if not _is_usable(row, user, at):
            return None
        if parsed.generation == row.refresh_generation:
            # Tokens are a keyed chain: every caller with this token gets the same next
            # one, whichever of them records it.
            generation = row.refresh_generation + 1
            token = _refresh_token(svc.refresh_key, row.id, row.refresh_salt, generation)
            expires_at = _session_expiry(
                svc, row.created_at, at, impersonated=row.actor_user_id is not None
            )
            rotation = PendingRotation(
                row.id, row.refresh_generation, token_hash(token), at, expires_at
            )
            extra = await _token_extras(svc, s, row, user)
            return replace(_start(svc, row, token, expires_at, now, extra), rotation=rotation)
        if parsed.generation == row.refresh_generation - 1 and _within_grace(row, at):
            generation = row.refresh_generation
            current = _refresh_token(svc.refresh_key, row.id, row.refresh_salt, generation)
            extra = await _token_extras(svc, s, row, user)
            return _start(svc, row, current, row.expires_at, now, extra)
        if parsed.generation < row.refresh_generation:
            await _revoke_for_reuse(s, row, parsed.generation, at, meta or RequestMeta())
    return None


async def _load_session(
    s: AsyncSession, session_id: str
) -> tuple[SessionRow, UserRow, datetime] | None:
    """The session, its user and the database's clock, in one round trip."""
    found = (
        await s.exec(
            select(SessionRow, UserRow, func.now())
            .join(UserRow, col(UserRow.id) == col(SessionRow.user_id))
            .where(SessionRow.id == session_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    return None if found is None else (found[0], found[1], as_utc(found[2]))


async def _store_now(svc: Services, s: AsyncSession) -> datetime:
    """
    The time session bookkeeping is judged by: the injected store clock (tests), else the
    database's own clock, which every worker shares, so that a worker whose clock is off
    can neither revive a session that has ended nor take a racing refresh for a replay.
    """
    if svc.store_clock is not None:
        return svc.store_clock()
    return as_utc((await s.exec(select(func.now()))).one())


def _is_usable(row: SessionRow, user: UserRow, now: datetime) -> bool:
    return (
        row.revoked_at is None
        and row.expires_at > now
        and user.banned_at is None
        # Made before the user's credentials last changed (even if it was committed
        # after): it ends here, at its first refresh.
        and row.credential_generation == user.credential_generation
    )


def _within_grace(row: SessionRow, now: datetime) -> bool:
    rotated_at = row.refresh_rotated_at
    return rotated_at is not None and now - rotated_at <= REFRESH_REUSE_GRACE


async def commit_rotation(svc: Services, rotation: PendingRotation) -> bool:
    """
    Record a refresh token as handed out, as its cookie is about to leave: the session
    moves to the next generation. True when it is recorded (by this call, or already by
    a concurrent one with the same token); False when the session ended meanwhile, and
    the new refresh cookie must not be sent.
    """
    async with svc.db.session() as s:
        result = await s.exec(
            update(SessionRow)
            .where(
                col(SessionRow.id) == rotation.session_id,
                col(SessionRow.refresh_generation) == rotation.from_generation,
                col(SessionRow.revoked_at).is_(None),
            )
            .values(
                refresh_hash=rotation.token_hash,
                refresh_generation=rotation.from_generation + 1,
                refresh_rotated_at=rotation.at,
                last_active_at=rotation.at,
                expires_at=rotation.expires_at,
            )
        )
        if result.rowcount:
            return True
        row = await s.get(SessionRow, rotation.session_id)
    return (
        row is not None
        and row.revoked_at is None
        and row.refresh_generation == rotation.from_generation + 1
    )


async def _revoke_for_reuse(
    s: AsyncSession, row: SessionRow, generation: int, now: datetime, meta: RequestMeta
) -> None:
    await s.exec(
        update(SessionRow)
        .where(col(SessionRow.id) == row.id, col(SessionRow.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    record_event(
        s,
        "session.refresh_reused",
        at=now,
        meta=meta,
        user_id=row.user_id,
        session_id=row.id,
        generation=generation,
        current_generation=row.refresh_generation,
    )


async def revoke_session(
    svc: Services, s: AsyncSession, session_id: str, *, signed_out: bool = False
) -> bool:
    """End one session, in the open transaction `s`; True when it was active. The
    webhooks hear `session.ended` for a sign-out, `session.revoked` otherwise."""
    ended = await _end_sessions(
        svc,
        s,
        [col(SessionRow.id) == session_id],
        event="session.ended" if signed_out else "session.revoked",
    )
    return ended > 0


async def revoke_all_sessions(
    svc: Services,
    user_id: str,
    *,
    except_session_id: str | None = None,
    within: AsyncSession | None = None,
) -> int:
    """
    End every active session of a user (but one, if named); returns how many. Pass
    `within` to do it in an open transaction, together with the change that requires it
    (a password reset), so a crash cannot leave one without the other.
    """
    conditions = [col(SessionRow.user_id) == user_id]
    if except_session_id is not None:
        conditions.append(col(SessionRow.id) != except_session_id)
    if within is not None:
        return await _end_sessions(svc, within, conditions, event="session.revoked")
    async with svc.db.session() as s:
        return await _end_sessions(svc, s, conditions, event="session.revoked")


async def _end_sessions(
    svc: Services, s: AsyncSession, conditions: list[Any], *, event: str
) -> int:
    """Revoke the active sessions matching `conditions`; each one's webhook `event`."""
    statement = (
        update(SessionRow)
        .where(*conditions, col(SessionRow.revoked_at).is_(None))
        .values(revoked_at=svc.clock())
    )
    if not svc.webhooks.wants(event):
        return int((await s.exec(statement)).rowcount)
    ended = (await s.exec(statement.returning(SessionRow))).all()
    status = event.rsplit(".", 1)[-1]  # ended or revoked
    for (row,) in ended:
        await svc.webhooks.emit(s, event, session_data(row, status), about=row.user_id)
    return len(ended)


async def new_credential_generation(
    svc: Services,
    s: AsyncSession,
    user_id: str,
    *,
    keep_session_id: str | None = None,
    end_other_sessions: bool = True,
) -> int:
    """
    The user's credentials changed (a new password, a ban, a second factor on or off):
    move them to a new generation and end every session made under an older one, in the
    open transaction `s` with the change. A sign-in still running under the old one
    cannot create its session (`complete_sign_in` compares), and one that slipped in
    commits with the old generation and is refused at its first refresh.
    `keep_session_id` is the session making the change, which moves with it; with
    `end_other_sessions=False` (a password change whose owner keeps their other
    devices) every open session moves with it, and only sign-ins still under way end.
    Returns the new generation.
    """
    await s.exec(
        update(UserRow)
        .where(col(UserRow.id) == user_id)
        .values(credential_generation=col(UserRow.credential_generation) + 1)
    )
    generation = (
        await s.exec(select(UserRow.credential_generation).where(col(UserRow.id) == user_id))
    ).one()
    if not end_other_sessions:
        await s.exec(
            update(SessionRow)
            .where(col(SessionRow.user_id) == user_id, col(SessionRow.revoked_at).is_(None))
            .values(credential_generation=generation)
        )
        return int(generation)
    await revoke_all_sessions(svc, user_id, except_session_id=keep_session_id, within=s)
    if keep_session_id is not None:
        await s.exec(
            update(SessionRow)
            .where(col(SessionRow.id) == keep_session_id)
            .values(credential_generation=generation)
        )
    return int(generation)


def is_session_active(row: SessionRow, now: datetime) -> bool:
    return row.revoked_at is None and row.expires_at > now
