"""
Steps proven by email, shared by every flow that mails a code or a link (sign-up,
password reset, sign-in by code and by magic link): one `verification_codes` row per
step, the 6-digit code stored only as a keyed hash bound to the row, a link's token only
as a keyed hash in the row's payload.

The rules every such step follows live here, once: a try at a code is claimed before
the code is judged (atomically, so parallel guesses never get more than
`MAX_CODE_ATTEMPTS` answers between them), a step is used at most once (an UPDATE only
one caller can win), a new code waits out `RESEND_COOLDOWN` and an attempt sends at most
`MAX_SENDS` (both checked in the same UPDATE that counts the send, so parallel resends
cannot slip through), and every send counts against the address and the sender.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..addresses import Address
from ..errors import CodeExpired, FlowError
from ..ids import new_id
from ..security.codes import MAX_CODE_ATTEMPTS, hash_code, new_code, verify_code
from ..security.secrets import keyed_hash
from ..services import Services
from ..sessions import RequestMeta
from ..store.models import VerificationCodeRow

__all__ = [
    "LINK_TOKEN_BYTES",
    "LINK_TOKEN_MAX_LENGTH",
    "MAX_SENDS",
    "RESEND_COOLDOWN",
    "IssuedCode",
    "claim_try",
    "code_matches",
    "consume",
    "count_send",
    "find_by_token",
    "is_open",
    "issue",
    "load",
    "payload_field",
    "reissue",
]

#: Wait this long between two codes for one step; each step sends at most MAX_SENDS.
RESEND_COOLDOWN = timedelta(seconds=30)
MAX_SENDS = 5
#: 256 bits of randomness in every mailed link (SECURITY.md: link tokens ≥ 128 bits).
LINK_TOKEN_BYTES = 32
#: No token we mint is longer; anything longer is refused before hashing.
LINK_TOKEN_MAX_LENGTH = 100


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """A step just written: the row, and what goes in the mail (never stored in clear)."""

    row: VerificationCodeRow
    code: str
    #: The link's token, when the step was issued `with_link`.
    token: str | None = None

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def expires_at(self) -> datetime:
        return self.row.expires_at


def issue(
    svc: Services,
    s: AsyncSession,
    *,
    purpose: str,
    address: Address,
    payload: dict[str, Any],
    id_prefix: str,
    with_link: bool = False,
    lifetime: timedelta | None = None,
) -> IssuedCode:
    """
    Add a step to the open transaction `s`: a fresh code (and a link token when
    `with_link`) valid for `lifetime` (default `AUTHKIT_CODE_LIFETIME`).
    """
    now = svc.clock()
    step_id = new_id(id_prefix)
    code = new_code()
    token = secrets.token_urlsafe(LINK_TOKEN_BYTES) if with_link else None
    if token is not None:
        payload = {**payload, "token_hash": _token_hash(svc, purpose, token)}
    row = VerificationCodeRow(
        id=step_id,
        purpose=purpose,
        email=address.email,
        email_normalized=address.normalized,
        code_hash=hash_code(svc.code_key, step_id, code),
        payload=payload,
        created_at=now,
        last_sent_at=now,
        expires_at=now + (lifetime or timedelta(seconds=svc.settings.code_lifetime)),
    )
    s.add(row)
    return IssuedCode(row, code, token)


async def reissue(
    svc: Services, s: AsyncSession, row: VerificationCodeRow, *, with_link: bool = False
) -> IssuedCode:
    """
    A new code (and link) for an open step, in the open transaction `s`. The count of
    wrong tries is kept, so asking for new codes never buys more guesses.

    Raises:
        CodeExpired: the step is used, expired or out of tries.
        FlowError: `resend_too_soon` (with `seconds`) during the cooldown, or
            `too_many_codes` once MAX_SENDS codes went out.
    """
    now = svc.clock()
    code = new_code()
    token = secrets.token_urlsafe(LINK_TOKEN_BYTES) if with_link else None
    values: dict[str, Any] = {
        "code_hash": hash_code(svc.code_key, row.id, code),
        "sends": col(VerificationCodeRow.sends) + 1,
        "last_sent_at": now,
    }
    if token is not None:
        values["payload"] = {**row.payload, "token_hash": _token_hash(svc, row.purpose, token)}
    # One statement checks and counts: parallel resends after the cooldown send one code.
    sent = await s.exec(
        update(VerificationCodeRow)
        .where(
            col(VerificationCodeRow.id) == row.id,
            col(VerificationCodeRow.last_sent_at) <= now - RESEND_COOLDOWN,
            col(VerificationCodeRow.sends) < MAX_SENDS,
            *_open_conditions(now),
        )
        .values(**values)
    )
    if sent.rowcount != 1:
        current = await s.get(VerificationCodeRow, row.id, populate_existing=True)
        if current is None or not is_open(svc, current):
            raise CodeExpired()
        wait = current.last_sent_at + RESEND_COOLDOWN - now
        if wait > timedelta(0):
            raise FlowError("resend_too_soon", field="code", seconds=ceil(wait.total_seconds()))
        raise FlowError("too_many_codes", field="code")
    fresh = await s.get(VerificationCodeRow, row.id, populate_existing=True)
    assert fresh is not None
    return IssuedCode(fresh, code, token)


async def count_send(
    svc: Services, normalized_email: str, meta: RequestMeta, *, within: AsyncSession | None = None
) -> None:
    """
    Count a mail about to be sent. Mail bombing: a cap per address and per sender.
    `within` is the caller's open transaction, if any (the address's count joins it).

    Raises:
        RateLimited: too many codes went to this address or from this IP lately.
    """
    await svc.limiter.hit("code_send:ip", meta.ip_address)
    await svc.limiter.hit("code_send:account", normalized_email, within=within)


async def load(svc: Services, step_id: str, purpose: str) -> VerificationCodeRow | None:
    """The step if it exists, has this purpose and is still open."""
    async with svc.db.session() as s:
        row = await s.get(VerificationCodeRow, step_id)
    if row is None or row.purpose != purpose or not is_open(svc, row):
        return None
    return row


def is_open(svc: Services, row: VerificationCodeRow) -> bool:
    """Not used, not expired, tries left."""
    return (
        row.consumed_at is None
        and row.expires_at > svc.clock()
        and row.attempts < MAX_CODE_ATTEMPTS
    )


async def claim_try(s: AsyncSession, step_id: str, now: datetime) -> bool:
    """
    Count one try at a step's code in the open transaction; False when none is left
    (used up, consumed or expired).
    """
    claimed = await s.exec(
        update(VerificationCodeRow)
        .where(
            col(VerificationCodeRow.id) == step_id,
            col(VerificationCodeRow.attempts) < MAX_CODE_ATTEMPTS,
            *_open_conditions(now),
        )
        .values(attempts=col(VerificationCodeRow.attempts) + 1)
    )
    return claimed.rowcount == 1


def code_matches(svc: Services, row: VerificationCodeRow, code: str) -> bool:
    """Constant-time comparison of `code` with the step's (keyed, bound to the row)."""
    return verify_code(svc.code_key, row.id, code, row.code_hash)


