"""
Sign-in attempts (Clerk's SignIn object): the server-side record of a sign-in, or of a
"Confirm it's you" step-up, in progress. It knows who the sign-in is for, which
factors are proven and what is still needed; a signed cookie references it and a keyed
hash of the browser's CSRF secret binds it to the browser that started it, so a copied
attempt cookie is worthless elsewhere.

Statuses move one way: `needs_identifier` → `needs_first_factor` →
`needs_second_factor` → `complete`. Each move is an UPDATE conditioned on the status
it leaves, so two requests racing on one attempt cannot both move it.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..audit import RequestMeta, record_event
from ..audit_folds import ROWS_PER_MINUTE
from ..ids import new_id
from ..security.secrets import keyed_hash
from ..services import Services
from ..store.models import AuditEventRow, SignInAttemptRow, UserRow
from .bot_check import note_failed_sign_in

__all__ = [
    "ATTEMPT_LIFETIME",
    "Attempt",
    "Purpose",
    "Status",
    "browser_hash",
    "load_attempt",
    "new_attempt",
    "record_failure",
    "save_attempt",
]

#: An attempt not finished within this long is gone; its cookie lives as long.
ATTEMPT_LIFETIME = timedelta(minutes=10)


class Status(StrEnum):
    NEEDS_IDENTIFIER = "needs_identifier"
    NEEDS_FIRST_FACTOR = "needs_first_factor"
    NEEDS_SECOND_FACTOR = "needs_second_factor"
    COMPLETE = "complete"


class Purpose(StrEnum):
    #: Signing in: completing it creates a session.
    SIGN_IN = "sign_in"
    #: A signed-in session proving itself again before a sensitive action.
    REVERIFY = "reverify"
    #: A signed-in, reverified session registering a passkey (the challenge's holder).
    ADD_PASSKEY = "add_passkey"


@dataclass(frozen=True, slots=True)
class Attempt:
    """An attempt as the pipeline and the factor strategies see it."""

    id: str
    purpose: Purpose
    status: Status
    #: None when the identifier names no account (the attempt fails like a wrong factor).
    user_id: str | None
    #: The address as typed (or the account's, for a step-up).
    identifier: str
    expires_at: datetime
    #: The session being reverified, or the one the sign-in created.
    session_id: str | None = None
    first_factor: str | None = None
    first_factor_at: datetime | None = None
    second_factor: str | None = None
    second_factor_at: datetime | None = None
    #: What each factor strategy keeps between steps, under its own name.
    state: Mapping[str, Any] = field(default_factory=dict)
    #: Loaded with the attempt: a banned user's factors can be right, never enough.
    user_is_banned: bool = False
    #: The user's credential generation when identified: no session if it has moved.
    credential_generation: int = 0
    #: False until the attempt is first written (a one-request sign-in may never be).
    is_saved: bool = False

    def state_of(self, strategy: str) -> Mapping[str, Any]:
        value = self.state.get(strategy)
        return value if isinstance(value, Mapping) else {}

    def with_state(self, strategy: str, value: Mapping[str, Any]) -> Attempt:
        return replace(self, state={**self.state, strategy: dict(value)})


def browser_hash(svc: Services, browser: str) -> str:
    """What binds an attempt to a browser: a keyed hash of its CSRF secret."""
    return keyed_hash(svc.code_key, "sign-in-attempt-browser", browser)


def new_attempt(
    svc: Services,
    *,
    purpose: Purpose,
    identifier: str,
    user_id: str | None,
    user_is_banned: bool = False,
    session_id: str | None = None,
    credential_generation: int = 0,
) -> Attempt:
    """A new attempt, identified and waiting for its first factor (not saved yet)."""
    return Attempt(
        id=new_id("sia"),
        purpose=purpose,
        status=Status.NEEDS_FIRST_FACTOR,
        user_id=user_id,
        identifier=identifier,
        expires_at=svc.clock() + ATTEMPT_LIFETIME,
        session_id=session_id,
        user_is_banned=user_is_banned,
        credential_generation=credential_generation,
    )


async def load_attempt(
    svc: Services, attempt_id: str, *, browser: str | None, purpose: Purpose
) -> Attempt | None:
    """
    The open attempt `attempt_id` of this purpose, if it was started by this `browser`
    (its CSRF secret; None skips the check, for a magic link opened elsewhere when the
    site allows it) and has neither expired nor completed.
    """
    async with svc.db.session() as s:
        found = (
            await s.exec(
                select(SignInAttemptRow, UserRow.banned_at)
                .outerjoin(UserRow, col(UserRow.id) == col(SignInAttemptRow.user_id))
                .where(col(SignInAttemptRow.id) == attempt_id)
            )
        ).first()
    if found is None:
        return None
    row, banned_at = found
    if row.purpose != purpose or row.status == Status.COMPLETE:
        return None
    if row.expires_at <= svc.clock():
        return None
    expected = browser_hash(svc, browser) if browser is not None else None
    if expected is not None and not hmac.compare_digest(row.browser_hash, expected):
        return None
    return Attempt(
        id=row.id,
        purpose=Purpose(row.purpose),
        status=Status(row.status),
        user_id=row.user_id,
        identifier=row.identifier,
        expires_at=row.expires_at,
        session_id=row.session_id,
        first_factor=row.first_factor,
        first_factor_at=row.first_factor_at,
        second_factor=row.second_factor,
        second_factor_at=row.second_factor_at,
        state=dict(row.state),
        user_is_banned=banned_at is not None,
        credential_generation=row.credential_generation,
        is_saved=True,
    )


async def save_attempt(
    svc: Services, s: AsyncSession, attempt: Attempt, *, browser: str, previous: Status | None
) -> bool:
    """
    Write `attempt` in the open transaction. A saved attempt moves only from the
    status `previous` it was read with: False when another request moved it first.
    An unsaved one is inserted, bound to `browser` (its CSRF secret).
    """
    now = svc.clock()
    values: dict[str, Any] = {
        # The browser that moves an attempt is the one it continues in: the same as
        # before, except for a magic link opened elsewhere where the site allows that.
        "browser_hash": browser_hash(svc, browser),
        # Known only at the end for a provider's sign-in (the address it gave).
        "identifier": attempt.identifier,
        "status": attempt.status.value,
        "user_id": attempt.user_id,
        "session_id": attempt.session_id,
        "first_factor": attempt.first_factor,
        "first_factor_at": attempt.first_factor_at,
        "second_factor": attempt.second_factor,
        "second_factor_at": attempt.second_factor_at,
        "state": dict(attempt.state),
        "credential_generation": attempt.credential_generation,
        "completed_at": now if attempt.status == Status.COMPLETE else None,
    }
    if not attempt.is_saved:
        s.add(
            SignInAttemptRow(
                id=attempt.id,
                purpose=attempt.purpose.value,
                created_at=now,
                expires_at=attempt.expires_at,
                **values,
            )
        )
        return True
    moved = await s.exec(
        update(SignInAttemptRow)
        .where(
            col(SignInAttemptRow.id) == attempt.id,
            col(SignInAttemptRow.status) == previous,
            # A first factor once recorded (or claimed by a provider's callback) is
            # never written back to none by a request that read the attempt before.
            or_(
                col(SignInAttemptRow.first_factor).is_(None),
                col(SignInAttemptRow.first_factor) == attempt.first_factor,
            ),
        )
        .values(**values)
    )
    return moved.rowcount == 1


async def record_failure(
    svc: Services,
    attempt: Attempt,
    meta: RequestMeta,
    *,
    method: str,
    reason: str,
    **detail: str | int | bool | None,
) -> None:
    """Audit a factor that failed (`sign_in.failed`, or `reverify.failed` for a step-up),
    in a transaction of its own: the failure must be kept even though the request fails.
    Past a few a minute of one kind they are counted on one row (`audit_folds`)."""
    event = "sign_in.failed" if attempt.purpose == Purpose.SIGN_IN else "reverify.failed"
    if attempt.purpose == Purpose.SIGN_IN:
        # A few from one IP and its sign-in form asks for a proof of work.
        await note_failed_sign_in(svc, meta)
    now = svc.clock()
    fold = svc.failure_folds.count((event, method, reason, attempt.user_id), now)
    async with svc.db.session() as s:
        since = fold.started.isoformat()
        if fold.summary_id is None:
            # A row of its own, or the first past the few: the row that counts the rest.
            folded: dict[str, str | int] = (
                {} if fold.count <= ROWS_PER_MINUTE else {"repeats": fold.repeats, "since": since}
            )
            event_id = record_event(
                s,
                event,
                at=now,
                meta=meta,
                user_id=attempt.user_id,
                session_id=attempt.session_id,
                method=method,
                reason=reason,
                **folded,
                **detail,
            )
            if folded:
                fold.summary_id = event_id
        else:
            # The count is written whole, not added to: an update that finds the row
            # not yet committed loses nothing the next one does not write.
            await s.exec(
                update(AuditEventRow)
                .where(col(AuditEventRow.id) == fold.summary_id)
                .values(
                    detail={
                        "method": method,
                        "reason": reason,
                        "repeats": fold.repeats,
                        "since": since,
                        **detail,
                    }
                )
            )
