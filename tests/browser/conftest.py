"""
Browser fixtures: the demo-like host app served by uvicorn on a free port, backed by a
fresh SQLite file and the test SMTP server, driven by Debian's Chromium.

Browser tests are sync (Playwright's sync API) and use no async fixtures: Playwright keeps
its own event loop running in the main thread.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from authkit import AuthKit

from ..conftest import TEST_SECRET, Mailbox, free_port, serve
from ..examples import example
from ..hostapp import make_host_app
from .steps import SHOTS, Shot, new_page

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.path):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _needs_chromium() -> None:
    if not CHROMIUM.exists():
        reason = "Debian's Chromium is not installed (apt-get install chromium)"
        if os.environ.get("AUTHKIT_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@dataclass
class Site:
    url: str
    kit: AuthKit
    mailbox: Mailbox

    def code_for(self, email: str, *, after: int = 0) -> str:
        """The newest code mailed to `email` (waits for the background delivery)."""
        match = re.search(r"\b(\d{6})\b", self._newest_mail(email, after))
        assert match
        return match.group(1)

    def link_for(self, email: str, *, after: int = 0) -> str:
        """The sign-in link in the newest mail to `email` (its token in the fragment)."""
        match = re.search(
            r"https?://\S+/sign-in/link#token=[\w-]+", self._newest_mail(email, after)
        )
        assert match
        return match.group(0)

    def reset_link_for(self, email: str, *, after: int = 0) -> str:
        """The reset link in the newest mail to `email` (its token in the fragment)."""
        match = re.search(
            r"https?://\S+/reset-password\?link=1#token=[\w-]+", self._newest_mail(email, after)
        )
        assert match
        return match.group(0)

    def invitation_link_for(self, email: str, *, after: int = 0) -> str:
        """The organization invitation link in the newest mail to `email`."""
        match = re.search(
            r"https?://\S+/organizations/invitations/[\w-]+", self._newest_mail(email, after)
        )
        assert match
        return match.group(0)

    def age_session_factors(self, *, seconds: int) -> None:
        """Move every session's factor times back, as if they were verified `seconds`
        earlier (the site's SQLite file, written directly: the server owns the kit)."""
        path = self.kit.settings.database_url.removeprefix("sqlite+aiosqlite:///")
        with sqlite3.connect(path) as db:
            for column in ("first_factor_at", "second_factor_at"):
                db.execute(
                    f"UPDATE sessions SET {column} = datetime({column}, ?) "  # noqa: S608
                    f"WHERE {column} IS NOT NULL",
                    (f"-{seconds} seconds",),
                )

    def _newest_mail(self, email: str, after: int) -> str:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            messages = self.mailbox.to(email)
            if len(messages) > after:
                return Mailbox.text_of(messages[-1])
            time.sleep(0.05)
        raise AssertionError(f"no email reached {email}")


def browser_kit(tmp_path: Path, mailbox: Mailbox, url: str, **settings: Any) -> AuthKit:
    """The kit the browser tests serve at `url`: SQLite in `tmp_path`, mail to `mailbox`;
    `settings` add to or change its settings."""
    values: dict[str, Any] = {
        "secret_key": TEST_SECRET,
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/browser.db",
        "email_url": f"smtp://127.0.0.1:{mailbox.port}",
        "base_url": url,
        "password_hash_profile": "CHEAPEST",
        "auto_migrate": True,
        "app_name": "Acme",
        # The proof of work has browser tests of its own (test_bot_protection_in_browser.py
        # and the demo's); elsewhere it would only add its solving time to every sign-up.
        "bot_protection": False,
    }
    return AuthKit(**{**values, **settings})


@pytest.fixture
def site(tmp_path: Path, mailbox: Mailbox) -> Iterator[Site]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    kit = browser_kit(tmp_path, mailbox, url)
    _, stop = serve(make_host_app(kit), port=port)
    yield Site(url, kit, mailbox)
    stop()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


AXE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def axe_script() -> Path:
    """axe-core from tests/js (npm ci); required in CI."""
    if not AXE.exists():
        reason = "axe-core is not installed (cd tests/js && npm ci)"
        if os.environ.get("AUTHKIT_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return AXE


@pytest.fixture(params=SHOTS, ids=[label for label, _ in SHOTS])
def shot(
    request: pytest.FixtureRequest, browser: Browser, axe_script: Path, screenshot_dir: Path
) -> Shot:
    """Each of SHOTS in turn: a page with JavaScript on, the CSP bypassed for axe-core.
    Its context stays open until the browser closes, as new_page's always have."""
    label, options = request.param
    page = new_page(browser, True, bypass_csp=True, **options)
    return Shot(label, page, axe_script, screenshot_dir)


@pytest.fixture
def demo(tmp_path: Path, mailbox: Mailbox) -> Iterator[Site]:
    """The example site (examples/demo_site) served live, as `authkit demo` runs it."""
    demo_site = example("demo_site")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    kit = AuthKit(
        secret_key=TEST_SECRET,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db",
        email_url=f"smtp://127.0.0.1:{mailbox.port}",
        base_url=url,
        password_hash_profile="CHEAPEST",
        auto_migrate=True,
        app_name="Jotter",
        theme=demo_site.DEMO_THEME,
        jwt_templates=demo_site.DEMO_JWT_TEMPLATES,
        organizations=True,
    )
    _, stop = serve(demo_site.create_app(kit), port=port, lifespan="on")
    yield Site(url, kit, mailbox)
    stop()
