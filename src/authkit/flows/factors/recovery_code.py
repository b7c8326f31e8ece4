"""
The `recovery_code` factor (second): one of the ten codes shown when two-step
verification was turned on, for when the authenticator app is lost. Each works once
(an UPDATE only one request can win, so two parallel sign-ins cannot share a code), and
using one mails the owner a notice with the number left. Wrong codes count with the
authenticator app's, per account and per IP.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import NoReturn

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ...audit import RequestMeta, record_event
from ...errors import CodeInvalid, FieldError, FlowError
from ...security.recovery_codes import hash_recovery_code, normalize_recovery_code
from ...services import Services
from ...store.models import EmailAddressRow, RecoveryCodeRow
from ..attempts import Attempt, record_failure
from ..notices import compose, user_locale
from .base import FactorKind, FactorStrategy, Proof, Used
from .totp import MFA_RATE_LIMITS

__all__ = ["RecoveryCodeFactor", "unused_recovery_codes"]

#: A notice of a used recovery code is still worth sending this long after.
NOTICE_LIFETIME = timedelta(days=1)


class RecoveryCodeFactor(FactorStrategy):
    name = "recovery_code"
    kind = FactorKind.SECOND
    rate_limits = MFA_RATE_LIMITS
    fields = ("code",)

    async def is_enrolled(self, svc: Services, s: AsyncSession, user_id: str) -> bool:
        return await unused_recovery_codes(s, user_id) > 0

    async def attempt(
        self, svc: Services, attempt: Attempt, fields: Mapping[str, str], meta: RequestMeta
    ) -> Proof:
        code = normalize_recovery_code(fields.get("code", ""))
        if code is None:
            raise FieldError("recovery_code_format", field="code")
        user_id = attempt.user_id or ""
        await svc.limiter.hit("mfa:ip", meta.ip_address)
        await svc.limiter.hit("mfa:account", user_id)
        code_hash = hash_recovery_code(svc.recovery_key, user_id, code)
        async with svc.db.session() as s:
            found = (
                await s.exec(
                    select(RecoveryCodeRow.id).where(
                        col(RecoveryCodeRow.user_id) == user_id,
                        col(RecoveryCodeRow.code_hash) == code_hash,
                        col(RecoveryCodeRow.used_at).is_(None),
                    )
                )
            ).first()
        if found is None:
            await self._failed(svc, attempt, meta)
        await svc.limiter.clear("mfa:account", user_id)

        async def use(s: AsyncSession) -> Used:
            return await _use_code(svc, s, attempt, user_id, code_hash, meta)

        return Proof(use=use)

    def refusal(self) -> FlowError:
        return CodeInvalid("recovery_code_invalid")

    async def _failed(self, svc: Services, attempt: Attempt, meta: RequestMeta) -> NoReturn:
        await record_failure(svc, attempt, meta, method=self.name, reason="wrong_code")
        raise CodeInvalid("recovery_code_invalid")


async def unused_recovery_codes(s: AsyncSession, user_id: str) -> int:
    return int(
        (
            await s.exec(
                select(func.count())
                .select_from(RecoveryCodeRow)
                .where(
                    col(RecoveryCodeRow.user_id) == user_id,
                    col(RecoveryCodeRow.used_at).is_(None),
                )
            )
        ).one()
    )


async def _use_code(
    svc: Services,
    s: AsyncSession,
    attempt: Attempt,
    user_id: str,
    code_hash: str,
    meta: RequestMeta,
) -> Used:
    now = svc.clock()
    # Single use even under parallel redemption: only one UPDATE can win.
    used = await s.exec(
        update(RecoveryCodeRow)
        .where(
            col(RecoveryCodeRow.user_id) == user_id,
            col(RecoveryCodeRow.code_hash) == code_hash,
            col(RecoveryCodeRow.used_at).is_(None),
        )
        .values(used_at=now)
    )
    if used.rowcount != 1:
        return Used(ok=False)
    left = await unused_recovery_codes(s, user_id)
    record_event(
        s,
        "recovery_code.used",
        at=now,
        meta=meta,
        user_id=user_id,
        attempt_id=attempt.id,
        left=left,
    )
    owner = (
        await s.exec(
            select(EmailAddressRow.email).where(
                col(EmailAddressRow.user_id) == user_id, col(EmailAddressRow.is_primary)
            )
        )
    ).first()
    if owner is None:
        return Used(ok=True)
    mail_id = await svc.outbox.add(
        s,
        compose(svc, "recovery_code_used", owner, left=left, locale=await user_locale(s, user_id)),
        not_after=now + NOTICE_LIFETIME,
    )
    return Used(ok=True, mail_ids=(mail_id,))
