"""
The user's own profile: for now their names (email addresses, password, sessions and
account deletion come with the full profile).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col

from ..audit import record_event
from ..errors import FieldError
from ..services import Services
from ..sessions import RequestMeta
from ..store.models import UserRow
from ..users import clean_name

__all__ = ["update_names"]


async def update_names(
    svc: Services,
    *,
    user_id: str,
    first_name: str | None,
    last_name: str | None,
    meta: RequestMeta,
    locale: str | None = None,
) -> None:
    """
    Save a user's first and last name, and with `locale` the language of their emails
    (one of the site's languages).

    Raises:
        FieldError: a name is too long, has control characters, or is required and empty;
            `language_unknown` for a language the site does not offer.
    """
    required = svc.settings.name_fields == "required"
    first = clean_name(first_name, field="first_name", required=required)
    last = clean_name(last_name, field="last_name", required=required)
    values: dict[str, object] = {"first_name": first, "last_name": last}
    if locale is not None:
        if locale not in svc.locales.languages:
            raise FieldError("language_unknown", field="locale")
        values["locale"] = locale
    now = svc.clock()
    async with svc.db.session() as s:
        await s.exec(
            update(UserRow).where(col(UserRow.id) == user_id).values(**values, updated_at=now)
        )
        record_event(s, "profile.updated", at=now, meta=meta, user_id=user_id)
