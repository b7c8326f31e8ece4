"""`authkit users invite` and `authkit waitlist list | approve` on a real database, the
invitations mailed to a real SMTP server."""

from __future__ import annotations

import asyncio
import re

import pytest

from authkit import AuthKit
from authkit.audit import RequestMeta
from authkit.cli import main
from authkit.flows.sign_up_access import join_waitlist

from ..conftest import Mailbox


@pytest.fixture
def env(cli_env: dict[str, str], mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch) -> Mailbox:
    monkeypatch.setenv("AUTHKIT_EMAIL_URL", f"smtp://127.0.0.1:{mailbox.port}")
    monkeypatch.setenv("AUTHKIT_SIGN_UP", "waitlist")
    assert main(["db", "upgrade"]) == 0
    return mailbox


def test_invite_and_the_waitlist(env: Mailbox, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["users", "invite", "Ada@Example.com"]) == 0
    assert "sent to Ada@example.com" in capsys.readouterr().out
    text = Mailbox.text_of(env.to("Ada@example.com")[-1])
    assert re.search(r"/sign-up\?invitation=[\w-]+", text)
    assert main(["users", "invite", "not an address"]) == 1
    assert capsys.readouterr().err.strip() == "authkit: Enter a valid email address."

    async def someone_waits() -> None:
        kit = AuthKit.from_env()
        await kit.ensure_started()
        await join_waitlist(kit.services, email="grace@example.org", meta=RequestMeta())
        await kit.aclose()

    asyncio.run(someone_waits())
    assert main(["waitlist", "list"]) == 0
    assert "grace@example.org" in capsys.readouterr().out
    assert main(["waitlist", "approve", "GRACE@example.org"]) == 0
    assert "grace@example.org is invited to sign up" in capsys.readouterr().out
    assert env.to("grace@example.org")
    assert main(["waitlist", "approve", "grace@example.org"]) == 1
    assert "is not waiting" in capsys.readouterr().err
    assert main(["waitlist", "list"]) == 0
    assert "nobody is waiting" in capsys.readouterr().out
