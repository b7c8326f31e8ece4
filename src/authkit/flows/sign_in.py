"""
The sign-in pipeline: the one seam every way of signing in plugs into.

A sign-in is an attempt (flows/attempts.py) that moves `needs_first_factor` →
(`needs_second_factor`) → `complete`. The pipeline knows factors only through the
`FactorStrategy` interface (flows/factors/): it checks that the factor asked for fits
the attempt's step, lets the factor prepare and judge, and records what was proven.
Only `complete_sign_in` creates a session, writing the factors used (amr) and when
they were verified on the session row, together with the audit row, in one transaction.

The same pipeline runs "Confirm it's you" (reverification): an attempt of purpose
`reverify` for a signed-in session, which ends by moving that session's factor times
forward instead of creating a session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..addresses import normalize_email
from ..audit import record_event
from ..clock import as_utc
from ..errors import AttemptGone, CodeExpired
from ..services import Services
from ..sessions import (
    RequestMeta,
    SessionStart,
    create_session,
    mint_session,
    prepare_session,
    revoke_session,
)
from ..store.models import EmailAddressRow, SessionRow, SignInAttemptRow, UserRow
from ..users import active_account, sign_in_generation
from .attempts import (
    Attempt,
    Purpose,
    Status,
    load_attempt,
    new_attempt,
    record_failure,
    save_attempt,
)
from .factors import STRATEGIES, FactorKind, FactorStrategy, Proof
from .mfa import PendingTotp, enable_totp
from .notices import user_locale

__all__ = [
    "MFA_SETUP",
    "RETURN_TO",
    "REVERIFY_METHODS",
    "Step",
    "choose_factor",
    "claim_attempt",
    "complete_sign_in",
    "defer_to_mfa_setup",
    "first_factors",
    "is_reverified",
    "load_attempt",
    "second_factors",
    "sign_out",
    "start_reverification",
    "start_sign_in",
    "submit_factor",
    "submit_mfa_setup",
    "submit_proven_first_factor",
]

#: The attempt-state key that marks a sign-in sent to set up a second factor
#: (`AUTHKIT_MFA=required` and the user has none).
MFA_SETUP = "mfa_setup"
#: The attempt-state key keeping where the visitor was going.
RETURN_TO = "return_to"
#: The first factors "Confirm it's you" accepts, when the user has them: never a magic
#: link (it would send a signed-in user to their mailbox for no gain over a code).
REVERIFY_METHODS = ("password", "email_code")


@dataclass(frozen=True, slots=True)
class Step:
    """Where an attempt stands after a request."""

    attempt: Attempt
    #: The new session, when a sign-in completed.
    session: SessionStart | None = None
    #: The reverified session's new token, when a step-up completed.
    session_token: str | None = None
    #: Recovery codes to show once (a sign-in that set up its second factor).
    recovery_codes: tuple[str, ...] = ()

    @property
    def is_complete(self) -> bool:
        return self.attempt.status == Status.COMPLETE


async def start_sign_in(svc: Services, *, email: str) -> Attempt:
    """
    Identify: a new attempt for the account holding `email` (a verified address), or
    for nobody, which looks and costs the same from outside. Not saved yet: a one-step
    sign-in (a right password, no second factor) writes it with its session.

    Raises:
        FieldError: the email is empty, too long or not an address.
    """
    address = normalize_email(email)
    async with svc.db.session() as s:
        found = (
            await s.exec(
                select(UserRow.id, UserRow.banned_at, UserRow.credential_generation)
                .join(EmailAddressRow, col(EmailAddressRow.user_id) == col(UserRow.id))
                .where(
                    col(EmailAddressRow.normalized) == address.normalized,
                    col(EmailAddressRow.verified_at).is_not(None),
                )
            )
        ).first()
    return new_attempt(
        svc,
        purpose=Purpose.SIGN_IN,
        identifier=address.email,
        user_id=found[0] if found else None,
        user_is_banned=bool(found and found[1] is not None),
        credential_generation=found[2] if found else 0,
    )


async def start_reverification(svc: Services, *, user_id: str, session_id: str) -> Attempt:
    """
    A "Confirm it's you" attempt for a signed-in session (not saved yet).

    Raises:
        AttemptGone: the account is gone or banned.
    """
    async with svc.db.session() as s:
        found = await active_account(s, user_id)
    if found is None:
        raise AttemptGone()
    user, email = found
    return new_attempt(
        svc,
        purpose=Purpose.REVERIFY,
        identifier=email,
        user_id=user_id,
        session_id=session_id,
        credential_generation=user.credential_generation,
    )


async def first_factors(svc: Services, attempt: Attempt) -> list[str]:
    """
    The first factors this attempt may use, in the order pages offer them: for a
    sign-in, what `AUTHKIT_SIGN_IN_METHODS` lists (whoever the address belongs to, so
    the list reveals nothing); for a step-up, those of `REVERIFY_METHODS` the user has.
    """
    if attempt.purpose == Purpose.SIGN_IN:
        return list(svc.settings.sign_in_method_list)
    return await _enrolled(svc, attempt.user_id, [STRATEGIES[n] for n in REVERIFY_METHODS])


async def second_factors(svc: Services, attempt: Attempt) -> list[str]:
    """The second factors the attempt's user has set up (none for an unknown user)."""
    seconds = [s for s in STRATEGIES.values() if s.kind == FactorKind.SECOND]
    return await _enrolled(svc, attempt.user_id, seconds)


