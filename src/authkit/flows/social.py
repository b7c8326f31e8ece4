"""
Signing in through a provider: the round trip and the account rules.

`begin_provider_sign_in` starts a sign-in attempt (flows/attempts.py) for the factor
`oauth_<name>`, keeping on it a keyed hash of the `state`, the `nonce` and the PKCE
verifier; the attempt is bound to the browser, so a callback only works in the browser
that started it (no login CSRF). `finish_provider_sign_in` checks the state, claims the
attempt once (a replayed callback finds it used), lets Authlib exchange the code and
verify the id_token, then applies the account rules:

- a provider account already linked signs its user in;
- otherwise an existing account with the same address is linked only when the provider
  says the address is verified and the account's address is verified too;
- otherwise a new account is made with the (verified) address.

The attempt then goes on through the sign-in pipeline like any first factor: the second
factor when the user has one, then the session.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from cryptography.fernet import Fernet
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..addresses import normalize_email
from ..audit import RequestMeta, record_event
from ..errors import FieldError, FlowError
from ..i18n.locales import current_locale
from ..ids import new_id
from ..security.secrets import keyed_hash
from ..services import Services
from ..social.client import ProviderError, ProviderIdentity
from ..social.providers import OAuthProvider
from ..store.models import EmailAddressRow, OAuthAccountRow, UserRow
from . import sign_up_access
from .attempts import Attempt, Purpose, new_attempt, save_attempt
from .sign_in import RETURN_TO, Step, claim_attempt, submit_proven_first_factor

__all__ = [
    "OAUTH_ERRORS",
    "ProviderSignInFailed",
    "begin_provider_sign_in",
    "finish_provider_connect",
    "finish_provider_sign_in",
]

#: Every sentence a provider's sign-in can end with (`ProviderSignInFailed.code`).
OAUTH_ERRORS = frozenset(
    {
        "oauth_expired",
        "oauth_denied",
        "oauth_unavailable",
        "oauth_failed",
        "oauth_no_email",
        "oauth_email_unverified",
        "oauth_connected_elsewhere",
        # A new account the site's sign-up rules refuse (sign_up_access.py).
        "sign_up_closed",
        "sign_up_invitation_only",
        "sign_up_address_refused",
    }
)

#: Callback parameters longer than this are not a provider's.
MAX_PARAM_LENGTH = 2048


class ProviderSignInFailed(FlowError):
    """A provider's sign-in did not work out; `code` keys the sentence the sign-in page
    shows, `reason` is what the audit trail records."""

    def __init__(self, code: str, reason: str, *, user_id: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.reason = reason
        #: The account it concerns, when known (a banned user's): for the audit row.
        self.user_id = user_id


@dataclass(frozen=True, slots=True)
class _Account:
    user_id: str
    email: str
    credential_generation: int


async def begin_provider_sign_in(
    svc: Services,
    provider: OAuthProvider,
    *,
    redirect_uri: str,
    return_to: str,
    browser: str,
    meta: RequestMeta,
    connect_for: tuple[str, str] | None = None,
) -> tuple[Attempt, str]:
    """
    A new sign-in attempt for `provider`, saved, and the URL to send the browser to.
    `connect_for` (user id, session id): the round trip connects the provider account
    to that signed-in user instead of signing in (the profile's "Connect").

    Raises:
        RateLimited: too many sign-ins from this IP.
        ProviderSignInFailed: `oauth_unavailable` (the provider's discovery failed).
    """
    await svc.limiter.hit("sign_in:ip", meta.ip_address)
    try:
        authorization = await svc.social.authorize(provider.name, redirect_uri)
    except ProviderError as exc:
        await _record_failure(svc, provider, exc.reason, meta)
        raise ProviderSignInFailed("oauth_unavailable", exc.reason) from None
    attempt = (
        new_attempt(svc, purpose=Purpose.SIGN_IN, identifier="", user_id=None)
        .with_state(
            provider.factor,
            {
                "state": _state_hash(svc, authorization.state),
                "nonce": authorization.nonce,
                "verifier": authorization.code_verifier,
                **({"connect": list(connect_for)} if connect_for else {}),
            },
        )
        .with_state(RETURN_TO, {"url": return_to})
    )
    async with svc.db.session() as s:
        await save_attempt(svc, s, attempt, browser=browser, previous=None)
    return replace(attempt, is_saved=True), authorization.url


async def finish_provider_sign_in(
    svc: Services,
    provider: OAuthProvider,
    attempt: Attempt | None,
    params: Mapping[str, str],
    *,
    redirect_uri: str,
    browser: str,
    meta: RequestMeta,
) -> Step:
    """
    The provider's callback: check it, claim the attempt, identify, apply the account
    rules and move the attempt on.

    Raises:
        ProviderSignInFailed: with the sentence's code; the failure is audited.
        RateLimited: too many sign-ins and callbacks from this IP.
    """
    # Each callback costs a provider round trip and an audit row: counted like any
    # sign-in from this IP, so a flood of forged ones is refused before either.
    await svc.limiter.hit("sign_in:ip", meta.ip_address)
    try:
        claimed, identity = await _identify(svc, provider, attempt, params, redirect_uri)
        if claimed.state_of(provider.factor).get("connect"):
            raise ProviderSignInFailed("oauth_expired", "connect_round_trip")
        account = await _account_for(svc, provider, identity, meta)
    except ProviderSignInFailed as failed:
        await _record_failure(svc, provider, failed.reason, meta, user_id=failed.user_id)
        raise
    return await submit_proven_first_factor(
        svc,
        claimed,
        provider.factor,
        user_id=account.user_id,
        identifier=account.email,
        credential_generation=account.credential_generation,
        browser=browser,
        meta=meta,
    )


async def finish_provider_connect(
    svc: Services,
    provider: OAuthProvider,
    attempt: Attempt | None,
    params: Mapping[str, str],
    *,
    user_id: str,
    session_id: str,
    redirect_uri: str,
    meta: RequestMeta,
) -> None:
    """
    The callback of a "Connect" round trip started by this signed-in session: link the
    provider account to the user (its address need not be one of theirs: they proved
    both). One linked to another user stays theirs.

    Raises:
        ProviderSignInFailed: as for a sign-in, or `oauth_connected_elsewhere`.
    """
    await svc.limiter.hit("sign_in:ip", meta.ip_address)
    try:
        claimed, identity = await _identify(svc, provider, attempt, params, redirect_uri)
        if claimed.state_of(provider.factor).get("connect") != [user_id, session_id]:
            raise ProviderSignInFailed("oauth_expired", "connect_other_session")
        await _connect(svc, provider, identity, user_id=user_id, meta=meta)
    except ProviderSignInFailed as failed:
        await _record_failure(svc, provider, failed.reason, meta, user_id=user_id)
        raise


async def _connect(
    svc: Services,
    provider: OAuthProvider,
    identity: ProviderIdentity,
    *,
    user_id: str,
    meta: RequestMeta,
) -> None:
    try:
        async with svc.db.session() as s:
            holder = (
                await s.exec(
                    select(OAuthAccountRow.user_id).where(
                        col(OAuthAccountRow.provider) == provider.name,
                        col(OAuthAccountRow.subject) == identity.subject,
                    )
                )
            ).first()
            if holder == user_id:
                return  # connected already (another tab): nothing to do
            if holder is not None:
                raise ProviderSignInFailed("oauth_connected_elsewhere", "connected_elsewhere")
            email = identity.email if identity.email else ""
            _link(svc, s, provider, identity, user_id=user_id, email=email)
            record_event(
                s,
                "oauth.linked",
                at=svc.clock(),
                meta=meta,
                user_id=user_id,
                provider=provider.name,
            )
    except IntegrityError:
        raise ProviderSignInFailed("oauth_connected_elsewhere", "parallel_link") from None


async def _identify(
    svc: Services,
    provider: OAuthProvider,
    attempt: Attempt | None,
    params: Mapping[str, str],
    redirect_uri: str,
) -> tuple[Attempt, ProviderIdentity]:
    """Check the callback against this browser's attempt, claim the attempt (once),
    and have the provider say who signed in."""
    if any(len(value) > MAX_PARAM_LENGTH for value in params.values()):
        raise ProviderSignInFailed("oauth_failed", "oversized_callback")
    stored = attempt.state_of(provider.factor) if attempt is not None else {}
    if attempt is None or not stored:
        # No attempt in this browser, an expired one, or one started for another
        # provider (a mix-up): nothing here asked this provider for a sign-in.
        raise ProviderSignInFailed("oauth_expired", "no_attempt")
    if not hmac.compare_digest(_state_hash(svc, params.get("state", "")), str(stored["state"])):
        raise ProviderSignInFailed("oauth_expired", "state_mismatch")
    if "iss" in params and provider.rules.protocol == "oidc":
        # RFC 9207: the answer names another issuer than the one asked (a mix-up).
        try:
            same = await svc.social.names_issuer(provider.name, params["iss"])
        except ProviderError as exc:
            raise ProviderSignInFailed("oauth_unavailable", exc.reason) from None
        if not same:
            raise ProviderSignInFailed("oauth_failed", "issuer_mismatch")
    if not await claim_attempt(svc, attempt, provider.factor):
        raise ProviderSignInFailed("oauth_expired", "state_reused")
    claimed = replace(attempt, first_factor=provider.factor)
    if "error" in params:
        denied = params["error"] == "access_denied"
        # The provider's error code, as letters and underscores only (it is theirs).
        code = re.sub(r"[^a-z_]", "", params["error"].lower())[:40] or "unknown"
        reason = "denied" if denied else f"provider_error_{code}"
        raise ProviderSignInFailed("oauth_denied" if denied else "oauth_failed", reason)
    code = params.get("code", "")
    if not code:
        raise ProviderSignInFailed("oauth_failed", "no_code")
    try:
        identity = await svc.social.identify(
            provider.name,
            code=code,
            code_verifier=str(stored["verifier"]),
            nonce=str(stored["nonce"]),
            redirect_uri=redirect_uri,
            apple_user=params.get("user"),
        )
    except ProviderError as exc:
        unavailable = exc.reason.endswith(("_timeout", "_unreachable", "_status"))
        raise ProviderSignInFailed(
            "oauth_unavailable" if unavailable else "oauth_failed", exc.reason
        ) from None
    return claimed, identity


async def _account_for(
    svc: Services, provider: OAuthProvider, identity: ProviderIdentity, meta: RequestMeta
) -> _Account:
    """Whose account the provider's identity is: linked, linked now, or new."""
    try:
        async with svc.db.session() as s:
            return await _resolve(svc, s, provider, identity, meta)
    except IntegrityError:
        # A parallel callback linked or created it first: the next try finds it.
        raise ProviderSignInFailed("oauth_failed", "parallel_link") from None


async def _resolve(
    svc: Services,
    s: AsyncSession,
    provider: OAuthProvider,
    identity: ProviderIdentity,
    meta: RequestMeta,
) -> _Account:
    now = svc.clock()
    linked = (
        await s.exec(
            select(OAuthAccountRow, UserRow)
            .join(UserRow, col(UserRow.id) == col(OAuthAccountRow.user_id))
            .where(
                col(OAuthAccountRow.provider) == provider.name,
                col(OAuthAccountRow.subject) == identity.subject,
            )
        )
    ).first()
    if linked is not None:
        link, user = linked
        _refuse_banned(user)
        link.last_used_at = now
        # Kept only while the provider is set to keep them: turned off, they go.
        link.tokens_encrypted = _sealed(svc, identity) if provider.store_tokens else None
        s.add(link)
        return _Account(user.id, await _primary_email(s, user.id), user.credential_generation)
    if identity.email is None:
        raise ProviderSignInFailed("oauth_no_email", "no_email")
    try:
        address = normalize_email(identity.email)
    except FieldError:
        raise ProviderSignInFailed("oauth_no_email", "email_invalid") from None
    owner = (
        await s.exec(
            select(EmailAddressRow).where(col(EmailAddressRow.normalized) == address.normalized)
        )
    ).first()
    if owner is not None:
        # Linking by address is taking over the account: only on the provider's word
        # that the address is its user's, and only to an address the account verified.
        # The sentences are those of a new address, so they tell nobody the address
        # has an account here.
        if not identity.email_verified:
            raise ProviderSignInFailed("oauth_email_unverified", "link_unverified")
        if owner.verified_at is None:
            raise ProviderSignInFailed("oauth_failed", "address_unverified_here")
        holder = await s.get(UserRow, owner.user_id)
        assert holder is not None
        _refuse_banned(holder)
        _link(svc, s, provider, identity, user_id=holder.id, email=address.email)
        record_event(
            s, "oauth.linked", at=now, meta=meta, user_id=holder.id, provider=provider.name
        )
        email = await _primary_email(s, holder.id)
        return _Account(holder.id, email, holder.credential_generation)
    if not identity.email_verified:
        raise ProviderSignInFailed("oauth_email_unverified", "email_unverified")
    try:
        # A new account: the site's sign-up rules hold here as on the sign-up form.
        await sign_up_access.gate(svc, address, within=s)
    except FlowError as refused:
        raise ProviderSignInFailed(refused.code, "sign_up_refused") from None
    user_id = new_id("user")
    s.add(
        UserRow(
            id=user_id,
            first_name=identity.first_name,
            last_name=identity.last_name,
            created_at=now,
            updated_at=now,
            locale=current_locale(),
        )
    )
    await s.flush()
    s.add(
        EmailAddressRow(
            id=new_id("email"),
            user_id=user_id,
            email=address.email,
            normalized=address.normalized,
            is_primary=True,
            verified_at=now,
            created_at=now,
        )
    )
    _link(svc, s, provider, identity, user_id=user_id, email=address.email)
    record_event(s, "sign_up.completed", at=now, meta=meta, user_id=user_id, method=provider.factor)
    await sign_up_access.mark_invitation_used(svc, s, address.normalized)
    await s.flush()
    return _Account(user_id, address.email, 0)


def _link(
    svc: Services,
    s: AsyncSession,
    provider: OAuthProvider,
    identity: ProviderIdentity,
    *,
    user_id: str,
    email: str,
) -> None:
    now = svc.clock()
    s.add(
        OAuthAccountRow(
            id=new_id("oauth"),
            user_id=user_id,
            provider=provider.name,
            subject=identity.subject,
            email=email,
            created_at=now,
            last_used_at=now,
            tokens_encrypted=_sealed(svc, identity) if provider.store_tokens else None,
        )
    )


def _refuse_banned(user: UserRow) -> None:
    if user.banned_at is not None:
        raise ProviderSignInFailed("oauth_failed", "banned", user_id=user.id)


async def _primary_email(s: AsyncSession, user_id: str) -> str:
    found = (
        await s.exec(
            select(EmailAddressRow.email).where(
                col(EmailAddressRow.user_id) == user_id, col(EmailAddressRow.is_primary)
            )
        )
    ).first()
    return found or ""


def _sealed(svc: Services, identity: ProviderIdentity) -> str:
    payload = json.dumps(dict(identity.tokens), separators=(",", ":"), default=str)
    return Fernet(svc.oauth_token_key).encrypt(payload.encode()).decode()


def _state_hash(svc: Services, state: str) -> str:
    return keyed_hash(svc.code_key, "oauth-state", state)


async def _record_failure(
    svc: Services,
    provider: OAuthProvider,
    reason: str,
    meta: RequestMeta,
    *,
    user_id: str | None = None,
) -> None:
    async with svc.db.session() as s:
        record_event(
            s,
            "oauth.failed",
            at=svc.clock(),
            meta=meta,
            user_id=user_id,
            provider=provider.name,
            reason=reason,
        )
