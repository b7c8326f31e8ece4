"""
Password reset: an email address → a 6-digit code and a one-time link by email → a new
password once either one is proven, every session of the account ended, and a notice
mailed to the owner.

Asking looks the same whatever the address: an unknown (or banned) one gets an attempt
row of the same shape and no mail. A reset never signs anyone in (OWASP Forgot Password):
the owner signs in afterwards with the new password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import update
from sqlmodel import col, select

from ..addresses import normalize_email
from ..audit import record_event
from ..errors import CodeExpired, CodeInvalid, FieldError
from ..security.breached import refuse_if_breached
from ..security.codes import is_code_shaped
from ..security.passwords import check_new_password
from ..services import Services
from ..sessions import RequestMeta, new_credential_generation
from ..store.models import EmailAddressRow, PasswordCredentialRow, UserRow, VerificationCodeRow
from . import email_codes
from .notices import compose, site_url, user_locale

__all__ = [
    "PURPOSE",
    "ResetAttempt",
    "find_link",
    "get_attempt",
    "reset_with_code",
    "reset_with_link",
    "start_reset",
]

PURPOSE = "password_reset"
#: A "your password changed" notice still worth sending after a mail outage.
NOTICE_LIFETIME = timedelta(days=1)

Method = Literal["code", "link"]


@dataclass(frozen=True, slots=True)
class ResetAttempt:
    id: str
    #: The address as the visitor typed it (normalized), never the stored spelling.
    email: str


async def start_reset(
    svc: Services, *, email: str, meta: RequestMeta, actor: str | None = None
) -> ResetAttempt:
    """
    Remember a reset attempt and, when the address belongs to an account, mail it a code
    and a one-time link.

    Raises:
        FieldError: the email is empty, too long or not an address.
    """
    address = normalize_email(email)
    # Mail bombing and probing: per sender and per address, known or not (same limits
    # either way, so the throttle reveals nothing).
    await svc.limiter.hit("reset:ip", meta.ip_address)
    await email_codes.count_send(svc, address.normalized, meta)
    async with svc.db.session() as s:
        found = (
            await s.exec(
                select(EmailAddressRow.user_id, EmailAddressRow.email)
                .join(UserRow, col(UserRow.id) == col(EmailAddressRow.user_id))
                .where(
                    col(EmailAddressRow.normalized) == address.normalized,
                    # A banned account must not get back in through a reset.
                    col(UserRow.banned_at).is_(None),
                )
            )
        ).first()
        step = email_codes.issue(
            svc,
            s,
            purpose=PURPOSE,
            address=address,
            id_prefix="rst",
            payload={"user_id": found[0]} if found is not None else {"unknown": True},
            with_link=True,
        )
        record_event(
            s,
            "password_reset.started",
            at=svc.clock(),
            meta=meta,
            user_id=found[0] if found is not None else None,
            attempt_id=step.id,
            actor=actor,
        )
        # Rendered either way so both paths cost the same; only a real account gets mail.
        # Sent to the stored address, never the typed one (Django CVE-2019-19844).
        to = found[1] if found is not None else address.email
        message = compose(
            svc,
            "password_reset_code",
            to,
            code=step.code,
            reset_url=site_url(svc, f"/reset-password?link=1#token={step.token}"),
        )
        mail_id = await svc.outbox.add(
            s, message, not_after=step.expires_at, about=step.id, deliver=found is not None
        )
    svc.outbox.send_soon(mail_id)
    return ResetAttempt(step.id, address.email)


async def get_attempt(svc: Services, attempt_id: str) -> ResetAttempt | None:
    """The attempt if it is still open (not used, not expired, tries left)."""
    row = await email_codes.load(svc, attempt_id, PURPOSE)
    return ResetAttempt(row.id, row.email) if row is not None else None


async def find_link(svc: Services, token: str, meta: RequestMeta) -> ResetAttempt | None:
    """
    The attempt a reset link's token belongs to, if it is still open. Every lookup
    counts against the IP like a code entry: tokens cannot be guessed, but each
    guess would still cost a query.

    Raises:
        RateLimited: this IP has checked too many codes and links lately.
    """
    await svc.limiter.hit("code_verify:ip", meta.ip_address)
    row = await email_codes.find_by_token(svc, PURPOSE, token)
    if row is None or not email_codes.is_open(svc, row):
        return None
    return ResetAttempt(row.id, row.email)


async def reset_with_code(
    svc: Services,
    *,
    attempt_id: str,
    code: str,
    password: str,
    password_confirm: str,
    meta: RequestMeta,
) -> None:
    """
    Check the code and the new password; on success set the password, end every
    session of the account and mail the owner. Nobody is signed in.

    Raises:
        FieldError: `code_format` (code), a password rule (password) or
            `password_mismatch` (password_confirm).
        CodeInvalid: a wrong code (the try is counted).
        CodeExpired: the attempt is used, expired, out of tries or unknown.
    """
    code = code.strip().replace(" ", "")
    row = await email_codes.load(svc, attempt_id, PURPOSE)
    if row is None:
        raise CodeExpired()
    if not is_code_shaped(code):
        raise FieldError("code_format", field="code")
    await svc.limiter.hit("code_verify:ip", meta.ip_address)
    # Rules first: a try is only counted when the whole form could have succeeded.
    await _check_new_password(svc, row.email, password, password_confirm)
    now = svc.clock()
    async with svc.db.session() as s:
        # Claim a try before judging the code, atomically: parallel guesses can never
        # get more than MAX_CODE_ATTEMPTS answers between them.
        if not await email_codes.claim_try(s, row.id, now):
            raise CodeExpired()
    if not email_codes.code_matches(svc, row, code) or row.payload.get("unknown"):
        async with svc.db.session() as s:
            record_event(s, "password_reset.code_failed", at=now, meta=meta, attempt_id=row.id)
        raise CodeInvalid()
    await _complete(svc, row, password, method="code", meta=meta)


async def reset_with_link(
    svc: Services, *, token: str, password: str, password_confirm: str, meta: RequestMeta
) -> None:
    """
    Like `reset_with_code`, proven by the token of the mailed link instead of the code.

    Raises:
        FieldError: a password rule (password) or `password_mismatch` (password_confirm).
        CodeExpired: the link is unknown, used or expired.
    """
    await svc.limiter.hit("code_verify:ip", meta.ip_address)
    row = await email_codes.find_by_token(svc, PURPOSE, token)
    if row is None or not email_codes.is_open(svc, row):
        raise CodeExpired()
    await _check_new_password(svc, row.email, password, password_confirm)
    await _complete(svc, row, password, method="link", meta=meta)


async def _complete(
    svc: Services, row: VerificationCodeRow, password: str, *, method: Method, meta: RequestMeta
) -> None:
    user_id = row.payload.get("user_id")
    if not isinstance(user_id, str):
        raise CodeExpired()
    password_hash = await svc.hasher.hash(password)
    now = svc.clock()
    async with svc.db.session() as s:
        if not await email_codes.consume(s, row.id, now):
            raise CodeExpired()
        owner = (
            await s.exec(
                select(EmailAddressRow.email)
                .join(UserRow, col(UserRow.id) == col(EmailAddressRow.user_id))
                .where(
                    col(EmailAddressRow.normalized) == row.email_normalized,
                    col(EmailAddressRow.user_id) == user_id,
                    col(UserRow.banned_at).is_(None),
                )
            )
        ).first()
        if owner is None:
            # The address left the account (or the account was banned or deleted) since
            # the mail went out: the reset must not reach whoever holds it now.
            raise CodeExpired()
        changed = await s.exec(
            update(PasswordCredentialRow)
            .where(col(PasswordCredentialRow.user_id) == user_id)
            .values(password_hash=password_hash, updated_at=now)
        )
        if changed.rowcount == 0:
            s.add(
                PasswordCredentialRow(user_id=user_id, password_hash=password_hash, updated_at=now)
            )
        # Every other open code and link for this account dies too: a stale mail must not
        # be able to change the password again.
        await s.exec(
            update(VerificationCodeRow)
            .where(
                col(VerificationCodeRow.purpose) == PURPOSE,
                col(VerificationCodeRow.consumed_at).is_(None),
                email_codes.payload_field("user_id") == user_id,
            )
            .values(consumed_at=now)
        )
        # Whoever knew the old password is thrown out everywhere (ASVS 7.4.3), in the same
        # transaction as the new password; a stolen session token dies within its lifetime.
        await new_credential_generation(svc, s, user_id)
        record_event(
            s,
            "password.reset",
            at=now,
            meta=meta,
            user_id=user_id,
            attempt_id=row.id,
            method=method,
        )
        # The notice is committed with the change: a crash cannot change a password
        # silently.
        mail_id = await svc.outbox.add(
            s,
            compose(svc, "password_changed", owner, locale=await user_locale(s, user_id)),
            not_after=now + NOTICE_LIFETIME,
        )
    svc.outbox.send_soon(mail_id)
    # The owner proved control of the address: throttling aimed at them ends here.
    await svc.limiter.clear("sign_in:account", row.email_normalized)


async def _check_new_password(
    svc: Services, email: str, password: str, password_confirm: str
) -> None:
    check_new_password(svc.settings, password, email=email)
    if password != password_confirm:
        raise FieldError("password_mismatch", field="password_confirm")
    # Last: the one rule that asks another service.
    await refuse_if_breached(
        password,
        api=svc.settings.breached_password_api,
        enabled=svc.settings.breached_password_check,
    )
