"""
Two-step verification, managed by its owner: set up an authenticator app (a secret
shown as a QR code, as text and as an `otpauth://` link, confirmed by a first code),
ten recovery codes shown once and regenerated on request, and turning it all off.

Setting up happens from the profile's security page (after "Confirm it's you") or,
with `AUTHKIT_MFA=required`, during a sign-in before its session exists. Until its first
code confirms it, the new secret is kept nowhere but in a sealed value (encrypted and
authenticated, for 15 minutes) that the browser carries: showing the QR code writes
nothing, and an abandoned set-up leaves nothing behind. Each change is audited;
turning it on or off is also mailed to the owner.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ..audit import RequestMeta, record_event
from ..errors import CodeInvalid, FieldError, FlowError
from ..ids import new_id
from ..security.codes import is_code_shaped
from ..security.recovery_codes import hash_recovery_code, new_recovery_codes
from ..security.totp import (
    encrypt_secret,
    matching_step,
    new_secret,
    provisioning_uri,
    qr_svg,
)
from ..services import Services
from ..sessions import new_credential_generation
from ..store.models import AuthenticatorRow, RecoveryCodeRow, SessionRow
from .factors.recovery_code import unused_recovery_codes
from .factors.totp import TOTP_KIND, confirmed_totp
from .notices import notify_owner

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

#: How long a shown QR code may be confirmed.
SETUP_LIFETIME = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class MfaStatus:
    totp_enabled: bool
    totp_since: datetime | None
    recovery_codes_left: int


@dataclass(frozen=True, slots=True)
class TotpSetup:
    """What the set-up page shows: the secret three ways; and `sealed`, the secret
    encrypted for this user, for the browser to carry to the confirming post."""

    secret: str
    uri: str
    qr_svg: str
    sealed: str

    @property
    def secret_groups(self) -> str:
        """The secret in groups of four, easier to type."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


@dataclass(frozen=True, slots=True)
class PendingTotp:
    """A set-up code judged right: the secret it proves and the code's time step."""

    secret: str
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


async def begin_totp_setup(
    svc: Services, *, user_id: str, account: str, sealed: str | None = None
) -> TotpSetup:
    """
    The secret to scan: the one `sealed` carries if it is this user's and still fresh
    (a page shown again after a wrong code shows the same QR code), else a new one.
    Writes nothing.

    Raises:
        FlowError: `totp_exists` when an authenticator app is already set up.
    """
    async with svc.db.session() as s:
        if await confirmed_totp(s, user_id) is not None:
            raise FlowError("totp_exists")
    secret = _unseal(svc, user_id, sealed) if sealed else None
    if secret is None:
        secret = new_secret()
    uri = provisioning_uri(secret, account=account, issuer=svc.settings.app_name)
    title = svc.messages("totp_qr_title")
    return TotpSetup(
        secret=secret, uri=uri, qr_svg=qr_svg(uri, title=title), sealed=_seal(svc, user_id, secret)
    )


async def judge_totp_setup(
    svc: Services, *, user_id: str, code: str, sealed: str, meta: RequestMeta
) -> PendingTotp:
    """
    Check the first code of the set-up `sealed` carries. Throttled with the other
    second factors.

    Raises:
        FieldError: `totp_format` when the code is not six digits.
        CodeInvalid: the code is wrong.
        FlowError: `totp_setup_expired` when the set-up is not this user's or too old.
    """
    code = "".join(code.split())
    if not is_code_shaped(code):
        raise FieldError("totp_format", field="code")
    await svc.limiter.hit("mfa:ip", meta.ip_address)
    await svc.limiter.hit("mfa:account", user_id)
    secret = _unseal(svc, user_id, sealed)
    if secret is None:
        raise FlowError("totp_setup_expired")
    step = matching_step(secret, code, svc.clock())
    if step is None:
        raise CodeInvalid("totp_invalid")
    await svc.limiter.clear("mfa:account", user_id)
    return PendingTotp(secret, step)


