"""
Sign-up: email + password (+ optional names) → a 6-digit code by email → the account and
its first session once the code is entered.

Nothing is created until the code proves the address. A sign-up with an address that
already has an account looks exactly the same to the visitor and mails the owner instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from math import ceil

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..addresses import normalize_email
from ..audit import record_event
from ..email import render_email
from ..errors import CodeExpired, CodeInvalid, FieldError, FlowError
from ..ids import new_id
from ..security.codes import MAX_CODE_ATTEMPTS, hash_code, is_code_shaped, new_code, verify_code
from ..security.passwords import check_password
from ..services import Services
from ..sessions import RequestMeta, SessionStart, create_session
from ..store.models import (
    EmailAddressRow,
    PasswordCredentialRow,
    UserRow,
    VerificationCodeRow,
)
from ..users import clean_name

__all__ = [
    "PURPOSE",
    "RESEND_COOLDOWN",
    "SignUpAttempt",
    "claim_code_try",
    "get_attempt",
    "resend_sign_up_code",
    "start_sign_up",
    "verify_sign_up",
]

PURPOSE = "sign_up"
#: Wait this long between two codes for one attempt; each attempt sends at most MAX_SENDS.
RESEND_COOLDOWN = timedelta(seconds=30)
MAX_SENDS = 5


@dataclass(frozen=True, slots=True)
class SignUpAttempt:
    id: str
    email: str
    #: When the next code may be asked for.
    can_resend_at: float


async def start_sign_up(
    svc: Services,
    *,
    email: str,
    password: str,
    first_name: str | None = None,
    last_name: str | None = None,
    meta: RequestMeta,
) -> SignUpAttempt:
    """
    Check the input, remember the attempt and mail a code.

    Raises:
        FieldError: a field is wrong (the message goes beside it).
    """
    address = normalize_email(email)
    required = svc.settings.name_fields == "required"
    names = ("", "")
    if svc.settings.name_fields != "off":
        names = (
            clean_name(first_name, field="first_name", required=required),
            clean_name(last_name, field="last_name", required=required),
        )
    check_password(
        password,
        min_length=svc.settings.password_min_length,
        max_length=svc.settings.password_max_length,
        email=address.email,
        context_words=(svc.settings.app_name,),
    )
    await svc.limiter.hit("sign_up:ip", meta.ip_address)
    await _count_send(svc, address.normalized, meta)
    # Hash whether or not the address is taken: both paths cost the same time.
    password_hash = await svc.hasher.hash(password)
    now = svc.clock()
    attempt_id = new_id("sua")
    code = new_code()
    async with svc.db.session() as s:
        owner_email = (
            await s.exec(
                select(EmailAddressRow.email).where(
                    col(EmailAddressRow.normalized) == address.normalized
                )
            )
        ).first()
        taken = owner_email is not None
        expires_at = now + timedelta(seconds=svc.settings.code_lifetime)
        s.add(
            VerificationCodeRow(
                id=attempt_id,
                purpose=PURPOSE,
                email=address.email,
                email_normalized=address.normalized,
                code_hash=hash_code(svc.code_key, attempt_id, code),
                payload=(
                    {"taken": True}
                    if taken
                    else {
                        "password_hash": password_hash,
                        "first_name": names[0],
                        "last_name": names[1],
                    }
                ),
                created_at=now,
                last_sent_at=now,
                expires_at=expires_at,
            )
        )
        record_event(s, "sign_up.started", at=now, meta=meta, attempt_id=attempt_id)
        # Same page either way; only the owner of a taken address learns about this
        # attempt, at the address we hold for them, never at the one typed here.
        if owner_email is not None:
            message = _code_mail(svc, "sign_up_existing", owner_email, code)
        else:
            message = _code_mail(svc, "sign_up_code", address.email, code)
        mail_id = await svc.outbox.add(s, message, not_after=expires_at, about=attempt_id)
    svc.outbox.send_soon(mail_id)
    return SignUpAttempt(attempt_id, address.email, (now + RESEND_COOLDOWN).timestamp())


async def get_attempt(svc: Services, attempt_id: str) -> SignUpAttempt | None:
    """The attempt if it is still open (not used, not expired, tries left)."""
    async with svc.db.session() as s:
        row = await s.get(VerificationCodeRow, attempt_id)
    if row is None or not _is_open(svc, row):
        return None
    return SignUpAttempt(row.id, row.email, (row.last_sent_at + RESEND_COOLDOWN).timestamp())


async def resend_sign_up_code(
    svc: Services, *, attempt_id: str, meta: RequestMeta
) -> SignUpAttempt:
    """
    Mail a new code for an open attempt. The count of wrong tries is kept, so asking
    for new codes never buys more guesses.

    Raises:
        CodeExpired: the attempt is gone.
        FlowError: `resend_too_soon` (with `seconds`) during the cooldown, or
            `too_many_codes` once MAX_SENDS codes went out.
    """
    now = svc.clock()
    code = new_code()
    async with svc.db.session() as s:
        row = await s.get(VerificationCodeRow, attempt_id)
        if row is None or not _is_open(svc, row):
            raise CodeExpired()
        wait = row.last_sent_at + RESEND_COOLDOWN - now
        if wait > timedelta(0):
            raise FlowError("resend_too_soon", field="code", seconds=ceil(wait.total_seconds()))
        if row.sends >= MAX_SENDS:
            raise FlowError("too_many_codes", field="code")
        await _count_send(svc, row.email_normalized, meta)
        row.code_hash = hash_code(svc.code_key, row.id, code)
        row.sends += 1
        row.last_sent_at = now
        s.add(row)
        record_event(s, "sign_up.code_resent", at=now, meta=meta, attempt_id=row.id)
        # A taken address's owner was told once; no new mail, but the same work.
        message = _code_mail(svc, "sign_up_code", row.email, code)
        mail_id = await svc.outbox.add(
            s,
            message,
            not_after=row.expires_at,
            about=row.id,
            deliver=not row.payload.get("taken"),
        )
    svc.outbox.send_soon(mail_id)
    return SignUpAttempt(row.id, row.email, (now + RESEND_COOLDOWN).timestamp())


async def verify_sign_up(
    svc: Services, *, attempt_id: str, code: str, meta: RequestMeta
) -> SessionStart:
    """
    Check the code; on success create the user and start their first session.

    Raises:
        FieldError: `code_format` when the input is not six digits.
        CodeInvalid: a wrong code (the try is counted).
        CodeExpired: the attempt is used, expired, out of tries or unknown.
    """
    code = code.strip().replace(" ", "")
    if not is_code_shaped(code):
        raise FieldError("code_format", field="code")
    await svc.limiter.hit("code_verify:ip", meta.ip_address)
    now = svc.clock()
    async with svc.db.session() as s:
        row = await s.get(VerificationCodeRow, attempt_id)
        if row is None or row.purpose != PURPOSE or not _is_open(svc, row):
            raise CodeExpired()
        # Claim a try before judging the code, atomically: parallel guesses can never
        # get more than MAX_CODE_ATTEMPTS answers between them.
        if not await claim_code_try(s, row.id, now):
            raise CodeExpired()
    is_right = verify_code(svc.code_key, row.id, code, row.code_hash)
    if not is_right or row.payload.get("taken"):
        async with svc.db.session() as s:
            record_event(s, "sign_up.code_failed", at=now, meta=meta, attempt_id=row.id)
        raise CodeInvalid()
    try:
        user_id = await _create_account(svc, row, now=now, meta=meta)
    except IntegrityError:
        # The address got an account meanwhile (a parallel sign-up won): start again.
        raise CodeExpired() from None
    return await create_session(svc, user_id=user_id, meta=meta)


async def _create_account(
    svc: Services, row: VerificationCodeRow, *, now: datetime, meta: RequestMeta
) -> str:
    user_id = new_id("user")
    async with svc.db.session() as s:
        # Single use even under concurrent redemption: only one UPDATE can win.
        used = await s.exec(
            update(VerificationCodeRow)
            .where(
                col(VerificationCodeRow.id) == row.id,
                col(VerificationCodeRow.consumed_at).is_(None),
            )
            .values(consumed_at=now)
        )
        if used.rowcount != 1:
            raise CodeExpired()
        s.add(
            UserRow(
                id=user_id,
                first_name=row.payload.get("first_name", ""),
                last_name=row.payload.get("last_name", ""),
                created_at=now,
                updated_at=now,
            )
        )
        await s.flush()
        s.add(
            EmailAddressRow(
                id=new_id("email"),
                user_id=user_id,
                email=row.email,
                normalized=row.email_normalized,
                is_primary=True,
                verified_at=now,
                created_at=now,
            )
        )
        s.add(
            PasswordCredentialRow(
                user_id=user_id, password_hash=row.payload["password_hash"], updated_at=now
            )
        )
        record_event(s, "sign_up.completed", at=now, meta=meta, user_id=user_id, method="code")
    return user_id


async def claim_code_try(s: AsyncSession, attempt_id: str, now: datetime) -> bool:
    """
    Count one try at an attempt's code in the open transaction; False when none is left
    (used up, consumed or expired). Shared by every flow that checks an emailed code.
    """
    claimed = await s.exec(
        update(VerificationCodeRow)
        .where(
            col(VerificationCodeRow.id) == attempt_id,
            col(VerificationCodeRow.attempts) < MAX_CODE_ATTEMPTS,
            col(VerificationCodeRow.consumed_at).is_(None),
            col(VerificationCodeRow.expires_at) > now,
        )
        .values(attempts=col(VerificationCodeRow.attempts) + 1)
    )
    return claimed.rowcount == 1


async def _count_send(svc: Services, normalized_email: str, meta: RequestMeta) -> None:
    # Mail bombing: a cap per address and per sender on codes sent.
    await svc.limiter.hit("code_send:ip", meta.ip_address)
    await svc.limiter.hit("code_send:account", normalized_email)


def _is_open(svc: Services, row: VerificationCodeRow) -> bool:
    return (
        row.consumed_at is None
        and row.expires_at > svc.clock()
        and row.attempts < MAX_CODE_ATTEMPTS
    )


def _code_mail(svc: Services, template: str, to: str, code: str) -> EmailMessage:
    base = svc.settings.base_url.rstrip("/") + svc.mount_path
    context = {
        "app_name": svc.settings.app_name,
        "email": to,
        "code": code,
        "minutes": svc.settings.code_lifetime // 60,
        "sign_in_url": f"{base}/sign-in",
        "reset_url": f"{base}/forgot-password",
    }
    return render_email(svc.templates, template, context, sender=svc.settings.email_from, to=to)
