"""
The three metadata objects every user carries, as Clerk's: `public_metadata` (the
server writes it; tokens and the user may read it), `private_metadata` (the server
only) and `unsafe_metadata` (the user may write it, so nothing may trust it).

Each is a JSON object of at most `MAX_METADATA_BYTES` (compact UTF-8). Replacing one
sets it whole; merging one (Clerk's `updateUserMetadata`) merges objects key by key,
deeply, and a key set to null is removed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Literal

from .errors import FieldError

__all__ = [
    "MAX_METADATA_BYTES",
    "METADATA_KINDS",
    "MetadataKind",
    "checked_metadata",
    "merged_metadata",
]

#: The most one metadata object may weigh, serialised compactly.
MAX_METADATA_BYTES = 8 * 1024
MetadataKind = Literal["public_metadata", "private_metadata", "unsafe_metadata"]
METADATA_KINDS: tuple[MetadataKind, ...] = (
    "public_metadata",
    "private_metadata",
    "unsafe_metadata",
)


def checked_metadata(
    value: object, *, kind: MetadataKind, max_bytes: int = MAX_METADATA_BYTES
) -> dict[str, Any]:
    """
    `value` as a metadata object to store: a JSON object (string keys, JSON values,
    no NaN or infinity) within `max_bytes` (smaller than the usual cap when the session
    token carries it: jwt_templates/session_claims.py), as a plain dict.

    Raises:
        FieldError: `metadata_not_object`, `metadata_not_json` or `metadata_too_large`
            (field `kind`).
    """
    if not isinstance(value, Mapping):
        raise FieldError("metadata_not_object", field=kind)
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise FieldError("metadata_not_json", field=kind) from None
    if len(text.encode()) > max_bytes:
        size = f"{max_bytes // 1024} KB" if max_bytes % 1024 == 0 else f"{max_bytes} bytes"
        raise FieldError("metadata_too_large", field=kind, size=size)
    loaded: dict[str, Any] = json.loads(text)  # a copy of plain JSON types, keys as text
    if not _finite(loaded):
        raise FieldError("metadata_not_json", field=kind)
    return loaded


def merged_metadata(current: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """`patch` merged into `current`: objects merge key by key, deeply; null removes a
    key; anything else replaces the value."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merged_metadata(merged[key], value)
        else:
            merged[key] = value
    return merged


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True
