"""
Two-step verification, managed by its owner: set up an authenticator app (a secret
shown as a QR code, as text and as an `otpauth://` link, confirmed by a first code),
ten recovery codes shown once and regenerated on request, and turning it all off.

Setting up happens from the profile's security page (after "Confirm it's you") or,
with `AUTHKIT_MFA=required`, during a sign-in before its session exists. Each change is
audited and mailed to the owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..audit import RequestMeta, record_event
from ..errors import CodeInvalid, FieldError, FlowError
from ..ids import new_id
from ..security.codes import is_code_shaped
from ..security.recovery_codes import hash_recovery_code, new_recovery_codes
from ..security.totp import (
    decrypt_secret,
    encrypt_secret,
    matching_step,
    new_secret,
    provisioning_uri,
    qr_svg,
)
from ..services import Services
from ..store.models import AuthenticatorRow, EmailAddressRow, RecoveryCodeRow, SessionRow
from .factors.recovery_code import unused_recovery_codes
from .factors.totp import TOTP_KIND, confirmed_totp
from .notices import compose

__all__ = [
    "MfaStatus",
    "PendingTotp",
    "TotpSetup",
    "begin_totp_setup",
    "enable_totp",
    "judge_totp_setup",
    "mfa_status",
    "regenerate_recovery_codes",
    "turn_off_mfa",
    "turn_on_totp",
]

#: A notice of a security change is still worth sending this long after.
NOTICE_LIFETIME = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class MfaStatus:
    totp_enabled: bool
    totp_since: datetime | None
    recovery_codes_left: int

    @property
    def is_enabled(self) -> bool:
        return self.totp_enabled


@dataclass(frozen=True, slots=True)
class TotpSetup:
    """What the set-up page shows: the secret three ways."""

    secret: str
    uri: str
    qr_svg: str

    @property
    def secret_groups(self) -> str:
        """The secret in groups of four, easier to type."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


@dataclass(frozen=True, slots=True)
class PendingTotp:
    """A set-up code judged right: the pending authenticator and the code's time step."""

    authenticator_id: str
    step: int


async def mfa_status(svc: Services, user_id: str) -> MfaStatus:
    async with svc.db.session() as s:
        totp = await confirmed_totp(s, user_id)
        left = await unused_recovery_codes(s, user_id)
    return MfaStatus(
        totp_enabled=totp is not None,
        totp_since=totp.confirmed_at if totp else None,
        recovery_codes_left=left,
    )


async def begin_totp_setup(svc: Services, *, user_id: str, account: str) -> TotpSetup:
    """
    The secret to scan: the pending one if a set-up is under way (so a page shown again
    after a wrong code shows the same QR code), else a new one.

    Raises:
        FlowError: `totp_exists` when an authenticator app is already set up.
    """
    async with svc.db.session() as s:
        if await confirmed_totp(s, user_id) is not None:
            raise FlowError("totp_exists")
        pending = await _pending(s, user_id)
        secret = decrypt_secret(svc.totp_key, pending.secret_encrypted) if pending else None
        if secret is None:
            await s.exec(delete(AuthenticatorRow).where(*_pending_of(user_id)))
            secret = new_secret()
            s.add(
                AuthenticatorRow(
                    id=new_id("mfa"),
                    user_id=user_id,
                    kind=TOTP_KIND,
                    name="Authenticator app",
                    secret_encrypted=encrypt_secret(svc.totp_key, secret),
                    created_at=svc.clock(),
                )
            )
    uri = provisioning_uri(secret, account=account, issuer=svc.settings.app_name)
    title = svc.messages("totp_qr_title")
    return TotpSetup(secret=secret, uri=uri, qr_svg=qr_svg(uri, title=title))


async def judge_totp_setup(
    svc: Services, *, user_id: str, code: str, meta: RequestMeta
) -> PendingTotp:
    """
    Check the first code of a pending set-up. Throttled with the other second factors.

    Raises:
        FieldError: `code_format` when the code is not six digits.
        CodeInvalid: the code is wrong.
        FlowError: `totp_setup_expired` when no set-up is pending.
    """
    code = "".join(code.split())
    if not is_code_shaped(code):
        raise FieldError("totp_format", field="code")
    await svc.limiter.hit("mfa:ip", meta.ip_address)
    await svc.limiter.hit("mfa:account", user_id)
    async with svc.db.session() as s:
        pending = await _pending(s, user_id)
    secret = decrypt_secret(svc.totp_key, pending.secret_encrypted) if pending else None
    if pending is None or secret is None:
        raise FlowError("totp_setup_expired")
    step = matching_step(secret, code, svc.clock())
    if step is None:
        raise CodeInvalid("totp_invalid")
    await svc.limiter.clear("mfa:account", user_id)
    return PendingTotp(pending.id, step)


