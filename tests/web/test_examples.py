"""The example site in examples/ works against the kit, in-process and as `authkit demo`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from authkit import AuthKit

from ..conftest import Mailbox, free_port
from .flow_helpers import sign_up

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def demo_site_module() -> object:
    sys.path.insert(0, str(EXAMPLES))
    try:
        import demo_site

        return demo_site
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.mark.anyio
async def test_demo_site_home_dashboard_and_sign_up(
    demo_site_module: object, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Home is public, the dashboard asks to sign in, and after sign-up shows the user."""
    app = demo_site_module.create_app(kit)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        r = await client.get("/")
        assert r.status_code == 200 and "Sign up" in r.text, r.text
        r = await client.get("/dashboard")
        assert r.status_code == 303
        assert r.headers["location"] == "/auth/sign-in?redirect_url=%2Fdashboard"
        await sign_up(client, kit, mailbox, "demo@example.com", first_name="Dee")
        r = await client.get("/dashboard")
        assert r.status_code == 200, r.text
        assert "Hello, Dee." in r.text and "sess_" in r.text
    await kit.aclose()


def test_authkit_demo_command_serves_the_site(tmp_path: Path) -> None:
    """`authkit demo` starts on the given port with a kept secret and a migrated SQLite."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHKIT_")}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "authkit"), "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/auth/sign-in") as r:
                    body = r.read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert "Sign in to authkit demo" in body
        assert (tmp_path / ".authkit-demo" / "secret_key").stat().st_mode & 0o077 == 0
        assert (tmp_path / ".authkit-demo" / "demo.db").exists()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "Traceback" not in out, out