async def choose_factor(
    svc: Services,
    attempt: Attempt,
    name: str,
    *,
    browser: str,
    meta: RequestMeta,
    again: bool = False,
    redirect_url: str | None = None,
) -> Attempt:
    """
    Get factor `name` ready (mail the code or link) and save the attempt; `again` asks
    for a new code or link. `redirect_url` is kept for a page that continues the
    attempt without the browser's help (a magic link opened from the mail).

    Raises:
        AttemptGone: the factor does not fit this attempt's step.
        FlowError: `resend_too_soon`, `too_many_codes`, or `RateLimited`.
    """
    strategy = await _fitting(svc, attempt, name)
    async with svc.db.session() as s:
        prepared = await strategy.prepare(svc, s, attempt, meta, again=again)
        ready = attempt.with_state(name, prepared.state)
        if redirect_url is not None:
            ready = ready.with_state(RETURN_TO, {"url": redirect_url})
        if not await save_attempt(svc, s, ready, browser=browser, previous=attempt.status):
            raise AttemptGone()
    for mail_id in prepared.mail_ids:
        svc.outbox.send_soon(mail_id)
    return replace(ready, is_saved=True)


async def submit_factor(
    svc: Services,
    attempt: Attempt,
    name: str,
    fields: Mapping[str, str],
    *,
    browser: str,
    meta: RequestMeta,
) -> Step:
    """
    Judge factor `name` for this attempt and move it on; at `complete`, a sign-in gets
    its session and a step-up its session's new token.

    Raises:
        AttemptGone: the factor does not fit this attempt's step (factor skipping), or
            the attempt moved on meanwhile.
        FlowError: the factor's own errors (a wrong code, `RateLimited`, ...).
    """
    strategy = await _fitting(svc, attempt, name)
    if strategy.needs_prepare and not attempt.state_of(name):
        raise AttemptGone()  # a code or link that was never sent for this attempt
    proof = await strategy.attempt(svc, attempt, fields, meta)
    if attempt.user_id is None or attempt.user_is_banned:
        await record_failure(svc, attempt, meta, method=name, reason="banned")
        raise strategy.refusal()
    now = svc.clock()
    if strategy.kind == FactorKind.FIRST:
        status = await _status_after_first_factor(svc, attempt)
        moved = replace(attempt, first_factor=name, first_factor_at=now, status=status)
        if status == Status.NEEDS_SECOND_FACTOR and not await second_factors(svc, attempt):
            moved = moved.with_state(MFA_SETUP, {"required": True})
    else:
        moved = replace(attempt, second_factor=name, second_factor_at=now, status=Status.COMPLETE)
    if moved.status == Status.COMPLETE and moved.purpose == Purpose.SIGN_IN:
        await prepare_session(svc)
    mail_ids: list[str] = []
    async with svc.db.session() as s:
        used = await proof.use(s)
        if not used.ok:
            raise CodeExpired()  # a parallel request used this code first
        mail_ids.extend(used.mail_ids)
        step = await _record(svc, s, attempt, moved, browser=browser, meta=meta)
    for mail_id in mail_ids:
        svc.outbox.send_soon(mail_id)
    return step