async def enable_totp(
    svc: Services,
    s: AsyncSession,
    pending: PendingTotp,
    *,
    user_id: str,
    meta: RequestMeta,
    session_id: str | None = None,
) -> tuple[list[str], str | None, int]:
    """
    Store the confirmed authenticator and make a fresh set of recovery codes, in the
    open transaction `s`. A new factor is a credential change: every other session of
    the user ends (`session_id`, the one making the change, stays). Returns the codes
    (shown once), the notice to send after the commit (None when the user has no
    address to mail) and the user's new credential generation.

    Raises:
        FlowError: `totp_exists` when an app was set up meanwhile (another tab).
    """
    now = svc.clock()
    if await confirmed_totp(s, user_id) is not None:
        raise FlowError("totp_exists")
    s.add(
        AuthenticatorRow(
            id=new_id("mfa"),
            user_id=user_id,
            kind=TOTP_KIND,
            name="Authenticator app",
            secret_encrypted=encrypt_secret(svc.totp_key, pending.secret),
            created_at=now,
            confirmed_at=now,
            last_used_at=now,
            # The confirming code is used: it cannot sign in too.
            last_used_step=pending.step,
        )
    )
    try:
        await s.flush()
    except IntegrityError:
        # Another tab confirmed the same set-up a moment ago (one app per user).
        raise FlowError("totp_exists") from None
    codes = await _replace_recovery_codes(svc, s, user_id)
    # Sessions that never proved the new factor end (ASVS 7.4.3); this one goes on.
    generation = await new_credential_generation(svc, s, user_id, keep_session_id=session_id)
    if session_id is not None:
        # The first code proves the app: this session has just verified a second factor.
        await s.exec(
            update(SessionRow)
            .where(col(SessionRow.id) == session_id, col(SessionRow.user_id) == user_id)
            .values(second_factor_at=now)
        )
    record_event(s, "mfa.enabled", at=now, meta=meta, user_id=user_id, method="totp")
    mail_id = await notify_owner(svc, s, user_id, "mfa_enabled")
    return codes, mail_id, generation


async def turn_on_totp(
    svc: Services,
    *,
    user_id: str,
    session_id: str,
    code: str,
    sealed: str,
    meta: RequestMeta,
) -> list[str]:
    """
    Confirm the set-up from the profile: the app is on, and the recovery codes to show
    once are returned.

    Raises:
        FieldError, CodeInvalid, FlowError: as `judge_totp_setup` and `enable_totp`.
    """
    pending = await judge_totp_setup(svc, user_id=user_id, code=code, sealed=sealed, meta=meta)
    async with svc.db.session() as s:
        codes, mail_id, _ = await enable_totp(
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


async def turn_off_mfa(
    svc: Services,
    *,
    user_id: str,
    session_id: str | None,
    meta: RequestMeta,
    actor: str | None = None,
) -> None:
    """
    Remove the authenticator app and every recovery code. A credential change: every
    other session of the user ends; `session_id` (the one making the change) stays.
    `actor` is an admin resetting it for the user (a lost phone): allowed where two-step
    verification is required (the user sets it up again at their next sign-in).

    Raises:
        FlowError: `mfa_required` when the site requires two-step verification, or
            `mfa_off` when it is not on.
    """
    if svc.settings.mfa == "required" and actor is None:
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
        await new_credential_generation(svc, s, user_id, keep_session_id=session_id)
        record_event(
            s,
            "mfa.disabled",
            at=svc.clock(),
            meta=meta,
            user_id=user_id,
            method="totp",
            actor=actor,
        )
        mail_id = await notify_owner(svc, s, user_id, "mfa_disabled")
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


def _seal(svc: Services, user_id: str, secret: str) -> str:
    # Dated by the service clock, as the expiry is judged by it.
    sealed = Fernet(svc.totp_key).encrypt_at_time(
        json.dumps([user_id, secret]).encode(), current_time=int(svc.clock().timestamp())
    )
    return sealed.decode()


def _unseal(svc: Services, user_id: str, sealed: str) -> str | None:
    """The secret, if `sealed` is ours, this user's and younger than SETUP_LIFETIME."""
    try:
        raw = Fernet(svc.totp_key).decrypt_at_time(
            sealed.encode(),
            ttl=int(SETUP_LIFETIME.total_seconds()),
            current_time=int(svc.clock().timestamp()),
        )
        owner, secret = json.loads(raw)
    except (InvalidToken, ValueError, TypeError):
        return None
    return secret if owner == user_id and isinstance(secret, str) else None
