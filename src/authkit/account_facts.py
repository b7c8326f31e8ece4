"""
Everything an account has, read in one transaction: its row, addresses, connected
accounts and sign-in methods. The admin console's user page and the webhooks' user
object show the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .store.models import (
    AuthenticatorRow,
    EmailAddressRow,
    OAuthAccountRow,
    PasskeyRow,
    PasswordCredentialRow,
    RecoveryCodeRow,
    UserRow,
)

__all__ = ["AccountFacts", "account_facts"]


@dataclass(frozen=True, slots=True)
class AccountFacts:
    user: UserRow
    #: Oldest first.
    addresses: list[EmailAddressRow]
    connected: list[OAuthAccountRow]
    has_password: bool
    has_totp: bool
    passkeys: int
    recovery_codes_left: int

    @property
    def primary(self) -> EmailAddressRow | None:
        return next((a for a in self.addresses if a.is_primary), None)


async def account_facts(s: AsyncSession, user_id: str) -> AccountFacts | None:
    """The account's facts, or None when there is no such user."""
    user = await s.get(UserRow, user_id)
    if user is None:
        return None
    addresses = (
        await s.exec(
            select(EmailAddressRow)
            .where(col(EmailAddressRow.user_id) == user_id)
            .order_by(col(EmailAddressRow.created_at))
        )
    ).all()
    connected = (
        await s.exec(select(OAuthAccountRow).where(col(OAuthAccountRow.user_id) == user_id))
    ).all()
    totp = (
        await s.exec(
            select(AuthenticatorRow.id).where(
                col(AuthenticatorRow.user_id) == user_id,
                col(AuthenticatorRow.confirmed_at).is_not(None),
            )
        )
    ).first()
    passkeys = (
        await s.exec(
            select(func.count()).select_from(PasskeyRow).where(col(PasskeyRow.user_id) == user_id)
        )
    ).one()
    unused_codes = (
        col(RecoveryCodeRow.user_id) == user_id,
        col(RecoveryCodeRow.used_at).is_(None),
    )
    codes = (
        await s.exec(select(func.count()).select_from(RecoveryCodeRow).where(*unused_codes))
    ).one()
    return AccountFacts(
        user=user,
        addresses=list(addresses),
        connected=list(connected),
        has_password=await s.get(PasswordCredentialRow, user_id) is not None,
        has_totp=totp is not None,
        passkeys=int(passkeys),
        recovery_codes_left=int(codes),
    )
