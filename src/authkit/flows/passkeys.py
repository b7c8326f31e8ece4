"""
Passkeys (WebAuthn discoverable credentials): registered from the profile, then signing
in with one tap or by the browser's autofill, and confirming it's you.

Every ceremony is an attempt (flows/attempts.py): its options hold a fresh challenge,
kept on the attempt, which is bound to the browser that asked (its CSRF secret) and
used once (`claim_attempt`, a conditional update, before anything is judged). The
checks themselves are py_webauthn's: the challenge, the origin and relying party id
(the host of `base_url`), the user-verification flag, the signature against the stored
public key. Ours on top: the credential is one of ours and belongs to the user its
user handle names; a signature counter that goes backwards (a cloned authenticator) is
refused and audited. A passkey proves two factors at once (the device, and the PIN or
biometric that unlocked it), so it satisfies two-step verification.
"""

from __future__ import annotations

import json
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from ..audit import RequestMeta, record_event
from ..errors import FieldError, FlowError, NotFound
from ..ids import new_id
from ..passkey_names import NAME_MAX_LENGTH, default_passkey_name
from ..services import Services
from ..store.models import PasskeyRow, UserRow
from ..users import active_account, primary_address
from .attempts import (
    Attempt,
    Purpose,
    Status,
    load_attempt,
    new_attempt,
    record_failure,
    save_attempt,
)
from .factors import Proof, Used
from .locks import lock_user
from .notices import notify_owner
from .sign_in import (
    RETURN_TO,
    Step,
    claim_attempt,
    start_reverification,
    submit_proven_first_factor,
)
from .ways import has_another_way

__all__ = [
    "MAX_PASSKEYS",
    "PASSKEY",
    "Ceremony",
    "Passkey",
    "PasskeyFailed",
    "begin_passkey_registration",
    "begin_passkey_sign_in",
    "check_assertion",
    "check_registration",
    "finish_passkey_registration",
    "finish_passkey_sign_in",
    "list_passkeys",
    "parse_assertion",
    "remove_passkey",
    "rename_passkey",
]

#: The factor's name: in the attempt's state, the session's amr, the audit trail.
PASSKEY = "passkey"
#: How many passkeys one user may have (enough for every device and a spare key).
MAX_PASSKEYS = 10
#: How long the browser's prompt may stay open, in milliseconds (within the attempt's
#: ten minutes).
CEREMONY_TIMEOUT_MS = 5 * 60 * 1000
_CHALLENGE_BYTES = 32