async def submit_proven_first_factor(
    svc: Services,
    attempt: Attempt,
    name: str,
    *,
    user_id: str,
    identifier: str,
    credential_generation: int,
    browser: str,
    meta: RequestMeta,
    proof: Proof | None = None,
    also_second: bool = False,
) -> Step:
    """
    Move an attempt on with a first factor proven away from its forms: a provider's
    callback (`oauth_<name>`) or a passkey has said whose account it is. The attempt
    must have been started for that factor (its state under `name`) and claimed by the
    request that proved it (`first_factor`, see `claim_attempt`); then it goes on as
    after any first factor: the second factor when the user has one, else the session.
    `also_second`: the factor is two in one (a passkey: the device, and the user
    verification that unlocked it), so no second factor is asked for. `proof.use` runs
    in the recording transaction.

    Raises:
        AttemptGone: the attempt was not waiting for this factor, or moved on meanwhile.
    """
    if (
        attempt.purpose not in (Purpose.SIGN_IN, Purpose.REVERIFY)
        or attempt.status != Status.NEEDS_FIRST_FACTOR
        or attempt.first_factor != name  # claimed by the one request that may use it
        or not attempt.state_of(name)
        or (attempt.purpose == Purpose.REVERIFY and attempt.user_id != user_id)
    ):
        raise AttemptGone()
    identified = replace(
        attempt,
        user_id=user_id,
        identifier=identifier,
        credential_generation=credential_generation,
    )
    now = svc.clock()
    if also_second:
        moved = replace(
            identified,
            first_factor=name,
            first_factor_at=now,
            second_factor=name,
            second_factor_at=now,
            status=Status.COMPLETE,
        )
    else:
        status = await _status_after_first_factor(svc, identified)
        moved = replace(identified, first_factor=name, first_factor_at=now, status=status)
        if status == Status.NEEDS_SECOND_FACTOR and not await second_factors(svc, identified):
            moved = moved.with_state(MFA_SETUP, {"required": True})
    if moved.status == Status.COMPLETE and moved.purpose == Purpose.SIGN_IN:
        await prepare_session(svc)
    async with svc.db.session() as s:
        if proof is not None and not (await proof.use(s)).ok:
            raise AttemptGone()  # a parallel request used it first
        return await _record(svc, s, attempt, moved, browser=browser, meta=meta)


async def claim_attempt(svc: Services, attempt: Attempt, factor: str) -> bool:
    """Mark the attempt's round trip or challenge used, once: of two requests that
    answer the same one, one gets True."""
    async with svc.db.session() as s:
        claimed = await s.exec(
            update(SignInAttemptRow)
            .where(
                col(SignInAttemptRow.id) == attempt.id,
                col(SignInAttemptRow.status) == Status.NEEDS_FIRST_FACTOR.value,
                col(SignInAttemptRow.first_factor).is_(None),
            )
            .values(first_factor=factor)
        )
        return bool(claimed.rowcount == 1)


async def submit_mfa_setup(
    svc: Services,
    attempt: Attempt,
    pending: PendingTotp,
    *,
    browser: str,
    meta: RequestMeta,
) -> Step:
    """
    Finish a sign-in that had to set up its second factor: the app's first code (judged
    by `mfa.judge_totp_setup`) confirms it and counts as the second factor; the session
    is created in the same transaction, and the recovery codes come back to be shown.

    Raises:
        AttemptGone: the attempt is not waiting for a set-up.
    """
    if (
        attempt.status != Status.NEEDS_SECOND_FACTOR
        or not attempt.state_of(MFA_SETUP)
        or attempt.user_id is None
    ):
        raise AttemptGone()
    moved = replace(
        attempt, second_factor="totp", second_factor_at=svc.clock(), status=Status.COMPLETE
    )
    await prepare_session(svc)
    async with svc.db.session() as s:
        codes, mail_id, generation = await enable_totp(
            svc, s, pending, user_id=attempt.user_id, meta=meta
        )
        # The new factor is a credential change; this sign-in is the one making it.
        moved = replace(moved, credential_generation=generation)
        step = await _record(svc, s, attempt, moved, browser=browser, meta=meta)
    if mail_id is not None:
        svc.outbox.send_soon(mail_id)
    return replace(step, recovery_codes=tuple(codes))


