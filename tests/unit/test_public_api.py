"""The public face DESIGN.md promises: exactly these names, importable from `authkit`."""

from __future__ import annotations

import authkit


def test_exported_members_are_exactly_the_documented_ones() -> None:
    """`__all__` is this list, no more and no fewer (a new public name is a decision,
    made here on purpose), and each one exists."""
    assert authkit.__all__ == [
        "Auth",
        "AuthKit",
        "AuthKitError",
        "AuthKitMiddleware",
        "ConfigError",
        "FactorAge",
        "OrganizationList",
        "Profile",
        "Settings",
        "User",
        "auth",
        "current_user",
        "load_organizations",
        "load_profile",
        "requires_org",
        "requires_reverification",
        "requires_user",
    ]
    for name in authkit.__all__:
        assert getattr(authkit, name) is not None
