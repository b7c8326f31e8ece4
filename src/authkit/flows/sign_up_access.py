"""
Who may make an account (`AUTHKIT_SIGN_UP`, the allow and block lists, throwaway-mail
domains), checked wherever an account can begin: the sign-up form, social sign-up.

- `open`: anyone whose address the lists let through;
- `invite`: only an address with a pending invitation, to sign up (from an admin, the
  host's code, the CLI) or to an organization;
- `waitlist`: as `invite`, and anyone may ask on the waitlist form; an admin approving
  them sends the invitation;
- `closed`: nobody (sign-in goes on working).

A refused address hears one sentence whichever rule refused it, so the lists cannot be
probed; an address that already has an account is never told so here. Invitations to
sign up are mailed with a link to the sign-up page with the address filled in; the code
sign-up mails still proves the address (a forwarded link is no proof).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from disposable_email_domains import blocklist as disposable_domains
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..addresses import Address, normalize_email
from ..audit import RequestMeta, record_event
from ..clock import as_utc
from ..config import Settings
from ..errors import FieldError, FlowError, SignUpClosed
from ..ids import new_id
from ..security.secrets import token_hash
from ..services import Services
from ..store.models import OrgInvitationRow, SignUpInvitationRow, WaitlistEntryRow
from ..users import refuse_taken_address
from .bot_check import BotEvidence, check_human
from .notices import compose, site_url

__all__ = [
    "AddressLists",
    "SignUpInvitation",
    "WaitlistEntry",
    "approve",
    "check_address",
    "gate",
    "invitation_email",
    "invite",
    "join_waitlist",
    "mark_invitation_used",
    "waiting_entry",
    "waitlist",
]

_TOKEN_BYTES = 32
_MAX_TOKEN_LENGTH = 64


class NotInvited(FlowError):
    """Sign-up is by invitation, and this address has none."""

    code = "sign_up_invitation_only"
    field = "email"


@dataclass(frozen=True, slots=True)
class AddressLists:
    """The allow and block lists: addresses, and domains that cover their subdomains."""

    allowed: frozenset[str]
    blocked: frozenset[str]
    block_disposable: bool

    @classmethod
    def of(cls, settings: Settings) -> AddressLists:
        return cls(
            _entries(settings.sign_up_allowlist),
            _entries(settings.sign_up_blocklist),
            settings.block_disposable_emails,
        )

    def admits(self, normalized: str) -> bool:
        """Whether the address (in its comparison form) may sign up."""
        allowed = _listed(normalized, self.allowed)
        if self.allowed and not allowed:
            return False
        if _listed(normalized, self.blocked):
            return False
        domain = normalized.rpartition("@")[2]
        return allowed or not (self.block_disposable and _in_domains(domain, disposable_domains))


def _entries(text: str) -> frozenset[str]:
    return frozenset(e.strip().lower().removeprefix("@") for e in text.split(",") if e.strip())


def _listed(normalized: str, entries: frozenset[str]) -> bool:
    return normalized in entries or _in_domains(normalized.rpartition("@")[2], entries)


def _in_domains(domain: str, domains: frozenset[str] | set[str]) -> bool:
    """`domain` or one of its parent domains is in `domains`."""
    labels = domain.split(".")
    return any(".".join(labels[i:]) in domains for i in range(len(labels) - 1))


def check_address(svc: Services, address: Address) -> None:
    """
    Raises:
        FieldError: `sign_up_address_refused` on `email`: a list or the throwaway-mail
            domains refuse it (one sentence for all of them).
    """
    if not AddressLists.of(svc.settings).admits(address.normalized):
        raise FieldError("sign_up_address_refused", field="email")


async def gate(svc: Services, address: Address, *, within: AsyncSession | None = None) -> None:
    """
    May `address` make an account now? Asked in the open transaction `within`, else in a
    transaction of its own (none at all when sign-up is open: only the lists are read).

    Raises:
        SignUpClosed: sign-up is closed.
        FieldError: the lists refuse the address.
        NotInvited: sign-up is by invitation (or waitlist) and the address has no
            pending invitation, to sign up or to an organization.
    """
    mode = svc.settings.sign_up
    if mode == "closed":
        raise SignUpClosed()
    check_address(svc, address)
    if mode == "open":
        return
    if within is None:
        async with svc.db.session() as s:
            await _require_invitation(svc, s, address)
    else:
        await _require_invitation(svc, within, address)


async def _require_invitation(svc: Services, s: AsyncSession, address: Address) -> None:
    tables: list[type[SignUpInvitationRow] | type[OrgInvitationRow]] = [SignUpInvitationRow]
    if svc.settings.organizations:
        tables.append(OrgInvitationRow)
    for table in tables:
        pending = (
            await s.exec(
                select(table.id).where(
                    col(table.normalized) == address.normalized,
                    col(table.status) == "pending",
                    col(table.expires_at) > svc.clock(),
                )
            )
        ).first()
        if pending is not None:
            return
    raise NotInvited()


async def mark_invitation_used(svc: Services, s: AsyncSession, normalized: str) -> None:
    """The address made its account: its invitations to sign up are used up."""
    now = svc.clock()
    await s.exec(
        update(SignUpInvitationRow)
        .where(
            col(SignUpInvitationRow.normalized) == normalized,
            col(SignUpInvitationRow.status) == "pending",
        )
        .values(status="accepted", accepted_at=now)
    )


@dataclass(frozen=True, slots=True)
class SignUpInvitation:
    id: str
    email: str
    status: str
    created_at: datetime
    expires_at: datetime


async def invite(
    svc: Services, *, email: str, actor_id: str | None, meta: RequestMeta
) -> SignUpInvitation:
    """
    Mail `email` an invitation to sign up (a new link in place of an older one). Works
    in every mode; in `open` the link is a friendly way in.

    Raises:
        FieldError: the address is wrong, or already has an account (`email_taken`:
            only admins and the host invite, and they may know).
    """
    address = normalize_email(email)
    now = svc.clock()
    async with svc.db.session() as s:
        await refuse_taken_address(s, address.normalized)
        row, mail_id = await _invite(svc, s, address, actor_id=actor_id, meta=meta)
    svc.outbox.send_soon(mail_id)
    return _view(row, now)


async def _invite(
    svc: Services, s: AsyncSession, address: Address, *, actor_id: str | None, meta: RequestMeta
) -> tuple[SignUpInvitationRow, str]:
    now = svc.clock()
    await s.exec(
        update(SignUpInvitationRow)
        .where(
            col(SignUpInvitationRow.normalized) == address.normalized,
            col(SignUpInvitationRow.status) == "pending",
        )
        .values(status="revoked")
    )
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    row = SignUpInvitationRow(
        id=new_id("suinv"),
        email=address.email,
        normalized=address.normalized,
        token_hash=token_hash(token),
        inviter_id=actor_id,
        created_at=now,
        expires_at=now + timedelta(seconds=svc.settings.sign_up_invitation_lifetime),
    )
    s.add(row)
    record_event(s, "sign_up.invited", at=now, meta=meta, invitation=row.id, actor=actor_id)
    message = compose(
        svc,
        "sign_up_invitation",
        address.email,
        accept_url=site_url(svc, f"/sign-up?invitation={token}"),
        days=max(1, svc.settings.sign_up_invitation_lifetime // 86400),
    )
    mail_id = await svc.outbox.add(s, message, not_after=row.expires_at, about=f"suinv:{row.id}")
    return row, mail_id


def _view(row: SignUpInvitationRow, now: datetime) -> SignUpInvitation:
    status = row.status
    if status == "pending" and as_utc(row.expires_at) <= now:
        status = "expired"
    return SignUpInvitation(row.id, row.email, status, row.created_at, row.expires_at)


async def invitation_email(svc: Services, token: str) -> str | None:
    """The address a link's pending invitation is for (to fill in the form), or None."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    async with svc.db.session() as s:
        row = (
            await s.exec(
                select(SignUpInvitationRow).where(
                    col(SignUpInvitationRow.token_hash) == token_hash(token)
                )
            )
        ).first()
    if row is None or _view(row, svc.clock()).status != "pending":
        return None
    return row.email