async def defer_to_mfa_setup(
    svc: Services,
    s: AsyncSession,
    *,
    user_id: str,
    identifier: str,
    first_factor: tuple[str, datetime],
    browser: str,
) -> Attempt:
    """
    With `AUTHKIT_MFA=required`, what a new account gets instead of its first session:
    a sign-in attempt with its first factor proven (the sign-up's code), waiting for the
    second factor's set-up. Written in the open transaction `s`, with the account.
    """
    name, at = first_factor
    attempt = replace(
        new_attempt(svc, purpose=Purpose.SIGN_IN, identifier=identifier, user_id=user_id),
        status=Status.NEEDS_SECOND_FACTOR,
        first_factor=name,
        first_factor_at=at,
    ).with_state(MFA_SETUP, {"required": True})
    await save_attempt(svc, s, attempt, browser=browser, previous=None)
    return replace(attempt, is_saved=True)


async def complete_sign_in(
    svc: Services,
    s: AsyncSession,
    *,
    user_id: str,
    factors: Sequence[tuple[str, datetime]],
    meta: RequestMeta,
    credential_generation: int,
    attempt_id: str | None = None,
    event: str | None = "sign_in",
) -> SessionStart:
    """
    Create the session of a finished sign-in (or sign-up), in the open transaction `s`
    together with its audit row: the only way a session comes to be. `factors` are the
    (name, time) of the first factor and, if any, the second; they become the session's
    amr and factor times, and the token's `fva`. Call `sessions.prepare_session` before
    opening `s`; `event=None` leaves the audit row to the caller (sign-up writes its own).

    `credential_generation` is the user's as it was before the factors were checked:
    if their credentials changed since (a reset while this sign-in was checking the
    old password), no session is made.

    Raises:
        AttemptGone: the user's credentials changed, or the user is gone or banned.
    """
    current = await sign_in_generation(s, user_id)
    if current != credential_generation:
        raise AttemptGone()
    (first, first_at), *rest = factors
    second, second_at = rest[0] if rest else (None, None)
    start = await create_session(
        svc,
        s,
        user_id=user_id,
        meta=meta,
        # One name once: a passkey counts as both factors.
        amr=list(dict.fromkeys(name for name, _ in factors)),
        first_factor_at=first_at,
        second_factor_at=second_at,
        credential_generation=credential_generation,
    )
    if event is not None:
        record_event(
            s,
            event,
            at=svc.clock(),
            meta=meta,
            user_id=user_id,
            session_id=start.session_id,
            method=first,
            second_factor=second,
            attempt_id=attempt_id,
        )
    # The user's language follows them to this browser.
    return replace(start, locale=await user_locale(s, user_id))


async def is_reverified(svc: Services, *, user_id: str, session_id: str) -> bool:
    """
    Whether the session verified a first factor within `AUTHKIT_REVERIFICATION_WINDOW`,
    and a second one too when the user has one set up (read from the database, so a
    factor set up in another session counts at once).
    """
    window = timedelta(seconds=svc.settings.reverification_window)
    cutoff = svc.clock() - window
    async with svc.db.session() as s:
        row = await s.get(SessionRow, session_id)
        if row is None or row.user_id != user_id or row.revoked_at is not None:
            return False
        if row.first_factor_at is None or as_utc(row.first_factor_at) < cutoff:
            return False
        seconds = [st for st in STRATEGIES.values() if st.kind == FactorKind.SECOND]
        for strategy in seconds:
            if await strategy.is_enrolled(svc, s, user_id):
                return row.second_factor_at is not None and as_utc(row.second_factor_at) >= cutoff
    return True


