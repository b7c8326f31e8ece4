"""
A user's email addresses: several per account, one primary (where mail goes and what
`User.email` shows). Signing in works with any verified one.

A new address is only an `add_email` step (a `verification_codes` row with a code mailed
to it) until its code comes back: an unverified address never holds a place in
`email_addresses`, so nobody can squat someone else's address by adding it. Adding one
that another account holds looks the same from here (a step, "we sent a code"), but the
code goes nowhere: only that account's owner hears about it, at the address we hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from ..addresses import normalize_email
from ..audit import record_event
from ..errors import CodeExpired, FieldError, FlowError, NotFound
from ..ids import new_id
from ..services import Services
from ..sessions import RequestMeta
from ..store.models import EmailAddressRow, VerificationCodeRow
from . import email_codes
from .notices import compose, user_locale

__all__ = [
    "MAX_ADDRESSES",
    "EmailAddress",
    "begin_adding_address",
    "list_addresses",
    "pending_address",
    "remove_address",
    "resend_address_code",
    "set_primary_address",
    "verify_added_address",
]

PURPOSE = "add_email"
#: Addresses (verified and pending) one account may have.
MAX_ADDRESSES = 10
#: A notice about a change is still worth sending this long after it.
NOTICE_LIFETIME = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class EmailAddress:
    """An address as the profile lists it."""

    id: str
    email: str
    is_primary: bool
    #: False while its code has not come back (a pending `add_email` step).
    is_verified: bool
    created_at: datetime


async def list_addresses(svc: Services, user_id: str) -> list[EmailAddress]:
    """The user's addresses, primary first, then verified ones, then pending ones."""
    now = svc.clock()
    async with svc.db.session() as s:
        rows = (
            await s.exec(
                select(EmailAddressRow)
                .where(col(EmailAddressRow.user_id) == user_id)
                .order_by(col(EmailAddressRow.is_primary).desc(), col(EmailAddressRow.created_at))
            )
        ).all()
        pending = (await s.exec(_pending_query(user_id, now))).all()
    return [
        EmailAddress(r.id, r.email, r.is_primary, r.verified_at is not None, r.created_at)
        for r in rows
    ] + [EmailAddress(p.id, p.email, False, False, p.created_at) for p in pending]


async def begin_adding_address(
    svc: Services, *, user_id: str, email: str, meta: RequestMeta
) -> EmailAddress:
    """
    Start adding `email`: a code goes to it (unless another account holds it, which the
    caller cannot tell). Asking again for a pending address mails a new code.

    Raises:
        FieldError: not an address, `email_already_yours`, or `too_many_addresses`.
        RateLimited: too many codes went out lately.
    """
    address = normalize_email(email)
    now = svc.clock()
    async with svc.db.session() as s:
        holder = (
            await s.exec(
                select(EmailAddressRow.user_id, EmailAddressRow.email).where(
                    col(EmailAddressRow.normalized) == address.normalized
                )
            )
        ).first()
        if holder is not None and holder[0] == user_id:
            raise FieldError("email_already_yours", field="email")
        pending = (await s.exec(_pending_query(user_id, now))).all()
        if any(p.email_normalized == address.normalized for p in pending):
            raise FieldError("email_already_pending", field="email")
        owned = (
            await s.exec(
                select(func.count())
                .select_from(EmailAddressRow)
                .where(col(EmailAddressRow.user_id) == user_id)
            )
        ).one()
        if owned + len(pending) >= MAX_ADDRESSES:
            raise FieldError("too_many_addresses", field="email", max=MAX_ADDRESSES)
        await email_codes.count_send(svc, address.normalized, meta, within=s)
        step = email_codes.issue(
            svc,
            s,
            purpose=PURPOSE,
            address=address,
            id_prefix="aea",
            payload={"user_id": user_id, "taken": holder is not None},
        )
        record_event(s, "email.add_started", at=now, meta=meta, user_id=user_id)
        if holder is None:
            message = compose(svc, "email_add_code", address.email, code=step.code)
        else:
            # The same page as any other address; the holder alone learns of it.
            message = compose(
                svc, "email_add_existing", holder[1], locale=await user_locale(s, holder[0])
            )
        mail_id = await svc.outbox.add(s, message, not_after=step.expires_at, about=step.id)
    svc.outbox.send_soon(mail_id)
    return EmailAddress(step.id, address.email, False, False, now)


async def pending_address(svc: Services, *, user_id: str, step_id: str) -> EmailAddress:
    """
    A pending address of this user (for its code page).

    Raises:
        NotFound: no such open step, or another user's.
    """
    row = await email_codes.load(svc, step_id, PURPOSE)
    if row is None or row.payload.get("user_id") != user_id:
        raise NotFound()
    return EmailAddress(row.id, row.email, False, False, row.created_at)


