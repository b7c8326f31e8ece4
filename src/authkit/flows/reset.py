"""
Password reset: an email address → a 6-digit code and a one-time link by email → a new
password once either one is proven, every session of the account ended, and a notice
mailed to the owner.

Asking looks the same whatever the address: an unknown (or banned) one gets an attempt
row of the same shape and no mail. A reset never signs anyone in (OWASP Forgot Password):
the owner signs in afterwards with the new password.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any, Literal

from sqlalchemy import update
from sqlmodel import col, select

from ..addresses import normalize_email
from ..audit import record_event
from ..email import render_email
from ..errors import CodeExpired, CodeInvalid, FieldError
from ..ids import new_id
from ..security.codes import MAX_CODE_ATTEMPTS, hash_code, is_code_shaped, new_code, verify_code
from ..security.passwords import check_password
from ..security.secrets import keyed_hash
from ..services import Services
from ..sessions import RequestMeta, revoke_all_sessions
from ..store.models import EmailAddressRow, PasswordCredentialRow, UserRow, VerificationCodeRow
from .sign_up import claim_code_try

__all__ = [
    "LINK_TOKEN_BYTES",
    "LINK_TOKEN_MAX_LENGTH",
    "PURPOSE",
    "ResetAttempt",
    "find_link",
    "get_attempt",
    "reset_with_code",
    "reset_with_link",
    "start_reset",
]

PURPOSE = "password_reset"
#: 256 bits of randomness in every reset link (SECURITY.md: link tokens ≥ 128 bits).
LINK_TOKEN_BYTES = 32
#: No token we mint is longer; anything longer is refused before hashing.
LINK_TOKEN_MAX_LENGTH = 100
#: A "your password changed" notice still worth sending after a mail outage.
NOTICE_LIFETIME = timedelta(days=1)

Method = Literal["code", "link"]


@dataclass(frozen=True, slots=True)
class ResetAttempt:
    id: str
    #: The address as the visitor typed it (normalized), never the stored spelling.
    email: str


async def start_reset(svc: Services, *, email: str, meta: RequestMeta) -> ResetAttempt:
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
    await svc.limiter.hit("code_send:ip", meta.ip_address)
    await svc.limiter.hit("code_send:account", address.normalized)
    now = svc.clock()
    attempt_id = new_id("rst")
    code = new_code()
    token = secrets.token_urlsafe(LINK_TOKEN_BYTES)
    expires_at = now + timedelta(seconds=svc.settings.code_lifetime)
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
        s.add(
            VerificationCodeRow(
                id=attempt_id,
                purpose=PURPOSE,
                email=address.email,
                email_normalized=address.normalized,
                code_hash=hash_code(svc.code_key, attempt_id, code),
                payload=(
                    {"user_id": found[0], "token_hash": _link_hash(svc, token)}
                    if found is not None
                    else {"unknown": True}
                ),
                created_at=now,
                last_sent_at=now,
                expires_at=expires_at,
            )
        )
        record_event(
            s,
            "password_reset.started",
            at=now,
            meta=meta,
            user_id=found[0] if found is not None else None,
            attempt_id=attempt_id,
        )
        # Rendered either way so both paths cost the same; only a real account gets mail.
        # Sent to the stored address, never the typed one (Django CVE-2019-19844).
        to = found[1] if found is not None else address.email
        message = _reset_mail(svc, to=to, code=code, token=token)
        mail_id = await svc.outbox.add(
            s, message, not_after=expires_at, about=attempt_id, deliver=found is not None
        )
    svc.outbox.send_soon(mail_id)
    return ResetAttempt(attempt_id, address.email)


async def get_attempt(svc: Services, attempt_id: str) -> ResetAttempt | None:
    """The attempt if it is still open (not used, not expired, tries left)."""
    async with svc.db.session() as s:
        row = await s.get(VerificationCodeRow, attempt_id)
    if row is None or row.purpose != PURPOSE or not _is_open(svc, row):
        return None
    return ResetAttempt(row.id, row.email)


async def find_link(svc: Services, token: str, meta: RequestMeta) -> ResetAttempt | None:
    """
    The attempt a reset link's token belongs to, if it is still open. Every lookup
    counts against the IP like a code entry: tokens cannot be guessed, but each
    guess would still cost a query.

    Raises:
        RateLimited: this IP has checked too many codes and links lately.
    """
    await svc.limiter.hit("code_verify:ip", meta.ip_address)
    row = await _row_for_token(svc, token)
    if row is None or not _is_open(svc, row):
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
    async with svc.db.session() as s:
        row = await s.get(VerificationCodeRow, attempt_id)
    if row is None or row.purpose != PURPOSE or not _is_open(svc, row):
        raise CodeExpired()
    if not is_code_shaped(code):
        raise FieldError("code_format", field="code")
    await svc.limiter.hit("code_verify:ip", meta.ip_address)
    # Rules first: a try is only counted when the whole form could have succeeded.
    _check_new_password(svc, row.email, password, password_confirm)
    now = svc.clock()
    async with svc.db.session() as s:
        # Claim a try before judging the code, atomically: parallel guesses can never
        # get more than MAX_CODE_ATTEMPTS answers between them.
        if not await claim_code_try(s, row.id, now):
            raise CodeExpired()
    is_right = verify_code(svc.code_key, row.id, code, row.code_hash)
    if not is_right or row.payload.get("unknown"):
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
    row = await _row_for_token(svc, token)
    if row is None or not _is_open(svc, row):
        raise CodeExpired()
    _check_new_password(svc, row.email, password, password_confirm)
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
        # Single use even under concurrent redemption: only one UPDATE can win.
        used = await s.exec(
            update(VerificationCodeRow)
            .where(
                col(VerificationCodeRow.id) == row.id,
                col(VerificationCodeRow.consumed_at).is_(None),
                col(VerificationCodeRow.expires_at) > now,
            )
            .values(consumed_at=now)
        )
        if used.rowcount != 1:
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
                _payload_field("user_id") == user_id,
            )
            .values(consumed_at=now)
        )
        # Whoever knew the old password is thrown out everywhere (ASVS 7.4.3), in the same
        # transaction as the new password; a stolen session token dies within its lifetime.
        await revoke_all_sessions(svc, user_id, within=s)
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
            s, _changed_mail(svc, owner), not_after=now + NOTICE_LIFETIME
        )
    svc.outbox.send_soon(mail_id)
    # The owner proved control of the address: throttling aimed at them ends here.
    await svc.limiter.clear("sign_in:account", row.email_normalized)


def _changed_mail(svc: Services, owner: str) -> EmailMessage:
    base = svc.settings.base_url.rstrip("/") + svc.mount_path
    context = {
        "app_name": svc.settings.app_name,
        "email": owner,
        "reset_url": f"{base}/forgot-password",
    }
    return render_email(
        svc.templates, "password_changed", context, sender=svc.settings.email_from, to=owner
    )


def _check_new_password(svc: Services, email: str, password: str, password_confirm: str) -> None:
    check_password(
        password,
        min_length=svc.settings.password_min_length,
        max_length=svc.settings.password_max_length,
        email=email,
        context_words=(svc.settings.app_name,),
    )
    if password != password_confirm:
        raise FieldError("password_mismatch", field="password_confirm")


async def _row_for_token(svc: Services, token: str) -> VerificationCodeRow | None:
    if not token or len(token) > LINK_TOKEN_MAX_LENGTH:
        return None
    async with svc.db.session() as s:
        return (
            await s.exec(
                select(VerificationCodeRow).where(
                    col(VerificationCodeRow.purpose) == PURPOSE,
                    _payload_field("token_hash") == _link_hash(svc, token),
                )
            )
        ).first()


def _payload_field(name: str) -> Any:
    return VerificationCodeRow.__table__.c.payload[name].as_string()  # type: ignore[attr-defined]


def _link_hash(svc: Services, token: str) -> str:
    # Keyed: a leaked table row gives no usable link, and since nobody without the secret
    # key can compute these hashes, looking one up by equality leaks nothing by timing.
    return keyed_hash(svc.code_key, PURPOSE, token)


def _is_open(svc: Services, row: VerificationCodeRow) -> bool:
    return (
        row.consumed_at is None
        and row.expires_at > svc.clock()
        and row.attempts < MAX_CODE_ATTEMPTS
    )


def _reset_mail(svc: Services, *, to: str, code: str, token: str) -> EmailMessage:
    # The link is built from the configured base URL, never the Host header: a forged
    # Host would otherwise send the token to an attacker's site.
    base = svc.settings.base_url.rstrip("/") + svc.mount_path
    context = {
        "app_name": svc.settings.app_name,
        "email": to,
        "code": code,
        "minutes": svc.settings.code_lifetime // 60,
        "reset_url": f"{base}/reset-password?token={token}",
        "sign_in_url": f"{base}/sign-in",
    }
    return render_email(
        svc.templates, "password_reset_code", context, sender=svc.settings.email_from, to=to
    )
