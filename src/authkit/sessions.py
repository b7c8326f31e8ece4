"""
The session model: a row per signed-in browser, a long-lived opaque refresh token
(stored only as a hash) and short-lived session JWTs minted from it.

Every function here touches the database; the per-request check in the middleware
never does.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .ids import new_id
from .security.secrets import token_hash
from .security.tokens import KeyRing, new_signing_key_row
from .services import Services
from .store.models import SessionRow, SigningKeyRow, UserRow

__all__ = [
    "REFRESH_TOKEN_BYTES",
    "RequestMeta",
    "SessionStart",
    "create_session",
    "load_keys",
    "refresh_session",
    "revoke_all_sessions",
    "revoke_session",
    "rotate_keys",
]

#: 256 bits of randomness in every refresh token.
REFRESH_TOKEN_BYTES = 32
#: How often a process re-reads the signing keys (another host may have rotated them).
KEY_RELOAD_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """Who is asking: kept on the session row and in the audit log."""

    ip_address: str = ""
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class SessionStart:
    """What a fresh or refreshed session hands to the browser."""

    user_id: str
    session_id: str
    session_token: str
    claims: Mapping[str, Any]
    #: Only set when a new refresh token was issued (sign-in); None on refresh.
    refresh_token: str | None
    session_expires_at: datetime


def _split_refresh_token(token: str) -> tuple[str, str] | None:
    session_id, dot, secret = token.partition(".")
    if not dot or not session_id.startswith("sess_") or len(token) > 256 or not secret:
        return None
    return session_id, secret


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


async def rotate_keys(svc: Services) -> str:
    """Add a new signing key and retire the current ones; returns the new `kid`."""
    now = svc.clock()
    row = new_signing_key_row(str(svc.settings.secret_key), now)
    async with svc.db.session() as s:
        await s.exec(
            update(SigningKeyRow)
            .where(col(SigningKeyRow.retired_at).is_(None))
            .values(retired_at=now)
        )
        s.add(row)
    await load_keys(svc)
    return row.kid


async def create_session(svc: Services, *, user_id: str, meta: RequestMeta) -> SessionStart:
    """Start a new session for `user_id` with a fresh refresh token."""
    await reload_keys_if_stale(svc)
    now = svc.clock()
    session_id = new_id("sess")
    refresh_token = f"{session_id}.{secrets.token_urlsafe(REFRESH_TOKEN_BYTES)}"
    expires_at = now + timedelta(seconds=svc.settings.session_lifetime)
    async with svc.db.session() as s:
        s.add(
            SessionRow(
                id=session_id,
                user_id=user_id,
                refresh_hash=token_hash(refresh_token),
                created_at=now,
                last_active_at=now,
                expires_at=expires_at,
                user_agent=meta.user_agent[:512],
                ip_address=meta.ip_address[:64],
            )
        )
    token, claims = svc.keyring.mint_session_token(
        user_id=user_id,
        session_id=session_id,
        now=now,
        lifetime_seconds=svc.settings.session_token_lifetime,
    )
    return SessionStart(user_id, session_id, token, claims, refresh_token, expires_at)


async def refresh_session(svc: Services, refresh_token: str) -> SessionStart | None:
    """
    Mint a new session token from a refresh token, or None when the session is unknown,
    revoked, expired or its user banned. One read and one write; safe to run
    concurrently for the same session (nothing is rotated, so every caller succeeds).
    """
    parts = _split_refresh_token(refresh_token)
    if parts is None:
        return None
    session_id, _ = parts
    await reload_keys_if_stale(svc)
    now = svc.clock()
    async with svc.db.session() as s:
        found = (
            await s.exec(
                select(SessionRow, UserRow)
                .join(UserRow, col(UserRow.id) == col(SessionRow.user_id))
                .where(SessionRow.id == session_id)
            )
        ).first()
        if found is None:
            return None
        row, user = found
        # Constant-time: the hash comparison must not leak how much of a guess matched.
        if not hmac.compare_digest(row.refresh_hash, token_hash(refresh_token)):
            return None
        if row.revoked_at is not None or row.expires_at <= now or user.banned_at is not None:
            return None
        expires_at = now + timedelta(seconds=svc.settings.session_lifetime)
        await s.exec(
            update(SessionRow)
            .where(col(SessionRow.id) == session_id)
            .values(last_active_at=now, expires_at=expires_at)
        )
    token, claims = svc.keyring.mint_session_token(
        user_id=row.user_id,
        session_id=session_id,
        now=now,
        lifetime_seconds=svc.settings.session_token_lifetime,
    )
    return SessionStart(row.user_id, session_id, token, claims, None, expires_at)


async def revoke_session(svc: Services, session_id: str) -> bool:
    """End one session; True when it was active."""
    async with svc.db.session() as s:
        result = await s.exec(
            update(SessionRow)
            .where(col(SessionRow.id) == session_id, col(SessionRow.revoked_at).is_(None))
            .values(revoked_at=svc.clock())
        )
    return bool(result.rowcount)


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
    conditions = [col(SessionRow.user_id) == user_id, col(SessionRow.revoked_at).is_(None)]
    if except_session_id is not None:
        conditions.append(col(SessionRow.id) != except_session_id)
    statement = update(SessionRow).where(*conditions).values(revoked_at=svc.clock())
    if within is not None:
        return int((await within.exec(statement)).rowcount)
    async with svc.db.session() as s:
        result = await s.exec(statement)
    return int(result.rowcount)


def is_session_active(row: SessionRow, now: datetime) -> bool:
    return row.revoked_at is None and row.expires_at > now
