"""
The user's own profile: for now their names (email addresses, password, sessions and
account deletion come with the full profile).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col

from ..audit import record_event
from ..services import Services
from ..sessions import RequestMeta
from ..store.models import UserRow
from ..users import clean_name

__all__ = ["update_names"]


async def update_names(
    svc: Services, *, user_id: str, first_name: str | None, last_name: str | None, meta: RequestMeta
) -> None:
    """
    Save a user's first and last name.

    Raises:
        FieldError: a name is too long, has control characters, or is required and empty.
    """
    required = svc.settings.name_fields == "required"
    first = clean_name(first_name, field="first_name", required=required)
    last = clean_name(last_name, field="last_name", required=required)
    now = svc.clock()
    async with svc.db.session() as s:
        await s.exec(
            update(UserRow)
            .where(col(UserRow.id) == user_id)
            .values(first_name=first, last_name=last, updated_at=now)
        )
        record_event(s, "profile.updated", at=now, meta=meta, user_id=user_id)