async def resend_address_code(
    svc: Services, *, user_id: str, step_id: str, meta: RequestMeta
) -> None:
    """
    Mail a new code for a pending address.

    Raises:
        NotFound: no such open step, or another user's.
        FlowError: `resend_too_soon` or `too_many_codes`.
        RateLimited: too many codes went out lately.
    """
    row = await email_codes.load(svc, step_id, PURPOSE)
    if row is None or row.payload.get("user_id") != user_id:
        raise NotFound()
    async with svc.db.session() as s:
        step = await email_codes.reissue(svc, s, row)
        await email_codes.count_send(svc, row.email_normalized, meta, within=s)
        if row.payload.get("taken"):
            return  # nothing goes out, as nothing went out the first time
        message = compose(svc, "email_add_code", row.email, code=step.code)
        mail_id = await svc.outbox.add(s, message, not_after=step.expires_at, about=step.id)
    svc.outbox.send_soon(mail_id)


async def verify_added_address(
    svc: Services, *, user_id: str, step_id: str, code: str, meta: RequestMeta
) -> EmailAddress:
    """
    Prove a pending address with its code: it becomes one of the user's verified
    addresses (not the primary).

    Raises:
        NotFound: no such step, or another user's.
        FieldError: `code_invalid` or `code_format`.
        CodeExpired: the step is used, expired or out of tries.
    """
    code = (code or "").replace(" ", "").replace("-", "")
    if not code.isdigit() or len(code) != 6:
        raise FieldError("code_format", field="code")
    now = svc.clock()
    async with svc.db.session() as s:
        row = await s.get(VerificationCodeRow, step_id)
        if row is None or row.purpose != PURPOSE or row.payload.get("user_id") != user_id:
            raise NotFound()
        if not await email_codes.claim_try(s, step_id, now):
            raise CodeExpired()
        # A taken address's code was never sent: no code can match it.
        matches = email_codes.code_matches(svc, row, code) and not row.payload.get("taken")
    if not matches:
        raise FieldError("code_invalid", field="code")
    address_id = new_id("email")
    try:
        async with svc.db.session() as s:
            if not await email_codes.consume(s, step_id, now):
                raise CodeExpired()
            s.add(
                EmailAddressRow(
                    id=address_id,
                    user_id=user_id,
                    email=row.email,
                    normalized=row.email_normalized,
                    is_primary=False,
                    verified_at=now,
                    created_at=now,
                )
            )
            record_event(
                s, "email.added", at=now, meta=meta, user_id=user_id, address_id=address_id
            )
    except IntegrityError:
        # Someone signed up with it after the code went out: it is theirs now.
        raise FlowError("email_unavailable", field="code") from None
    return EmailAddress(address_id, row.email, False, True, now)


async def set_primary_address(
    svc: Services, *, user_id: str, address_id: str, meta: RequestMeta
) -> None:
    """
    Make a verified address the primary one; the old primary is told by email.

    Raises:
        NotFound: no such verified address of this user.
    """
    now = svc.clock()
    async with svc.db.session() as s:
        rows = (
            await s.exec(select(EmailAddressRow).where(col(EmailAddressRow.user_id) == user_id))
        ).all()
        chosen = next((r for r in rows if r.id == address_id and r.verified_at), None)
        if chosen is None:
            raise NotFound()
        old = next((r for r in rows if r.is_primary), None)
        if old is None or old.id == chosen.id:
            return
        await s.exec(
            update(EmailAddressRow)
            .where(col(EmailAddressRow.user_id) == user_id)
            .values(is_primary=col(EmailAddressRow.id) == chosen.id)
        )
        record_event(
            s, "email.primary_changed", at=now, meta=meta, user_id=user_id, address_id=chosen.id
        )
        message = compose(
            svc,
            "email_primary_changed",
            old.email,
            new_email=chosen.email,
            locale=await user_locale(s, user_id),
        )
        mail_id = await svc.outbox.add(s, message, not_after=now + NOTICE_LIFETIME)
    svc.outbox.send_soon(mail_id)


async def remove_address(svc: Services, *, user_id: str, address_id: str, meta: RequestMeta) -> str:
    """
    Remove an address (a verified one, or a pending one) and return it. The primary
    address stays until another is made primary, so the last verified one never goes.

    Raises:
        NotFound: no such address of this user.
        FlowError: `email_remove_primary`.
    """
    now = svc.clock()
    async with svc.db.session() as s:
        pending = await s.get(VerificationCodeRow, address_id)
        if (
            pending is not None
            and pending.purpose == PURPOSE
            and pending.payload.get("user_id") == user_id
            and email_codes.is_open(svc, pending)
        ):
            await s.exec(
                delete(VerificationCodeRow).where(col(VerificationCodeRow.id) == address_id)
            )
            return pending.email
        row = await s.get(EmailAddressRow, address_id)
        if row is None or row.user_id != user_id:
            raise NotFound()
        if row.is_primary:
            raise FlowError("email_remove_primary")
        await s.exec(delete(EmailAddressRow).where(col(EmailAddressRow.id) == address_id))
        record_event(s, "email.removed", at=now, meta=meta, user_id=user_id, address_id=row.id)
        return row.email


def _pending_query(user_id: str, now: datetime) -> Any:
    return (
        select(VerificationCodeRow)
        .where(
            col(VerificationCodeRow.purpose) == PURPOSE,
            email_codes.payload_field("user_id") == user_id,
            col(VerificationCodeRow.consumed_at).is_(None),
            col(VerificationCodeRow.expires_at) > now,
        )
        .order_by(col(VerificationCodeRow.created_at))
    )