@dataclass(frozen=True, slots=True)
class WaitlistEntry:
    id: str
    email: str
    status: str
    created_at: datetime


async def join_waitlist(
    svc: Services, *, email: str, meta: RequestMeta, evidence: BotEvidence | None = None
) -> None:
    """
    Put `email` on the waitlist. The same answer whether it was there already, has an
    account, or is new: the page tells nobody anything about an address. `evidence` is
    what the visitor's form carried for bot protection (None: not a visitor's form).

    Raises:
        SignUpClosed: the site has no waitlist (`AUTHKIT_SIGN_UP` is not `waitlist`).
        FieldError: the address is wrong, the lists refuse it, or a bot sent the form.
        RateLimited: too many from this client lately.
    """
    if svc.settings.sign_up != "waitlist":
        raise SignUpClosed()
    if evidence is not None:
        await check_human(svc, "sign_up", evidence, meta)
    address = normalize_email(email)
    check_address(svc, address)
    await svc.limiter.hit("sign_up:ip", meta.ip_address)
    now = svc.clock()
    async with svc.db.session() as s:
        there = (
            await s.exec(
                select(WaitlistEntryRow.id).where(
                    col(WaitlistEntryRow.normalized) == address.normalized
                )
            )
        ).first()
        if there is None:
            s.add(
                WaitlistEntryRow(
                    id=new_id("wait"),
                    email=address.email,
                    normalized=address.normalized,
                    created_at=now,
                )
            )
            record_event(s, "waitlist.joined", at=now, meta=meta)


