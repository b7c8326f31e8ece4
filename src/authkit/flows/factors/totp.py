"""
The `totp` factor (second): a 6-digit code from an authenticator app, set up from the
profile's security page (flows/mfa.py). One step (30 s) of drift either way, and each
code works once: using a code records its time step, and a code of that step or an
earlier one is refused, atomically, so two parallel sign-ins cannot share a code.
Wrong codes are throttled per account and per IP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ...audit import RequestMeta
from ...errors import CodeInvalid, FieldError, FlowError
from ...security.codes import is_code_shaped
from ...security.totp import decrypt_secret, matching_step
from ...services import Services
from ...store.models import AuthenticatorRow
from ..attempts import Attempt, record_failure
from .base import FactorKind, FactorStrategy, Proof, Used

__all__ = ["MFA_RATE_LIMITS", "TOTP_KIND", "TotpFactor", "confirmed_totp"]

TOTP_KIND = "totp"
#: Shared by every second factor: wrong codes per account, and per IP.
MFA_RATE_LIMITS: Mapping[str, str] = {
    "mfa:account": "5/minute;20/hour;50/day;90/30 days",
    "mfa:ip": "30/minute;300/hour",
}


class TotpFactor(FactorStrategy):
    name = "totp"
    kind = FactorKind.SECOND
    rate_limits = MFA_RATE_LIMITS
    fields = ("code",)

    async def is_enrolled(self, svc: Services, s: AsyncSession, user_id: str) -> bool:
        return await confirmed_totp(s, user_id) is not None

    async def attempt(
        self, svc: Services, attempt: Attempt, fields: Mapping[str, str], meta: RequestMeta
    ) -> Proof:
        code = "".join(fields.get("code", "").split())
        if not is_code_shaped(code):
            raise FieldError("totp_format", field="code")
        user_id = attempt.user_id or ""
        await svc.limiter.hit("mfa:ip", meta.ip_address)
        await svc.limiter.hit("mfa:account", user_id)
        async with svc.db.session() as s:
            row = await confirmed_totp(s, user_id)
        secret = decrypt_secret(svc.totp_key, row.secret_encrypted) if row else None
        if row is None or secret is None:
            await self._failed(svc, attempt, meta, "not_enrolled")
        step = matching_step(secret, code, svc.clock())
        if step is None:
            await self._failed(svc, attempt, meta, "wrong_code")
        if step <= row.last_used_step:
            # Replay: this code (or a later one) was already used.
            await self._failed(svc, attempt, meta, "replayed")
        await svc.limiter.clear("mfa:account", user_id)
        authenticator_id = row.id

        async def use(s: AsyncSession) -> Used:
            return Used(ok=await record_step(svc, s, authenticator_id, step))

        return Proof(use=use)

    def refusal(self) -> FlowError:
        return CodeInvalid("totp_invalid")

    async def _failed(
        self, svc: Services, attempt: Attempt, meta: RequestMeta, reason: str
    ) -> NoReturn:
        await record_failure(svc, attempt, meta, method=self.name, reason=reason)
        raise CodeInvalid("totp_invalid")


async def confirmed_totp(s: AsyncSession, user_id: str) -> AuthenticatorRow | None:
    """The user's authenticator app, once its first code confirmed it."""
    return (
        await s.exec(
            select(AuthenticatorRow).where(
                col(AuthenticatorRow.user_id) == user_id,
                col(AuthenticatorRow.kind) == TOTP_KIND,
                col(AuthenticatorRow.confirmed_at).is_not(None),
            )
        )
    ).first()


async def record_step(svc: Services, s: AsyncSession, authenticator_id: str, step: int) -> bool:
    """Mark `step` used; False when it (or a later one) already was (a replay, or a
    parallel request that won)."""
    moved = await s.exec(
        update(AuthenticatorRow)
        .where(
            col(AuthenticatorRow.id) == authenticator_id,
            col(AuthenticatorRow.last_used_step) < step,
        )
        .values(last_used_step=step, last_used_at=svc.clock())
    )
    return moved.rowcount == 1