async def consume(s: AsyncSession, step_id: str, now: datetime) -> bool:
    """Use the step up, in the open transaction; False when another caller already did
    (single use even under concurrent redemption: only one UPDATE can win)."""
    used = await s.exec(
        update(VerificationCodeRow)
        .where(col(VerificationCodeRow.id) == step_id, *_open_conditions(now))
        .values(consumed_at=now)
    )
    return used.rowcount == 1


async def find_by_token(svc: Services, purpose: str, token: str) -> VerificationCodeRow | None:
    """The step a mailed link's token belongs to (open or not), or None."""
    if not token or len(token) > LINK_TOKEN_MAX_LENGTH:
        return None
    async with svc.db.session() as s:
        return (
            await s.exec(
                select(VerificationCodeRow).where(
                    col(VerificationCodeRow.purpose) == purpose,
                    payload_field("token_hash") == _token_hash(svc, purpose, token),
                )
            )
        ).first()


def payload_field(name: str) -> Any:
    """A text field of the JSON payload, for WHERE clauses."""
    return VerificationCodeRow.__table__.c.payload[name].as_string()  # type: ignore[attr-defined]


def _open_conditions(now: datetime) -> tuple[Any, ...]:
    return (
        col(VerificationCodeRow.consumed_at).is_(None),
        col(VerificationCodeRow.expires_at) > now,
    )


def _token_hash(svc: Services, purpose: str, token: str) -> str:
    # Keyed: a leaked table row gives no usable link, and since nobody without the secret
    # key can compute these hashes, looking one up by equality leaks nothing by timing.
    return keyed_hash(svc.code_key, purpose, token)