async def waitlist(
    svc: Services, *, status: str = "waiting", limit: int = 200
) -> list[WaitlistEntry]:
    """The waitlist, oldest first (first come, first served)."""
    async with svc.db.session() as s:
        rows = (
            await s.exec(
                select(WaitlistEntryRow)
                .where(col(WaitlistEntryRow.status) == status)
                .order_by(col(WaitlistEntryRow.created_at), col(WaitlistEntryRow.id))
                .limit(max(1, min(limit, 1000)))
            )
        ).all()
    return [WaitlistEntry(r.id, r.email, r.status, r.created_at) for r in rows]


async def waiting_entry(svc: Services, email: str) -> WaitlistEntry | None:
    """The waiting entry of `email` (any spelling), or None."""
    try:
        normalized = normalize_email(email).normalized
    except FieldError:
        return None
    async with svc.db.session() as s:
        row = (
            await s.exec(
                select(WaitlistEntryRow).where(
                    col(WaitlistEntryRow.normalized) == normalized,
                    col(WaitlistEntryRow.status) == "waiting",
                )
            )
        ).first()
    return None if row is None else WaitlistEntry(row.id, row.email, row.status, row.created_at)


async def approve(svc: Services, *, entry_id: str, actor_id: str | None, meta: RequestMeta) -> bool:
    """Let a waiting entry in: it is mailed an invitation to sign up. False when there
    is no such entry waiting (approved already, or by someone else just now)."""
    now = svc.clock()
    async with svc.db.session() as s:
        moved = await s.exec(
            update(WaitlistEntryRow)
            .where(col(WaitlistEntryRow.id) == entry_id, col(WaitlistEntryRow.status) == "waiting")
            .values(status="invited", decided_at=now)
        )
        if moved.rowcount != 1:
            return False
        entry = await s.get(WaitlistEntryRow, entry_id)
        assert entry is not None
        address = Address(email=entry.email, normalized=entry.normalized)
        _, mail_id = await _invite(svc, s, address, actor_id=actor_id, meta=meta)
    svc.outbox.send_soon(mail_id)
    return True
