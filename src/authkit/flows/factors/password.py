"""
The `password` factor (first): the account's password, checked with argon2id.

Every failure looks the same (unknown address, no password, wrong password, banned) and
costs the same: an unknown address is still checked against a dummy hash. Guesses count
against the IP and the account before the hash is checked, atomically, so a burst of
parallel guesses gets no more checks than the limits allow (Keycloak CVE-2024-4629).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import NoReturn

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ...addresses import comparison_form
from ...audit import RequestMeta
from ...errors import FieldError, FlowError, InvalidCredentials
from ...services import Services
from ...store.models import PasswordCredentialRow
from ..attempts import Attempt, record_failure
from .base import USED, FactorKind, FactorStrategy, Proof, Used

__all__ = ["PasswordFactor"]


class PasswordFactor(FactorStrategy):
    name = "password"
    kind = FactorKind.FIRST
    fields = ("password",)
    has_step_page = False

    async def is_enrolled(self, svc: Services, s: AsyncSession, user_id: str) -> bool:
        return await s.get(PasswordCredentialRow, user_id) is not None

    async def attempt(
        self, svc: Services, attempt: Attempt, fields: Mapping[str, str], meta: RequestMeta
    ) -> Proof:
        password = fields.get("password", "")
        if not password:
            raise FieldError("required", field="password")
        account = comparison_form(attempt.identifier)
        await svc.limiter.hit("sign_in:ip", meta.ip_address)
        # Unknown addresses count the same, so the throttle reveals nothing; a success
        # clears it.
        await svc.limiter.hit("sign_in:account", account)
        if len(password) > svc.settings.password_max_length:
            # Longer than any password we accept: refuse without hashing (long-password DoS).
            await self._failed(svc, attempt, meta, "too_long")
        credential = None
        if attempt.user_id is not None:
            async with svc.db.session() as s:
                credential = await s.get(PasswordCredentialRow, attempt.user_id)
        if credential is None:
            # Same cost as a real check: response time does not reveal unknown addresses.
            await svc.hasher.dummy_verify(password)
            reason = "unknown_email" if attempt.user_id is None else "no_password"
            await self._failed(svc, attempt, meta, reason)
        if not await svc.hasher.verify(credential.password_hash, password):
            await self._failed(svc, attempt, meta, "wrong_password")
        new_hash = None
        if svc.hasher.needs_rehash(credential.password_hash):
            # The hashing parameters were raised since this hash was made: upgrade it now
            # that we hold the password.
            new_hash = await svc.hasher.hash(password)
        if not attempt.user_is_banned:
            await svc.limiter.clear("sign_in:account", account)
        return Proof(use=_rehash(svc, credential.user_id, new_hash))

    def refusal(self) -> FlowError:
        return InvalidCredentials()

    async def _failed(
        self, svc: Services, attempt: Attempt, meta: RequestMeta, reason: str
    ) -> NoReturn:
        await record_failure(svc, attempt, meta, method=self.name, reason=reason)
        raise InvalidCredentials()


def _rehash(
    svc: Services, user_id: str, new_hash: str | None
) -> Callable[[AsyncSession], Awaitable[Used]]:
    async def use(s: AsyncSession) -> Used:
        if new_hash is not None:
            await s.exec(
                update(PasswordCredentialRow)
                .where(col(PasswordCredentialRow.user_id) == user_id)
                .values(password_hash=new_hash, updated_at=svc.clock())
            )
        return USED

    return use
