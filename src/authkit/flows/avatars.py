"""
The user's profile picture: set it from an upload (decoded and re-encoded by images.py,
throttled per account since every upload costs a decode), remove it, and find the
stored image a URL names. The user row carries the current picture's hash, written in
the same transaction as the picture, so a loaded user knows its URL.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete, update
from sqlmodel import col, select

from ..audit import RequestMeta, record_event
from ..errors import FieldError
from ..images import AVATAR_MAX_BYTES, MAX_PIXELS, ImageRefused, make_avatar
from ..services import Services
from ..store.models import AvatarRow, UserRow

__all__ = ["avatar_image", "check_upload_size", "checked_image", "remove_avatar", "set_avatar"]

#: The form field the upload comes in; a refused upload's message goes beside it.
FIELD = "image"
HASH_LENGTH = 64


async def set_avatar(
    svc: Services, *, user_id: str, data: bytes, meta: RequestMeta, by_host: bool = False
) -> str | None:
    """
    Make `data` (the uploaded file) the user's picture; returns its hash, or None when
    there is no such user. `by_host`: the host's own code asks (`authkit.users`), which
    is not throttled and is named so in the audit log.

    Raises:
        FieldError: on `image`: `image_required`, `image_too_large`, `image_format`,
            `image_damaged` or `image_too_many_pixels`.
        RateLimited: too many uploads from this account lately.
    """
    check_upload_size(data)
    if not by_host:
        await svc.limiter.hit("avatar_upload:account", user_id)
    webp = await checked_image(data)
    # Random bits as well as the content: the URL is public, and must not confirm to
    # someone holding a picture that this user chose it.
    content_hash = hashlib.sha256(secrets.token_bytes(16) + webp).hexdigest()
    now = svc.clock()
    async with svc.db.session() as s:
        # The user row first: it is locked until commit, so two uploads at once from
        # one account take turns instead of colliding on the avatar's key.
        changed = await s.exec(
            update(UserRow)
            .where(col(UserRow.id) == user_id)
            .values(image_hash=content_hash, updated_at=now)
        )
        if changed.rowcount != 1:
            return None
        await s.exec(delete(AvatarRow).where(col(AvatarRow.user_id) == user_id))
        s.add(AvatarRow(user_id=user_id, content_hash=content_hash, data=webp, created_at=now))
        record_event(s, "profile.image_updated", at=now, meta=meta, user_id=user_id, **_by(by_host))
    return content_hash


def check_upload_size(data: bytes) -> None:
    """
    Raises:
        FieldError: on `image`: `image_required` or `image_too_large`.
    """
    if not data:
        raise FieldError("image_required", field=FIELD)
    if len(data) > AVATAR_MAX_BYTES:
        raise FieldError("image_too_large", field=FIELD, max_mb=AVATAR_MAX_BYTES // 2**20)


async def checked_image(data: bytes) -> bytes:
    """The uploaded image, re-encoded as a clean 256 px WebP (images.py).

    Raises:
        FieldError: on `image`: `image_required`, `image_too_large`, `image_format`,
            `image_damaged` or `image_too_many_pixels`.
    """
    check_upload_size(data)
    try:
        return await make_avatar(data)
    except ImageRefused as refused:
        raise FieldError(
            refused.code,
            field=FIELD,
            max_mb=AVATAR_MAX_BYTES // 2**20,
            max_megapixels=MAX_PIXELS // 1_000_000,
        ) from None


async def remove_avatar(
    svc: Services, *, user_id: str, meta: RequestMeta, by_host: bool = False
) -> bool:
    """Remove the user's picture (their initials show again); False if they had none."""
    now = svc.clock()
    async with svc.db.session() as s:
        changed = await s.exec(
            update(UserRow)
            .where(col(UserRow.id) == user_id, col(UserRow.image_hash).is_not(None))
            .values(image_hash=None, updated_at=now)
        )
        await s.exec(delete(AvatarRow).where(col(AvatarRow.user_id) == user_id))
        if changed.rowcount != 1:
            return False
        record_event(s, "profile.image_removed", at=now, meta=meta, user_id=user_id, **_by(by_host))
    return True


def _by(by_host: bool) -> dict[str, str]:
    return {"by": "host"} if by_host else {}


async def avatar_image(svc: Services, user_id: str, content_hash: str) -> bytes | None:
    """The WebP a picture URL names, or None when the user has no picture by that hash
    (an older one, another user's, or none at all)."""
    if len(user_id) > 40 or len(content_hash) != HASH_LENGTH:
        return None
    async with svc.db.session() as s:
        return (
            await s.exec(
                select(AvatarRow.data).where(
                    col(AvatarRow.user_id) == user_id,
                    col(AvatarRow.content_hash) == content_hash,
                )
            )
        ).first()