async def enable_totp(
    svc: Services,
    s: AsyncSession,
    pending: PendingTotp,
    *,
    user_id: str,
    meta: RequestMeta,
    session_id: str | None = None,
) -> tuple[list[str], str | None]:
    """
    Confirm the pending authenticator and make a fresh set of recovery codes, in the
    open transaction `s`. Returns the codes (shown once) and the notice to send after
    the commit (None when the user has no address to mail).

    Raises:
        FlowError: `totp_setup_expired` when the set-up was confirmed or replaced meanwhile.
    """
    now = svc.clock()
    confirmed = await s.exec(
        update(AuthenticatorRow)
        .where(
            col(AuthenticatorRow.id) == pending.authenticator_id,
            col(AuthenticatorRow.confirmed_at).is_(None),
        )
        .values(confirmed_at=now, last_used_at=now, last_used_step=pending.step)
    )
    if confirmed.rowcount != 1:
        raise FlowError("totp_setup_expired")
    codes = await _replace_recovery_codes(svc, s, user_id)
    if session_id is not None:
        # The first code proves the app: this session has just verified a second factor.
        await s.exec(
            update(SessionRow)
            .where(col(SessionRow.id) == session_id, col(SessionRow.user_id) == user_id)
            .values(second_factor_at=now)
        )
    record_event(s, "mfa.enabled", at=now, meta=meta, user_id=user_id, method="totp")
    mail_id = await _notice(svc, s, user_id, "mfa_enabled")
    return codes, mail_id


async def turn_on_totp(
    svc: Services, *, user_id: str, session_id: str, code: str, meta: RequestMeta
) -> list[str]:
    """
    Confirm the pending set-up from the profile: the app is on, and the recovery codes
    to show once are returned.

    Raises:
        FieldError, CodeInvalid, FlowError: as `judge_totp_setup` and `enable_totp`.
    """
    pending = await judge_totp_setup(svc, user_id=user_id, code=code, meta=meta)
    async with svc.db.session() as s:
        codes, mail_id = await enable_totp(
            svc, s, pending, user_id=user_id, meta=meta, session_id=session_id
        )
    if mail_id is not None:
        svc.outbox.send_soon(mail_id)
    return codes


async def regenerate_recovery_codes(svc: Services, *, user_id: str, meta: RequestMeta) -> list[str]:
    """
    A new set of ten recovery codes; the old ones stop working.

    Raises:
        FlowError: `mfa_off` when two-step verification is not on.
    """
    async with svc.db.session() as s:
        if await confirmed_totp(s, user_id) is None:
            raise FlowError("mfa_off")
        codes = await _replace_recovery_codes(svc, s, user_id)
        record_event(s, "recovery_codes.regenerated", at=svc.clock(), meta=meta, user_id=user_id)
    return codes


async def turn_off_mfa(svc: Services, *, user_id: str, meta: RequestMeta) -> None:
    """
    Remove the authenticator app and every recovery code.

    Raises:
        FlowError: `mfa_required` when the site requires two-step verification, or
            `mfa_off` when it is not on.
    """
    if svc.settings.mfa == "required":
        raise FlowError("mfa_required")
    async with svc.db.session() as s:
        removed = await s.exec(
            delete(AuthenticatorRow).where(
                col(AuthenticatorRow.user_id) == user_id, col(AuthenticatorRow.kind) == TOTP_KIND
            )
        )
        await s.exec(delete(RecoveryCodeRow).where(col(RecoveryCodeRow.user_id) == user_id))
        if not removed.rowcount:
            raise FlowError("mfa_off")
        record_event(s, "mfa.disabled", at=svc.clock(), meta=meta, user_id=user_id, method="totp")
        mail_id = await _notice(svc, s, user_id, "mfa_disabled")
    if mail_id is not None:
        svc.outbox.send_soon(mail_id)


async def _replace_recovery_codes(svc: Services, s: AsyncSession, user_id: str) -> list[str]:
    now = svc.clock()
    await s.exec(delete(RecoveryCodeRow).where(col(RecoveryCodeRow.user_id) == user_id))
    codes = new_recovery_codes()
    for code in codes:
        s.add(
            RecoveryCodeRow(
                id=new_id("rc"),
                user_id=user_id,
                code_hash=hash_recovery_code(svc.recovery_key, user_id, code),
                created_at=now,
            )
        )
    return codes


async def _notice(svc: Services, s: AsyncSession, user_id: str, template: str) -> str | None:
    owner = (
        await s.exec(
            select(EmailAddressRow.email).where(
                col(EmailAddressRow.user_id) == user_id, col(EmailAddressRow.is_primary)
            )
        )
    ).first()
    if owner is None:
        return None
    return await svc.outbox.add(
        s, compose(svc, template, owner), not_after=svc.clock() + NOTICE_LIFETIME
    )


def _pending_of(user_id: str) -> tuple[ColumnElement[bool], ...]:
    return (
        col(AuthenticatorRow.user_id) == user_id,
        col(AuthenticatorRow.kind) == TOTP_KIND,
        col(AuthenticatorRow.confirmed_at).is_(None),
    )


async def _pending(s: AsyncSession, user_id: str) -> AuthenticatorRow | None:
    return (await s.exec(select(AuthenticatorRow).where(*_pending_of(user_id)))).first()
