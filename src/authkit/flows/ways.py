"""
The ways a user has to sign in, counted before one is taken away: disconnecting a
provider account or removing a passkey never leaves an account nobody can enter.
"""

from __future__ import annotations

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..services import Services
from ..store.models import EmailAddressRow, OAuthAccountRow, PasskeyRow, PasswordCredentialRow

__all__ = ["has_another_way"]

#: The first factors an address alone can sign in with, when the site offers them.
_ADDRESS_METHODS = ("email_code", "email_link")


async def has_another_way(
    svc: Services,
    s: AsyncSession,
    user_id: str,
    *,
    except_oauth_account: str | None = None,
    except_passkey: str | None = None,
) -> bool:
    """Whether the user could still sign in without the provider account or passkey
    named. Call it with the user's row locked (two removals at once must not each count
    the other's as the way left)."""
    methods = svc.settings.sign_in_method_list
    # Only a provider still configured is a way to sign in.
    configured = [p.name for p in svc.settings.oauth_providers]
    providers = (
        await s.exec(
            select(func.count())
            .select_from(OAuthAccountRow)
            .where(
                col(OAuthAccountRow.user_id) == user_id,
                col(OAuthAccountRow.id) != (except_oauth_account or ""),
                col(OAuthAccountRow.provider).in_(configured),
            )
        )
    ).one()
    if providers:
        return True
    # A passkey is a way in only while the site can offer passkeys (a domain name in
    # base_url, and not turned off).
    if svc.settings.passkey_rp_id is not None:
        passkeys = (
            await s.exec(
                select(func.count())
                .select_from(PasskeyRow)
                .where(
                    col(PasskeyRow.user_id) == user_id,
                    col(PasskeyRow.id) != (except_passkey or ""),
                )
            )
        ).one()
        if passkeys:
            return True
    if "password" in methods and await s.get(PasswordCredentialRow, user_id) is not None:
        return True
    if not any(m in methods for m in _ADDRESS_METHODS):
        return False
    verified = await s.exec(
        select(EmailAddressRow.id).where(
            col(EmailAddressRow.user_id) == user_id,
            col(EmailAddressRow.verified_at).is_not(None),
        )
    )
    return verified.first() is not None
