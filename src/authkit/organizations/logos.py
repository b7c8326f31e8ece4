"""Where an organization's logo is served: the URL names the version (its hash), so it
can be cached for good and a new upload is a new URL."""

from __future__ import annotations

__all__ = ["logo_path"]


def logo_path(mount_path: str, organization_id: str, image_hash: str) -> str:
    return f"{mount_path}/organizations/logos/{organization_id}/{image_hash}.webp"