class PasskeyFailed(FlowError):
    """A ceremony that did not work: `code` is the sentence for the page, `reason`
    (never shown) says why in the audit trail."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(code)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Ceremony:
    """A ceremony begun: the attempt that holds its challenge, and the options for
    `navigator.credentials.create/get` (WebAuthn's JSON form)."""

    attempt_id: str
    options: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Passkey:
    """One of a user's passkeys, as the profile lists it."""

    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    #: Synced by a password manager (backup eligible), rather than bound to one device.
    synced: bool


def relying_party(svc: Services) -> tuple[str, str]:
    """The relying party id (the host of `base_url`) and the origin ceremonies must
    come from.

    Raises:
        NotFound: passkeys are off, or `base_url` names an IP address.
    """
    rp_id = svc.settings.passkey_rp_id
    if rp_id is None:
        raise NotFound()
    return rp_id, svc.settings.base_origin


async def list_passkeys(svc: Services, user_id: str) -> list[Passkey]:
    """The user's passkeys, oldest first."""
    async with svc.db.session() as s:
        rows = (
            await s.exec(
                select(PasskeyRow)
                .where(col(PasskeyRow.user_id) == user_id)
                .order_by(col(PasskeyRow.created_at), col(PasskeyRow.id))
            )
        ).all()
    return [
        Passkey(row.id, row.name, row.created_at, row.last_used_at, row.backup_eligible)
        for row in rows
    ]


# Signing in and confirming it's you


async def begin_passkey_sign_in(
    svc: Services,
    *,
    browser: str,
    return_to: str | None = None,
    reverify: tuple[str, str] | None = None,
) -> Ceremony:
    """
    A new attempt waiting for a passkey, and the options to ask the browser with: any
    of the site's passkeys (discoverable, no address typed) for a sign-in; one of the
    user's for "Confirm it's you" (`reverify` = (user id, session id)).

    Raises:
        NotFound: passkeys are off. AttemptGone: the reverifying account is gone.
    """
    rp_id, _ = relying_party(svc)
    allowed: list[PublicKeyCredentialDescriptor] = []
    if reverify is None:
        attempt = new_attempt(svc, purpose=Purpose.SIGN_IN, identifier="", user_id=None)
    else:
        user_id, session_id = reverify
        attempt = await start_reverification(svc, user_id=user_id, session_id=session_id)
        allowed = await _descriptors(svc, user_id)
    challenge = secrets.token_bytes(_CHALLENGE_BYTES)
    options = generate_authentication_options(
        rp_id=rp_id,
        challenge=challenge,
        timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    attempt = attempt.with_state(PASSKEY, {"challenge": bytes_to_base64url(challenge)})
    if return_to is not None:
        attempt = attempt.with_state(RETURN_TO, {"url": return_to})
    async with svc.db.session() as s:
        await save_attempt(svc, s, attempt, browser=browser, previous=None)
    return Ceremony(attempt.id, json.loads(options_to_json(options)))


async def finish_passkey_sign_in(
    svc: Services,
    *,
    attempt_id: str,
    credential: Mapping[str, Any],
    browser: str,
    meta: RequestMeta,
    session_id: str | None = None,
) -> Step:
    """
    Judge the browser's answer to `begin_passkey_sign_in`: a sign-in completes with a
    new session, a "Confirm it's you" (`session_id` given) with the session's new token.

    Raises:
        PasskeyFailed: the attempt is gone or used (`passkey_expired`), the answer is
            malformed or wrong (`passkey_failed`), the passkey is not one of ours
            (`passkey_unknown`), or its counter went back (`passkey_cloned`).
        RateLimited: too many sign-ins from this IP.
        AttemptGone: the account changed meanwhile.
    """
    rp_id, origin = relying_party(svc)
    purpose = Purpose.SIGN_IN if session_id is None else Purpose.REVERIFY
    attempt = await load_attempt(svc, attempt_id, browser=browser, purpose=purpose)
    if attempt is None or (session_id is not None and attempt.session_id != session_id):
        raise PasskeyFailed("passkey_expired", "attempt_gone")
    challenge = attempt.state_of(PASSKEY).get("challenge")
    if not isinstance(challenge, str) or attempt.status != Status.NEEDS_FIRST_FACTOR:
        raise PasskeyFailed("passkey_expired", "not_waiting")
    await svc.limiter.hit("sign_in:ip", meta.ip_address)
    # Used once, before anything is judged: a replayed answer finds the attempt taken.
    if not await claim_attempt(svc, attempt, PASSKEY):
        raise PasskeyFailed("passkey_expired", "challenge_reused")
    claimed = replace(attempt, first_factor=PASSKEY)
    parsed = parse_assertion(credential)
    found = await _credential(svc, bytes_to_base64url(parsed.raw_id))
    if found is None:
        await _failed(svc, claimed, meta, "unknown_credential")
        raise PasskeyFailed("passkey_unknown", "unknown_credential")
    row, user = found
    handle = parsed.response.user_handle
    if (attempt.user_id is not None and row.user_id != attempt.user_id) or (
        # A discoverable sign-in names its user; it must be the passkey's own.
        handle is not None and handle != row.user_id.encode()
    ):
        await _failed(svc, claimed, meta, "another_users_credential")
        raise PasskeyFailed("passkey_failed", "another_users_credential")
    if handle is None and attempt.user_id is None:
        await _failed(svc, claimed, meta, "no_user_handle")
        raise PasskeyFailed("passkey_failed", "no_user_handle")
    try:
        verified = check_assertion(
            parsed, challenge=challenge, rp_id=rp_id, origin=origin, public_key=row.public_key
        )
    except PasskeyFailed as failed:
        await _failed(svc, claimed, meta, failed.reason, user_id=row.user_id)
        raise
    count = verified.new_sign_count
    if (count or row.sign_count) and count <= row.sign_count:
        await _counter_regressed(svc, claimed, row, count, meta)
        raise PasskeyFailed("passkey_cloned", "counter_regressed")
    if user.banned_at is not None:
        await _failed(svc, claimed, meta, "banned", user_id=row.user_id)
        raise PasskeyFailed("passkey_failed", "verification")

    async def use(s: AsyncSession) -> Used:
        moved = await s.exec(
            update(PasskeyRow)
            .where(col(PasskeyRow.id) == row.id, col(PasskeyRow.sign_count) == row.sign_count)
            .values(
                sign_count=count,
                backed_up=verified.credential_backed_up,
                last_used_at=svc.clock(),
            )
        )
        return Used(ok=moved.rowcount == 1)

    return await submit_proven_first_factor(
        svc,
        claimed,
        PASSKEY,
        user_id=row.user_id,
        identifier=await _address_of(svc, row.user_id),
        credential_generation=user.credential_generation,
        browser=browser,
        meta=meta,
        proof=Proof(use=use),
        also_second=True,
    )


# Registering, renaming, removing


async def begin_passkey_registration(
    svc: Services, *, user_id: str, session_id: str, browser: str
) -> Ceremony:
    """
    The options to create a passkey for the user (call after "Confirm it's you"): a
    discoverable credential with user verification, none of the user's existing ones
    again, no attestation asked.

    Raises:
        FlowError: `passkey_limit`, the user has `MAX_PASSKEYS` already.
        NotFound: passkeys are off. AttemptGone: the account is gone.
    """
    rp_id, _ = relying_party(svc)
    async with svc.db.session() as s:
        if await _count(s, user_id) >= MAX_PASSKEYS:
            raise FlowError("passkey_limit", max=MAX_PASSKEYS)
        found = await active_account(s, user_id)
    if found is None:
        raise NotFound()
    user, email = found
    full_name = " ".join(p for p in (user.first_name, user.last_name) if p)
    challenge = secrets.token_bytes(_CHALLENGE_BYTES)
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=svc.settings.app_name,
        user_id=user_id.encode(),
        user_name=email,
        user_display_name=full_name or email,
        challenge=challenge,
        timeout=CEREMONY_TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=await _descriptors(svc, user_id),
    )
    attempt = new_attempt(
        svc,
        purpose=Purpose.ADD_PASSKEY,
        identifier=email,
        user_id=user_id,
        session_id=session_id,
        credential_generation=user.credential_generation,
    ).with_state(PASSKEY, {"challenge": bytes_to_base64url(challenge)})
    async with svc.db.session() as s:
        await save_attempt(svc, s, attempt, browser=browser, previous=None)
    return Ceremony(attempt.id, json.loads(options_to_json(options)))


async def finish_passkey_registration(
    svc: Services,
    *,
    attempt_id: str,
    credential: Mapping[str, Any],
    user_id: str,
    session_id: str,
    browser: str,
    meta: RequestMeta,
) -> Passkey:
    """
    Judge the browser's new credential and keep it, named after its authenticator
    (the user may rename it); the owner is told by mail.

    Raises:
        PasskeyFailed: `passkey_expired` (the attempt is gone or used) or
            `passkey_failed` (malformed, or not made as asked).
        FlowError: `passkey_limit`, or `passkey_exists` (this one is registered).
    """
    rp_id, origin = relying_party(svc)
    attempt = await load_attempt(svc, attempt_id, browser=browser, purpose=Purpose.ADD_PASSKEY)
    if attempt is None or attempt.session_id != session_id or attempt.user_id != user_id:
        raise PasskeyFailed("passkey_expired", "attempt_gone")
    challenge = attempt.state_of(PASSKEY).get("challenge")
    if not isinstance(challenge, str) or not await claim_attempt(svc, attempt, PASSKEY):
        raise PasskeyFailed("passkey_expired", "challenge_reused")
    verified, transports = check_registration(
        credential, challenge=challenge, rp_id=rp_id, origin=origin
    )
    now = svc.clock()
    row = PasskeyRow(
        id=new_id("pk"),
        user_id=user_id,
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        transports=",".join(transports)[:200],
        backup_eligible=verified.credential_device_type.value == "multi_device",
        backed_up=verified.credential_backed_up,
        name=default_passkey_name(verified.aaguid, meta.user_agent),
        created_at=now,
        last_used_at=None,
    )
    async with svc.db.session() as s:
        # Two tabs adding at once must not both squeeze under the limit.
        await lock_user(s, user_id)
        if await _count(s, user_id) >= MAX_PASSKEYS:
            raise FlowError("passkey_limit", max=MAX_PASSKEYS)
        s.add(row)
        try:
            await s.flush()
        except IntegrityError:
            raise FlowError("passkey_exists") from None
        done = replace(attempt, first_factor=PASSKEY, first_factor_at=now, status=Status.COMPLETE)
        await save_attempt(svc, s, done, browser=browser, previous=attempt.status)
        record_event(s, "passkey.added", at=now, meta=meta, user_id=user_id, passkey=row.name)
        mail_id = await notify_owner(svc, s, user_id, "passkey_added", passkey=row.name)
    if mail_id is not None:
        svc.outbox.send_soon(mail_id)
    return Passkey(row.id, row.name, row.created_at, None, row.backup_eligible)


async def rename_passkey(
    svc: Services, *, user_id: str, passkey_id: str, name: str, meta: RequestMeta
) -> str:
    """
    Give one of the user's passkeys a name of their own; the name kept is returned.

    Raises:
        FieldError: the name is empty or too long. NotFound: not one of the user's.
    """
    clean = " ".join(name.split())
    if not clean:
        raise FieldError("passkey_name_required", field="name")
    if len(clean) > NAME_MAX_LENGTH:
        raise FieldError("passkey_name_too_long", field="name", max=NAME_MAX_LENGTH)
    # Control and format characters (NUL, a right-to-left override) have no place in a
    # name that mails and the activity list show.
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in clean):
        raise FieldError("name_invalid", field="name")
    async with svc.db.session() as s:
        moved = await s.exec(
            update(PasskeyRow)
            .where(col(PasskeyRow.id) == passkey_id, col(PasskeyRow.user_id) == user_id)
            .values(name=clean)
        )
        if moved.rowcount != 1:
            raise NotFound()
        record_event(
            s, "passkey.renamed", at=svc.clock(), meta=meta, user_id=user_id, passkey=clean
        )
    return clean


async def remove_passkey(
    svc: Services, *, user_id: str, passkey_id: str, meta: RequestMeta
) -> None:
    """
    Remove one of the user's passkeys (call after "Confirm it's you"); the owner is told
    by mail. The passkey stays in the password manager; it just signs nobody in here.

    Raises:
        NotFound: not one of the user's.
        FlowError: `passkey_last_way`, it is the only way left to sign in.
    """
    async with svc.db.session() as s:
        await lock_user(s, user_id)
        row = await s.get(PasskeyRow, passkey_id)
        if row is None or row.user_id != user_id:
            raise NotFound()
        if not await has_another_way(svc, s, user_id, except_passkey=row.id):
            raise FlowError("passkey_last_way")
        await s.exec(delete(PasskeyRow).where(col(PasskeyRow.id) == row.id))
        record_event(
            s, "passkey.removed", at=svc.clock(), meta=meta, user_id=user_id, passkey=row.name
        )
        mail_id = await notify_owner(svc, s, user_id, "passkey_removed", passkey=row.name)
    if mail_id is not None:
        svc.outbox.send_soon(mail_id)


# The checks, as functions of their input alone (the fuzz tests drive them directly)

#: What malformed bytes or JSON may raise inside py_webauthn's parsers and checks: its
#: own exceptions, and the stdlib's for base64, CBOR and JSON it does not wrap.
_MALFORMED = (
    WebAuthnException,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    # JSON nested thousands deep (in clientDataJSON) exhausts the parser's recursion.
    RecursionError,
)


