"""
The `email_link` factor (first): a one-time link mailed to the address (a magic link),
valid for 10 minutes at most. Opening it shows a confirmation page whose button signs in
(a POST), so a mail scanner that follows links cannot use it up. With
`AUTHKIT_EMAIL_LINK_SAME_BROWSER` (the default) the link works only in the browser that
asked for it; elsewhere it says where to open it.

Like the email code it is enumeration-safe: an unknown address gets the same page and
the same database work, and no mail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from ...audit import RequestMeta
from ...errors import CodeExpired, FlowError
from ...services import Services
from .. import email_codes
from ..attempts import Attempt, record_failure
from .base import FactorKind, FactorStrategy, Prepared, Proof, Used
from .email_code import send_step

__all__ = ["EmailLinkFactor", "LinkTarget", "find_link"]

PURPOSE = "sign_in_link"


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """The attempt a mailed link belongs to, and the address it went to."""

    attempt_id: str
    email: str


class EmailLinkFactor(FactorStrategy):
    name = "email_link"
    kind = FactorKind.FIRST
    needs_prepare = True
    fields = ("token",)

    async def prepare(
        self,
        svc: Services,
        s: AsyncSession,
        attempt: Attempt,
        meta: RequestMeta,
        *,
        again: bool = False,
    ) -> Prepared:
        return await send_step(
            svc,
            s,
            attempt,
            meta,
            purpose=PURPOSE,
            template="sign_in_link",
            again=again,
            with_link=True,
        )

    async def attempt(
        self, svc: Services, attempt: Attempt, fields: Mapping[str, str], meta: RequestMeta
    ) -> Proof:
        await svc.limiter.hit("code_verify:ip", meta.ip_address)
        row = await email_codes.find_by_token(svc, PURPOSE, fields.get("token", ""))
        step_id = attempt.state_of(self.name).get("step_id")
        if row is None or row.id != step_id or not email_codes.is_open(svc, row):
            raise CodeExpired()
        if attempt.user_id is None:
            # Nobody can hold the link of an unknown address (it was never sent).
            await record_failure(svc, attempt, meta, method=self.name, reason="unknown_email")
            raise CodeExpired()

        async def use(s: AsyncSession) -> Used:
            return Used(ok=await email_codes.consume(s, row.id, svc.clock()))

        return Proof(use=use)

    def refusal(self) -> FlowError:
        return CodeExpired()


async def find_link(svc: Services, token: str, meta: RequestMeta) -> LinkTarget | None:
    """
    The attempt an opened link belongs to, if the link is still good. Every lookup
    counts against the IP like a code entry: tokens cannot be guessed, but each guess
    would still cost a query.

    Raises:
        RateLimited: this IP has checked too many codes and links lately.
    """
    await svc.limiter.hit("code_verify:ip", meta.ip_address)
    row = await email_codes.find_by_token(svc, PURPOSE, token)
    if row is None or not email_codes.is_open(svc, row):
        return None
    attempt_id = row.payload.get("attempt_id")
    return LinkTarget(attempt_id, row.email) if isinstance(attempt_id, str) else None
