"""
The profile's connected accounts: the provider accounts linked to a user, listed, and
disconnected, but never the last way the user has to sign in. Connecting one is a
round trip to the provider (flows/social.py, `begin_provider_sign_in(connect_for=...)`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col, select

from ..audit import RequestMeta, record_event
from ..errors import FlowError, NotFound
from ..services import Services
from ..store.models import OAuthAccountRow
from .locks import lock_user
from .ways import has_another_way

__all__ = ["ConnectedAccount", "disconnect_account", "list_connected_accounts"]


@dataclass(frozen=True, slots=True)
class ConnectedAccount:
    id: str
    #: The provider's configured name, and its label as the buttons show it.
    provider: str
    label: str
    email: str
    connected_at: datetime
    #: The provider's preset (its mark), if it is one.
    preset: str | None = None


async def list_connected_accounts(svc: Services, user_id: str) -> list[ConnectedAccount]:
    """The user's provider accounts, oldest first."""
    async with svc.db.session() as s:
        rows = (
            await s.exec(
                select(OAuthAccountRow)
                .where(col(OAuthAccountRow.user_id) == user_id)
                .order_by(col(OAuthAccountRow.created_at))
            )
        ).all()
    return [
        ConnectedAccount(
            row.id,
            row.provider,
            _label(svc, row.provider),
            row.email,
            row.created_at,
            preset=_preset(svc, row.provider),
        )
        for row in rows
    ]


async def disconnect_account(
    svc: Services, *, user_id: str, account_id: str, meta: RequestMeta
) -> None:
    """
    Unlink one of the user's provider accounts.

    Raises:
        NotFound: not one of the user's.
        FlowError: `oauth_last_way`, it is the only way left to sign in.
    """
    async with svc.db.session() as s:
        # Two disconnects at once must not both see the other's link as a way left:
        # the user's row is locked first (on both stores: flows/locks.py).
        await lock_user(s, user_id)
        row = await s.get(OAuthAccountRow, account_id)
        if row is None or row.user_id != user_id:
            raise NotFound()
        if not await has_another_way(svc, s, user_id, except_oauth_account=row.id):
            raise FlowError("oauth_last_way", provider=_label(svc, row.provider))
        await s.exec(delete(OAuthAccountRow).where(col(OAuthAccountRow.id) == row.id))
        record_event(
            s,
            "oauth.disconnected",
            at=svc.clock(),
            meta=meta,
            user_id=user_id,
            provider=row.provider,
        )


def _preset(svc: Services, name: str) -> str | None:
    provider = svc.settings.oauth_provider(name)
    return provider.preset if provider is not None else None


def _label(svc: Services, name: str) -> str:
    provider = svc.settings.oauth_provider(name)
    return provider.label if provider is not None else name.capitalize()
