"""
The `email_code` factor (first): a 6-digit code mailed to the address, entered on the
next page. Passwordless, and enumeration-safe: an unknown address gets the same page and
the same database work, and no mail. Entering codes is throttled like passwords (per IP
and per address), each code allows `MAX_CODE_ATTEMPTS` tries and works once, and asking
for a new code keeps the count of wrong tries.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from math import ceil
from typing import NoReturn

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ...addresses import Address, comparison_form
from ...audit import RequestMeta
from ...errors import CodeExpired, CodeInvalid, FieldError, FlowError
from ...security.codes import is_code_shaped
from ...services import Services
from ...store.models import EmailAddressRow, VerificationCodeRow
from .. import email_codes
from ..attempts import Attempt, record_failure
from ..notices import compose, site_url
from .base import FactorKind, FactorStrategy, Prepared, Proof, Used

__all__ = ["EmailCodeFactor", "deliverable_address", "send_step"]

PURPOSE = "sign_in_code"


class EmailCodeFactor(FactorStrategy):
    name = "email_code"
    kind = FactorKind.FIRST
    needs_prepare = True
    fields = ("code",)

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
            svc, s, attempt, meta, purpose=PURPOSE, template="sign_in_code", again=again
        )

    async def attempt(
        self, svc: Services, attempt: Attempt, fields: Mapping[str, str], meta: RequestMeta
    ) -> Proof:
        code = "".join(fields.get("code", "").split())
        if not is_code_shaped(code):
            raise FieldError("code_format", field="code")
        # Throttled like a password: per IP and per address, known or not.
        await svc.limiter.hit("sign_in:ip", meta.ip_address)
        await svc.limiter.hit("sign_in:account", comparison_form(attempt.identifier))
        step_id = attempt.state_of(self.name).get("step_id")
        row = await email_codes.load(svc, step_id, PURPOSE) if isinstance(step_id, str) else None
        if row is None:
            raise CodeExpired()
        now = svc.clock()
        async with svc.db.session() as s:
            # Claimed before the code is judged: parallel guesses share the tries.
            if not await email_codes.claim_try(s, row.id, now):
                raise CodeExpired()
        if not email_codes.code_matches(svc, row, code) or attempt.user_id is None:
            await self._failed(svc, attempt, meta)
        if not attempt.user_is_banned:
            await svc.limiter.clear("sign_in:account", comparison_form(attempt.identifier))

        async def use(s: AsyncSession) -> Used:
            return Used(ok=await email_codes.consume(s, row.id, svc.clock()))

        return Proof(use=use)

    def refusal(self) -> FlowError:
        return CodeInvalid()

    async def _failed(self, svc: Services, attempt: Attempt, meta: RequestMeta) -> NoReturn:
        await record_failure(svc, attempt, meta, method=self.name, reason="wrong_code")
        raise CodeInvalid()


async def deliverable_address(s: AsyncSession, attempt: Attempt) -> str | None:
    """The stored spelling of the attempt's address, when mail may go there: the address
    belongs to the account and the account is not banned."""
    if attempt.user_id is None or attempt.user_is_banned:
        return None
    return (
        await s.exec(
            select(EmailAddressRow.email).where(
                col(EmailAddressRow.user_id) == attempt.user_id,
                col(EmailAddressRow.normalized) == comparison_form(attempt.identifier),
                col(EmailAddressRow.verified_at).is_not(None),
            )
        )
    ).first()


async def send_step(
    svc: Services,
    s: AsyncSession,
    attempt: Attempt,
    meta: RequestMeta,
    *,
    purpose: str,
    template: str,
    again: bool,
    with_link: bool = False,
) -> Prepared:
    """
    Mail the attempt's code (or link): a fresh step, or a new code on the step already
    sent when `again`, or nothing new when one is still open. Returns the state to keep
    (the step's id, when its last code went) and the outbox message to send after the
    commit.

    An unknown or banned account gets exactly the same work, with a message that is
    written but never delivered.
    """
    strategy_state = attempt.state_of("email_link" if with_link else "email_code")
    step_id = strategy_state.get("step_id")
    row = await s.get(VerificationCodeRow, step_id) if isinstance(step_id, str) else None
    if row is not None and email_codes.is_open(svc, row) and not again:
        return Prepared(state={"step_id": row.id, "sent_at": row.last_sent_at.timestamp()})
    address = Address(email=attempt.identifier, normalized=comparison_form(attempt.identifier))
    if row is not None and email_codes.is_open(svc, row):
        # The cooldown and the cap are checked in the UPDATE that counts the send.
        issued = await email_codes.reissue(svc, s, row, with_link=with_link)
    else:
        remaining = attempt.expires_at - svc.clock()
        issued = email_codes.issue(
            svc,
            s,
            purpose=purpose,
            address=address,
            payload={"attempt_id": attempt.id},
            id_prefix="sic",
            with_link=with_link,
            lifetime=min(remaining, timedelta(seconds=svc.settings.code_lifetime)),
        )
    # Mail bombing: every send counts against the address and the sender (a refusal
    # rolls the step back with the transaction).
    await email_codes.count_send(svc, address.normalized, meta, within=s)
    owner = await deliverable_address(s, attempt)
    # Rendered either way, so both paths cost the same; only a real account gets mail,
    # at the address we hold, never the spelling typed here (Django CVE-2019-19844).
    to = owner or address.email
    # The token rides in the fragment, which browsers never send: it stays out of every
    # request line a server or proxy logs (web/mailed_links.py hands it over).
    link = site_url(svc, f"/sign-in/link#token={issued.token}") if issued.token else None
    # The step's own end (it never outlives the attempt; a new code keeps the old end).
    minutes = max(1, ceil((issued.expires_at - svc.clock()).total_seconds() / 60))
    message = compose(svc, template, to, code=issued.code, link=link, minutes=minutes)
    mail_id = await svc.outbox.add(
        s, message, not_after=issued.expires_at, about=issued.id, deliver=owner is not None
    )
    return Prepared(
        state={"step_id": issued.id, "sent_at": issued.row.last_sent_at.timestamp()},
        mail_ids=(mail_id,),
    )
