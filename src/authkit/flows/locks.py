"""
Taking a user's row before a read-check-write (a limit counted, a last way in kept, a
merge of metadata), so two requests at once run one after the other.

`SELECT ... FOR UPDATE` does that on PostgreSQL but nothing on SQLite, whose deferred
transactions let two readers read before either writes. An UPDATE that changes nothing
takes the row lock on PostgreSQL and SQLite's write lock at once, on both stores.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ..store.models import OrganizationRow, UserRow

__all__ = ["lock_organization", "lock_user"]


async def lock_user(s: AsyncSession, user_id: str) -> bool:
    """Lock the user's row for the rest of the open transaction `s`; False if there is
    no such user."""
    touched = await s.exec(
        update(UserRow)
        .where(col(UserRow.id) == user_id)
        .values(credential_generation=UserRow.credential_generation)
    )
    return bool(touched.rowcount == 1)


async def lock_organization(s: AsyncSession, organization_id: str) -> bool:
    """Lock the organization's row for the rest of `s` (its members and invitations are
    counted and its admins kept under it); False if there is no such organization."""
    touched = await s.exec(
        update(OrganizationRow)
        .where(col(OrganizationRow.id) == organization_id)
        .values(updated_at=OrganizationRow.updated_at)
    )
    return bool(touched.rowcount == 1)
