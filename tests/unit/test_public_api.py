"""The public face DESIGN.md promises: exactly these names, importable from `authkit`."""

from __future__ import annotations

import authkit


def test_exported_members_are_the_documented_ones() -> None:
    """`__all__` lists the public names, sorted, and each one exists."""
    assert authkit.__all__ == sorted(authkit.__all__)
    assert {"AuthKit", "auth", "current_user", "requires_user"} <= set(authkit.__all__)
    for name in authkit.__all__:
        assert getattr(authkit, name) is not None
