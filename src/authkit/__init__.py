"""
authkit: drop-in, self-hosted user management for ASGI sites.

    from authkit import AuthKit, auth, current_user, requires_user
"""

from __future__ import annotations

from .access import auth as auth
from .access import current_user as current_user
from .access import requires_org as requires_org
from .access import requires_reverification as requires_reverification
from .access import requires_user as requires_user
from .app import AuthKit as AuthKit
from .config import Settings as Settings
from .errors import AuthKitError as AuthKitError
from .errors import ConfigError as ConfigError
from .middleware import AuthKitMiddleware as AuthKitMiddleware
from .organization_view import OrganizationList as OrganizationList
from .organization_view import load_organizations as load_organizations
from .profile_view import Profile as Profile
from .profile_view import load_profile as load_profile
from .request_auth import Auth as Auth
from .request_auth import FactorAge as FactorAge
from .users import User as User

__all__ = [
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
