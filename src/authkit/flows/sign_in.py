"""
Sign-in with email and password, and sign-out.

One answer for every failure (unknown address, wrong password, banned user), and the
same work on every path: an unknown address still costs one argon2 verification.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col, select

from ..addresses import normalize_email
from ..audit import record_event
from ..errors import FieldError, InvalidCredentials
from ..services import Services
from ..sessions import RequestMeta, SessionStart, create_session, revoke_session
from ..store.models import EmailAddressRow, PasswordCredentialRow, UserRow

__all__ = ["sign_in", "sign_out"]


async def sign_in(svc: Services, *, email: str, password: str, meta: RequestMeta) -> SessionStart:
    """
    Check the credentials and start a session.

    Raises:
        FieldError: the email is not an address, or a field is empty.
        InvalidCredentials: anything else went wrong (never says what).
    """
    address = normalize_email(email)
    if not password:
        raise FieldError("required", field="password")
    limiter = svc.limiter
    await limiter.hit("sign_in:ip", meta.ip_address)
    # Counted before the password is checked, atomically: a burst of parallel guesses
    # gets no more checks than the limit allows (Keycloak CVE-2024-4629). Unknown
    # addresses count the same, so the throttle reveals nothing; a success clears it.
    await limiter.hit("sign_in:account", address.normalized)
    if len(password) > svc.settings.password_max_length:
        # Longer than any password we accept: refuse without hashing (long-password DoS).
        await _record_failure(svc, meta, reason="too_long")
        raise InvalidCredentials()
    async with svc.db.session() as s:
        found = (
            await s.exec(
                select(UserRow, PasswordCredentialRow)
                .join(EmailAddressRow, col(EmailAddressRow.user_id) == col(UserRow.id))
                .join(PasswordCredentialRow, col(PasswordCredentialRow.user_id) == col(UserRow.id))
                .where(col(EmailAddressRow.normalized) == address.normalized)
            )
        ).first()
    if found is None:
        # Same cost as a real check: response time does not reveal unknown addresses.
        await svc.hasher.dummy_verify(password)
        await _record_failure(svc, meta, reason="unknown_email")
        raise InvalidCredentials()
    user, credential = found
    if not await svc.hasher.verify(credential.password_hash, password):
        await _record_failure(svc, meta, reason="wrong_password", user_id=user.id)
        raise InvalidCredentials()
    if user.banned_at is not None:
        await _record_failure(svc, meta, reason="banned", user_id=user.id)
        raise InvalidCredentials()
    if svc.hasher.needs_rehash(credential.password_hash):
        await _rehash(svc, user.id, password)
    await limiter.clear("sign_in:account", address.normalized)
    start = await create_session(svc, user_id=user.id, meta=meta)
    async with svc.db.session() as s:
        record_event(
            s,
            "sign_in",
            at=svc.clock(),
            meta=meta,
            user_id=user.id,
            session_id=start.session_id,
            method="password",
        )
    return start


async def sign_out(svc: Services, *, user_id: str, session_id: str, meta: RequestMeta) -> None:
    """End the session; its token stops working when it expires (within seconds)."""
    await revoke_session(svc, session_id)
    async with svc.db.session() as s:
        record_event(
            s, "sign_out", at=svc.clock(), meta=meta, user_id=user_id, session_id=session_id
        )


async def _rehash(svc: Services, user_id: str, password: str) -> None:
    # The hashing parameters were raised since this hash was made: upgrade it now that
    # we hold the password.
    new_hash = await svc.hasher.hash(password)
    async with svc.db.session() as s:
        await s.exec(
            update(PasswordCredentialRow)
            .where(col(PasswordCredentialRow.user_id) == user_id)
            .values(password_hash=new_hash, updated_at=svc.clock())
        )


async def _record_failure(
    svc: Services, meta: RequestMeta, *, reason: str, user_id: str | None = None
) -> None:
    async with svc.db.session() as s:
        record_event(
            s,
            "sign_in.failed",
            at=svc.clock(),
            meta=meta,
            user_id=user_id,
            method="password",
            reason=reason,
        )
