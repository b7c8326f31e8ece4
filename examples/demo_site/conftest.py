"""
The demo site's own tests use authkit's pytest plugin (`authkit.testing`, loaded by
pytest wherever authkit is installed): all it needs is the app, as `authkit_app`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette

from authkit import AuthKit
from demo_site import create_app


@pytest.fixture
def authkit_app(tmp_path: Path) -> Starlette:
    kit = AuthKit(
        secret_key="a test secret key of at least 32 characters",
        database_url=f"sqlite+aiosqlite:///{tmp_path}/test.db",  # a new database per test
        base_url="http://testserver",
        app_name="Jotter",
        # The cheapest argon2 parameters: fine for tests, far too weak for production.
        password_hash_profile="CHEAPEST",
    )
    return create_app(kit)
