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

from ..conftest import KitFactory, Mailbox, free_port
from ..examples import example
from .flow_helpers import csrf_of, sign_up


@pytest.fixture
def demo_site_module() -> object:
    return example("demo_site")


async def _client_for(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.mark.anyio
async def test_demo_site_embeds_sign_up_and_keeps_notes_per_user(
    demo_site_module: object, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Home embeds SignUp; notes need a session, are kept per user and need CSRF."""
    app = demo_site_module.create_app(kit)  # type: ignore[attr-defined]
    await demo_site_module.NoteStore(kit).create_table()  # type: ignore[attr-defined]
    async with await _client_for(app) as ada, await _client_for(app) as bob:
        r = await ada.get("/")
        assert r.status_code == 200, r.text
        assert 'id="ak-sign-up"' in r.text and 'hx-post="/auth/sign-up"' in r.text
        assert 'name="redirect_url" value="/notes"' in r.text
        r = await ada.get("/notes")
        assert r.status_code == 303
        assert r.headers["location"] == "/auth/sign-in?redirect_url=%2Fnotes"

        await sign_up(ada, kit, mailbox, "ada@example.com", first_name="Ada")
        r = await ada.get("/notes")
        assert r.status_code == 200, r.text
        assert "ak-user-button" in r.text and "ada@example.com" in r.text
        token = csrf_of(r.text)
        r = await ada.post("/notes", data={"body": "no token"})
        assert r.status_code == 422 and "Your form expired" in r.text
        r = await ada.post("/notes", data={"csrf_token": token, "body": "<b>first</b> note"})
        assert r.status_code == 303, r.text
        r = await ada.get("/notes")
        assert "&lt;b&gt;first&lt;/b&gt; note" in r.text

        await sign_up(bob, kit, mailbox, "bob@example.com")
        r = await bob.get("/notes")
        assert "&lt;b&gt;first" not in r.text and "No notes yet" in r.text
        r = await bob.get("/account")
        assert r.status_code == 200 and 'id="ak-user-profile"' in r.text
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
        assert "Sign in to Jotter" in body
        # It calls itself localhost, so its passkeys work (they need a domain name).
        assert 'autocomplete="username webauthn"' in body
        assert (tmp_path / ".authkit-demo" / "secret_key").stat().st_mode & 0o077 == 0
        assert (tmp_path / ".authkit-demo" / "demo.db").exists()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "Traceback" not in out, out
    assert f"authkit demo: http://localhost:{port}" in out


@pytest.mark.anyio
async def test_the_fastapi_example(make_kit: KitFactory) -> None:
    """examples/fastapi_app: its endpoints behind authkit.fastapi's dependencies."""
    fastapi_app = example("fastapi_app")
    kit = make_kit()
    try:
        await kit.ensure_started()
        await kit.users.create(email="ada@example.com", password="a perfectly fine passphrase")
        app = fastapi_app.create_app(kit)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as c:
            assert (await c.get("/me", headers={"Accept": "application/json"})).status_code == 401
            page = await c.get("/auth/sign-in")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            signed_in = await c.post(
                "/auth/sign-in",
                data={
                    "csrf_token": token,
                    "email": "ada@example.com",
                    "password": "a perfectly fine passphrase",
                },
            )
            assert signed_in.status_code == 303
            assert (await c.get("/me")).json()["email"] == "ada@example.com"
            assert (await c.post("/projects/alpha")).status_code == 201
            assert (await c.get("/projects")).json() == ["alpha"]
            assert (await c.delete("/projects")).json() == {"removed": 1}
    finally:
        await kit.aclose()