async def sign_out(svc: Services, *, user_id: str, session_id: str, meta: RequestMeta) -> None:
    """End the session; its token stops working when it expires (within seconds)."""
    async with svc.db.session() as s:
        await revoke_session(svc, s, session_id, signed_out=True)
        record_event(
            s, "sign_out", at=svc.clock(), meta=meta, user_id=user_id, session_id=session_id
        )


async def _record(
    svc: Services,
    s: AsyncSession,
    read: Attempt,
    moved: Attempt,
    *,
    browser: str,
    meta: RequestMeta,
) -> Step:
    """Save the attempt's move and, at `complete`, what completing it means."""
    session = None
    token = None
    if moved.status == Status.COMPLETE:
        assert moved.user_id is not None and moved.first_factor_at is not None
        if moved.purpose == Purpose.SIGN_IN:
            factors = [(moved.first_factor or "", moved.first_factor_at)]
            if moved.second_factor is not None and moved.second_factor_at is not None:
                factors.append((moved.second_factor, moved.second_factor_at))
            session = await complete_sign_in(
                svc,
                s,
                user_id=moved.user_id,
                factors=factors,
                meta=meta,
                credential_generation=moved.credential_generation,
                attempt_id=moved.id,
            )
            moved = replace(moved, session_id=session.session_id)
        else:
            token = await _reverified(svc, s, moved, meta)
    if not await save_attempt(svc, s, moved, browser=browser, previous=read.status):
        raise AttemptGone()  # a parallel request moved the attempt first
    return Step(replace(moved, is_saved=True), session=session, session_token=token)


async def _reverified(svc: Services, s: AsyncSession, attempt: Attempt, meta: RequestMeta) -> str:
    """Move the session's factor times to now; its new token carries them (`fva`)."""
    values: dict[str, datetime] = {"first_factor_at": attempt.first_factor_at or svc.clock()}
    if attempt.second_factor_at is not None:
        values["second_factor_at"] = attempt.second_factor_at
    moved = await s.exec(
        update(SessionRow)
        .where(
            col(SessionRow.id) == attempt.session_id,
            col(SessionRow.user_id) == attempt.user_id,
            col(SessionRow.revoked_at).is_(None),
        )
        .values(**values)
    )
    row = await s.get(SessionRow, attempt.session_id, populate_existing=True)
    # A session of an older credential generation is ending: it cannot prove itself again.
    if (
        moved.rowcount != 1
        or row is None
        or row.credential_generation != (attempt.credential_generation)
    ):
        raise AttemptGone()
    record_event(
        s,
        "session.reverified",
        at=svc.clock(),
        meta=meta,
        user_id=attempt.user_id,
        session_id=attempt.session_id,
        method=attempt.first_factor,
        second_factor=attempt.second_factor,
    )
    return await mint_session(svc, s, row)


async def _fitting(svc: Services, attempt: Attempt, name: str) -> FactorStrategy:
    """The strategy `name`, if it fits the attempt's step; factor skipping (a second
    factor before the first, a method the site does not offer) is refused."""
    strategy = STRATEGIES.get(name)
    if strategy is None:
        raise AttemptGone()
    if attempt.status == Status.NEEDS_FIRST_FACTOR:
        fits = strategy.kind == FactorKind.FIRST and name in await first_factors(svc, attempt)
    else:
        fits = (
            attempt.status == Status.NEEDS_SECOND_FACTOR
            and strategy.kind == FactorKind.SECOND
            and not attempt.state_of(MFA_SETUP)
        )
    if not fits:
        raise AttemptGone()
    return strategy


async def _status_after_first_factor(svc: Services, attempt: Attempt) -> Status:
    if await second_factors(svc, attempt):
        return Status.NEEDS_SECOND_FACTOR
    if attempt.purpose == Purpose.SIGN_IN and svc.settings.mfa == "required":
        return Status.NEEDS_SECOND_FACTOR  # set one up before the session exists
    return Status.COMPLETE


async def _enrolled(
    svc: Services, user_id: str | None, strategies: Sequence[FactorStrategy]
) -> list[str]:
    if user_id is None:
        return []
    async with svc.db.session() as s:
        return [st.name for st in strategies if await st.is_enrolled(svc, s, user_id)]
