"""
The README's quick start, run as written: its Python blocks are executed as they stand
(only the environment they read is set), then the apps they build are driven: a
protected page sends a visitor to sign in and greets them afterwards, on Starlette and
on FastAPI. A README that drifts from the code fails here.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..conftest import TEST_SECRET
from .flow_helpers import PASSWORD
from .pipeline_helpers import EMAIL, sign_in_password

pytestmark = pytest.mark.anyio

README = Path(__file__).resolve().parents[2] / "README.md"


def quick_start_blocks() -> list[str]:
    text = README.read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.fixture
def readme_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `AuthKit.from_env()` in the snippets reads: a fresh SQLite file (no
    migration step: SQLite migrates at start-up) and a cheap hash for the test."""
    for name in [k for k in os.environ if k.startswith("AUTHKIT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AUTHKIT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("AUTHKIT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/readme.db")
    monkeypatch.setenv("AUTHKIT_BASE_URL", "http://testserver")
    monkeypatch.setenv("AUTHKIT_PASSWORD_HASH_PROFILE", "CHEAPEST")


@pytest.fixture
async def starlette_site(readme_env: None) -> AsyncIterator[dict[str, Any]]:
    namespace: dict[str, Any] = {"__name__": "readme_quick_start"}
    exec(quick_start_blocks()[0], namespace)  # noqa: S102 (the README's own code, on purpose)
    yield namespace
    await namespace["authkit"].aclose()


@pytest.fixture
async def fastapi_site(readme_env: None) -> AsyncIterator[dict[str, Any]]:
    namespace: dict[str, Any] = {"__name__": "readme_fastapi"}
    for block in quick_start_blocks()[1:]:
        exec(block, namespace)  # noqa: S102 (the README's own code, on purpose)
    yield namespace
    await namespace["authkit"].aclose()


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def test_the_quick_start_has_its_three_snippets() -> None:
    assert len(quick_start_blocks()) == 3


async def test_the_starlette_quick_start(starlette_site: dict[str, Any]) -> None:
    kit = starlette_site["authkit"]
    async with client(starlette_site["app"]) as c:
        visit = await c.get("/dashboard")
        assert visit.status_code == 303
        assert visit.headers["location"] == "/auth/sign-in?redirect_url=%2Fdashboard"
        await kit.users.create(email=EMAIL, password=PASSWORD)
        assert (await sign_in_password(c)).status_code == 303
        page = await c.get("/dashboard")
        assert page.status_code == 200 and page.text.startswith(f"Hello {EMAIL} (user_")


async def test_the_fastapi_quick_start(fastapi_site: dict[str, Any]) -> None:
    kit = fastapi_site["authkit"]
    async with client(fastapi_site["app"]) as c:
        assert (await c.get("/items/5", headers={"Accept": "application/json"})).status_code == 401
        await kit.users.create(email=EMAIL, password=PASSWORD)
        assert (await sign_in_password(c)).status_code == 303
        assert (await c.get("/items/5")).json() == {"item_id": 5}
        assert (await c.get("/me")).json() == {"email": EMAIL}
        assert (await c.get("/projects")).json()["user_id"].startswith("user_")