def parse_assertion(credential: Mapping[str, Any]) -> AuthenticationCredential:
    """The browser's answer to a sign-in, parsed.

    Raises:
        PasskeyFailed: `passkey_failed`, it is not an assertion.
    """
    try:
        return parse_authentication_credential_json(dict(credential))
    except _MALFORMED:
        raise PasskeyFailed("passkey_failed", "malformed") from None


def check_assertion(
    parsed: AuthenticationCredential,
    *,
    challenge: str,
    rp_id: str,
    origin: str,
    public_key: bytes,
) -> VerifiedAuthentication:
    """py_webauthn's checks (challenge, origin, RP id, user presence and verification,
    signature), and ours: not made inside another site's frame (`crossOrigin`).

    Raises:
        PasskeyFailed: `passkey_failed` (reason `verification` or `cross_origin`).
    """
    _same_origin(parsed.response.client_data_json)
    try:
        return verify_authentication_response(
            credential=parsed,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=public_key,
            # The counter is judged by the caller, where a regression is audited.
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except _MALFORMED:
        raise PasskeyFailed("passkey_failed", "verification") from None


def check_registration(
    credential: Mapping[str, Any], *, challenge: str, rp_id: str, origin: str
) -> tuple[VerifiedRegistration, list[str]]:
    """A new credential, parsed and checked (challenge, origin, RP id, user
    verification, the attestation's own signature when it has one); with its transports.

    Raises:
        PasskeyFailed: `passkey_failed` (reason `registration` or `cross_origin`).
    """
    try:
        parsed = parse_registration_credential_json(dict(credential))
    except _MALFORMED:
        raise PasskeyFailed("passkey_failed", "registration") from None
    _same_origin(parsed.response.client_data_json)
    try:
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id,
            expected_origin=origin,
            require_user_verification=True,
        )
    except _MALFORMED:
        raise PasskeyFailed("passkey_failed", "registration") from None
    return verified, [t.value for t in parsed.response.transports or ()]


