"""
authkit: drop-in, self-hosted user management for ASGI sites.

    from authkit import AuthKit, auth, current_user, requires_user
"""

from __future__ import annotations

from .app import AuthKit as AuthKit
from .config import Settings as Settings
from .errors import AuthKitError as AuthKitError
from .errors import ConfigError as ConfigError
from .middleware import Auth as Auth
from .middleware import auth as auth
from .middleware import current_user as current_user
from .middleware import requires_user as requires_user
from .users import User as User

__all__ = [
    "Auth",
    "AuthKit",
    "AuthKitError",
    "ConfigError",
    "Settings",
    "User",
    "auth",
    "current_user",
    "requires_user",
]
