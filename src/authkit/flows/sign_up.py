"""
Sign-up: email + password (+ optional names) → a 6-digit code by email → the account and
its first session once the code is entered.

Nothing is created until the code proves the address. A sign-up with an address that
already has an account looks exactly the same to the visitor and mails the owner instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..addresses import Address, normalize_email
from ..audit import record_event
from ..errors import CodeExpired, CodeInvalid, FieldError, FlowError
from ..i18n.locales import current_locale
from ..ids import new_id
from ..security.breached import refuse_if_breached
from ..security.codes import is_code_shaped
from ..security.passwords import check_new_password
from ..services import Services
from ..sessions import RequestMeta, SessionStart, prepare_session
from ..store.models import EmailAddressRow, PasswordCredentialRow, UserRow, VerificationCodeRow
from ..users import clean_name
from . import email_codes, sign_up_access
from .attempts import Attempt
from .bot_check import BotEvidence, check_human
from .email_codes import RESEND_COOLDOWN
from .notices import compose
from .sign_in import complete_sign_in, defer_to_mfa_setup

__all__ = [
    "PURPOSE",
    "SignUpAttempt",
    "get_attempt",
    "resend_sign_up_code",
    "start_sign_up",
    "verify_sign_up",
]

PURPOSE = "sign_up"


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
    evidence: BotEvidence | None = None,
) -> SignUpAttempt:
    """
    Check the input, remember the attempt and mail a code. `evidence` is what the
    visitor's form carried for bot protection (None: not a visitor's form).

    Raises:
        FieldError: a field is wrong (the message goes beside it), or the form looks
            sent by a bot.
        RateLimited: too many sign-ups from this client lately.
    """
    if evidence is not None:
        # First: a bot's submission costs no password check, no hash and no mail.
        await check_human(svc, "sign_up", evidence, meta)
    address = normalize_email(email)
    required = svc.settings.name_fields == "required"
    names = ("", "")
    if svc.settings.name_fields != "off":
        names = (
            clean_name(first_name, field="first_name", required=required),
            clean_name(last_name, field="last_name", required=required),
        )
    check_new_password(svc.settings, password, email=address.email, names=names)
    await refuse_if_breached(
        password,
        api=svc.settings.breached_password_api,
        enabled=svc.settings.breached_password_check,
    )
    await svc.limiter.hit("sign_up:ip", meta.ip_address)
    # Who may sign up, before the password is hashed: a refused address costs no hash.
    await sign_up_access.gate(svc, address)
    await email_codes.count_send(svc, address.normalized, meta)
    # Hash whether or not the address is taken: both paths cost the same time.
    password_hash = await svc.hasher.hash(password)
    async with svc.db.session() as s:
        owner = (
            await s.exec(
                select(EmailAddressRow.email, UserRow.locale)
                .join(UserRow, col(UserRow.id) == col(EmailAddressRow.user_id))
                .where(col(EmailAddressRow.normalized) == address.normalized)
            )
        ).first()
        owner_email = owner[0] if owner is not None else None
        step = email_codes.issue(
            svc,
            s,
            purpose=PURPOSE,
            address=address,
            id_prefix="sua",
            payload=(
                {"taken": True}
                if owner_email is not None
                else {"password_hash": password_hash, "first_name": names[0], "last_name": names[1]}
            ),
        )
        record_event(s, "sign_up.started", at=svc.clock(), meta=meta, attempt_id=step.id)
        # Same page either way; only the owner of a taken address learns about this
        # attempt, at the address we hold for them, never at the one typed here.
        if owner_email is not None:
            # In the owner's language, not the one of whoever typed the address.
            locale = owner[1] if owner is not None else None
            message = compose(svc, "sign_up_existing", owner_email, code=step.code, locale=locale)
        else:
            message = compose(svc, "sign_up_code", address.email, code=step.code)
        mail_id = await svc.outbox.add(s, message, not_after=step.expires_at, about=step.id)
    svc.outbox.send_soon(mail_id)
    return _attempt(step.row)


async def get_attempt(svc: Services, attempt_id: str) -> SignUpAttempt | None:
    """The attempt if it is still open (not used, not expired, tries left)."""
    row = await email_codes.load(svc, attempt_id, PURPOSE)
    return _attempt(row) if row is not None else None


async def resend_sign_up_code(
    svc: Services, *, attempt_id: str, meta: RequestMeta
) -> SignUpAttempt:
    """
    Mail a new code for an open attempt. The count of wrong tries is kept, so asking
    for new codes never buys more guesses.

    Raises:
        CodeExpired: the attempt is gone.
        FlowError: `resend_too_soon` (with `seconds`) during the cooldown, or
            `too_many_codes` once `email_codes.MAX_SENDS` codes went out.
    """
    row = await email_codes.load(svc, attempt_id, PURPOSE)
    if row is None:
        raise CodeExpired()
    async with svc.db.session() as s:
        step = await email_codes.reissue(svc, s, row)
        await email_codes.count_send(svc, row.email_normalized, meta, within=s)
        record_event(s, "sign_up.code_resent", at=svc.clock(), meta=meta, attempt_id=row.id)
        # A taken address's owner was told once; no new mail, but the same work.
        message = compose(svc, "sign_up_code", row.email, code=step.code)
        mail_id = await svc.outbox.add(
            s,
            message,
            not_after=row.expires_at,
            about=row.id,
            deliver=not row.payload.get("taken"),
        )
    svc.outbox.send_soon(mail_id)
    return _attempt(step.row)


async def verify_sign_up(
    svc: Services, *, attempt_id: str, code: str, browser: str, meta: RequestMeta
) -> SessionStart | Attempt:
    """
    Check the code; on success create the user and start their first session. With
    `AUTHKIT_MFA=required` there is no session yet: the new account must set up its
    second factor first, and a sign-in attempt bound to `browser` (its CSRF secret) is
    returned, waiting for that set-up.

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
    row = await email_codes.load(svc, attempt_id, PURPOSE)
    if row is None:
        raise CodeExpired()
    async with svc.db.session() as s:
        # Claim a try before judging the code, atomically: parallel guesses can never
        # get more than MAX_CODE_ATTEMPTS answers between them.
        if not await email_codes.claim_try(s, row.id, now):
            raise CodeExpired()
    if not email_codes.code_matches(svc, row, code) or row.payload.get("taken"):
        async with svc.db.session() as s:
            record_event(s, "sign_up.code_failed", at=now, meta=meta, attempt_id=row.id)
        raise CodeInvalid()
    await prepare_session(svc)
    try:
        async with svc.db.session() as s:
            user_id = await _create_account(svc, s, row, now=now, meta=meta)
            if svc.settings.mfa == "required":
                return await defer_to_mfa_setup(
                    svc,
                    s,
                    user_id=user_id,
                    identifier=row.email,
                    first_factor=("email_code", now),
                    browser=browser,
                )
            # The code proved the address: the first session's first factor.
            return await complete_sign_in(
                svc,
                s,
                user_id=user_id,
                factors=[("email_code", now)],
                meta=meta,
                credential_generation=0,  # a new account's first
                event=None,
            )
    except IntegrityError:
        # The address got an account meanwhile (a parallel sign-up won): start again.
        raise CodeExpired() from None


async def _create_account(
    svc: Services, s: AsyncSession, row: VerificationCodeRow, *, now: datetime, meta: RequestMeta
) -> str:
    user_id = new_id("user")
    address = Address(email=row.email, normalized=row.email_normalized)
    try:
        # Again, now that the code proved the address: an invitation may have been
        # revoked, or sign-up closed, since the code was sent.
        await sign_up_access.gate(svc, address, within=s)
    except FlowError as refused:
        # Said above the code field: the page has no address field to put it beside.
        refused.field = None
        raise
    if not await email_codes.consume(s, row.id, now):
        raise CodeExpired()
    await sign_up_access.mark_invitation_used(svc, s, address.normalized)
    s.add(
        UserRow(
            id=user_id,
            first_name=row.payload.get("first_name", ""),
            last_name=row.payload.get("last_name", ""),
            created_at=now,
            updated_at=now,
            # The language of the page the account was made on: its emails' language.
            locale=current_locale(),
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


def _attempt(row: VerificationCodeRow) -> SignUpAttempt:
    return SignUpAttempt(row.id, row.email, (row.last_sent_at + RESEND_COOLDOWN).timestamp())