def _same_origin(client_data_json: bytes) -> None:
    """Refuse a ceremony run inside a frame of another origin (py_webauthn reads the
    `crossOrigin` member but leaves the judgement to us)."""
    try:
        cross_origin = parse_client_data_json(client_data_json).cross_origin
    except _MALFORMED:
        raise PasskeyFailed("passkey_failed", "malformed") from None
    if cross_origin:
        raise PasskeyFailed("passkey_failed", "cross_origin")


# Helpers


async def _count(s: AsyncSession, user_id: str) -> int:
    return (
        await s.exec(
            select(func.count()).select_from(PasskeyRow).where(col(PasskeyRow.user_id) == user_id)
        )
    ).one()


async def _descriptors(svc: Services, user_id: str) -> list[PublicKeyCredentialDescriptor]:
    """The user's passkeys as the browser knows them (with their transports)."""
    async with svc.db.session() as s:
        rows = (
            await s.exec(
                select(PasskeyRow.credential_id, PasskeyRow.transports).where(
                    col(PasskeyRow.user_id) == user_id
                )
            )
        ).all()
    known = {t.value for t in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(credential_id),
            transports=[AuthenticatorTransport(t) for t in transports.split(",") if t in known],
        )
        for credential_id, transports in rows
    ]


async def _credential(svc: Services, credential_id: str) -> tuple[PasskeyRow, UserRow] | None:
    async with svc.db.session() as s:
        found = (
            await s.exec(
                select(PasskeyRow, UserRow)
                .join(UserRow, col(UserRow.id) == col(PasskeyRow.user_id))
                .where(col(PasskeyRow.credential_id) == credential_id)
            )
        ).first()
    return (found[0], found[1]) if found is not None else None


async def _address_of(svc: Services, user_id: str) -> str:
    async with svc.db.session() as s:
        return await primary_address(s, user_id) or ""


async def _failed(
    svc: Services, attempt: Attempt, meta: RequestMeta, reason: str, *, user_id: str | None = None
) -> None:
    """A failed passkey ceremony in the audit trail (the user's, when it is known)."""
    whose = replace(attempt, user_id=user_id or attempt.user_id)
    await record_failure(svc, whose, meta, method=PASSKEY, reason=reason)


async def _counter_regressed(
    svc: Services, attempt: Attempt, row: PasskeyRow, count: int, meta: RequestMeta
) -> None:
    """A signature counter that went back: two copies of one authenticator exist. The
    sign-in is refused, and the owner sees why in their security activity."""
    async with svc.db.session() as s:
        record_event(
            s,
            "passkey.counter_regressed",
            at=svc.clock(),
            meta=meta,
            user_id=row.user_id,
            passkey=row.name,
            stored=row.sign_count,
            received=count,
            attempt_id=attempt.id,
        )
