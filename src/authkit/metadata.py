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
#: How deeply objects and lists may nest in one.
MAX_METADATA_DEPTH = 32
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
    if _depth(value) > MAX_METADATA_DEPTH:
        raise FieldError("metadata_not_json", field=kind)
    try:
        # allow_nan=False refuses NaN and infinity; encode() refuses lone surrogates.
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        size = len(text.encode())
    except (TypeError, ValueError, RecursionError):
        raise FieldError("metadata_not_json", field=kind) from None
    if size > max_bytes:
        shown = f"{max_bytes // 1024} KB" if max_bytes % 1024 == 0 else f"{max_bytes} bytes"
        raise FieldError("metadata_too_large", field=kind, size=shown)
    loaded: dict[str, Any] = json.loads(text)  # a copy of plain JSON types, keys as text
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


def _depth(value: Any) -> int:
    """How deeply objects and lists nest in `value` (iteratively: a hostile value must
    not exhaust the stack before it is refused)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_METADATA_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest
