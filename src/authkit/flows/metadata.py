"""
Changing a user's metadata: merged in one transaction with the user's row locked, so
two merges at once each keep the other's keys (a read-merge-write without the lock
would lose one). Who changed what is audited (`metadata.updated`, the kinds only: the
values may be anything).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from ..audit import RequestMeta, record_event
from ..metadata import MAX_METADATA_BYTES, MetadataKind, checked_metadata, merged_metadata
from ..services import Services
from ..store.models import UserRow
from .locks import lock_user

__all__ = ["metadata_cap", "replace_metadata", "update_metadata"]


def metadata_cap(svc: Services, kind: MetadataKind) -> int:
    """The most `kind` may weigh here: 8 KB, or less when the session token carries it."""
    return svc.session_claims.cap(kind) if svc.session_claims else MAX_METADATA_BYTES


async def update_metadata(
    svc: Services,
    user_id: str,
    patches: Mapping[MetadataKind, object],
    *,
    meta: RequestMeta,
    by: str,
) -> dict[MetadataKind, dict[str, Any]] | None:
    """
    Merge each patch into the user's metadata of that kind; returns the user's metadata
    as now (the kinds patched), or None if there is no such user.

    Raises:
        FieldError: a patch is not a JSON object, or a result is over the size cap.
    """
    return await _write(svc, user_id, patches, merge=True, meta=meta, by=by)


async def replace_metadata(
    svc: Services,
    user_id: str,
    values: Mapping[MetadataKind, object],
    *,
    meta: RequestMeta,
    by: str,
    actor: str | None = None,
) -> dict[MetadataKind, dict[str, Any]] | None:
    """
    Set each kind given to the value given, whole; returns what is stored now, or None
    if there is no such user.

    Raises:
        FieldError: a value is not a JSON object, or is over the size cap.
    """
    return await _write(svc, user_id, values, merge=False, meta=meta, by=by, actor=actor)


async def _write(
    svc: Services,
    user_id: str,
    patches: Mapping[MetadataKind, object],
    *,
    merge: bool,
    meta: RequestMeta,
    by: str,
    actor: str | None = None,
) -> dict[MetadataKind, dict[str, Any]] | None:
    checked = {
        kind: checked_metadata(patch, kind=kind, max_bytes=metadata_cap(svc, kind))
        for kind, patch in patches.items()
    }
    async with svc.db.session() as s:
        # Locked first: two merges at once must each see the other's keys.
        if not await lock_user(s, user_id):
            return None
        row = await s.get(UserRow, user_id, populate_existing=True)
        if row is None:
            return None
        now = svc.clock()
        merged: dict[MetadataKind, dict[str, Any]] = {
            kind: checked_metadata(
                merged_metadata(getattr(row, kind) or {}, patch),
                kind=kind,
                max_bytes=metadata_cap(svc, kind),
            )
            if merge
            else patch
            for kind, patch in checked.items()
        }
        if merged:
            await s.exec(
                update(UserRow).where(col(UserRow.id) == user_id).values(**merged, updated_at=now)
            )
            record_event(
                s,
                "metadata.updated",
                at=now,
                meta=meta,
                user_id=user_id,
                by=by,
                kinds=",".join(sorted(merged)),
                actor=actor,
            )
    return merged
