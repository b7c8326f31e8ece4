"""`authkit orgs list | create | delete | members | add-member | remove-member | set-role |
invite | add-domain` on a real database, the invitation mailed to a real SMTP server;
refusals are one sentence and exit status 1."""

from __future__ import annotations

import io

import pytest

from authkit.cli import main

from ..conftest import Mailbox


@pytest.fixture
def env(cli_env: dict[str, str], mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch) -> Mailbox:
    monkeypatch.setenv("AUTHKIT_EMAIL_URL", f"smtp://127.0.0.1:{mailbox.port}")
    assert main(["db", "upgrade"]) == 0
    for email in ("ada@acme.com", "bob@acme.com"):
        monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery staple\n"))
        assert main(["users", "create", "--email", email, "--password-stdin"]) == 0
    return mailbox


def test_organizations_from_the_command_line(
    env: Mailbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    capsys.readouterr()
    assert main(["orgs", "create", "Acme Labs", "--admin", "ada@acme.com"]) == 0
    assert "created at /organizations/acme-labs" in capsys.readouterr().out
    assert main(["orgs", "add-member", "acme-labs", "bob@acme.com"]) == 0
    assert main(["orgs", "set-role", "acme-labs", "bob@acme.com", "org:admin"]) == 0
    assert "is now org:admin in acme-labs" in capsys.readouterr().out
    assert main(["orgs", "members", "acme-labs"]) == 0
    listed = capsys.readouterr().out
    assert "ada@acme.com" in listed and listed.count("org:admin") == 2
    assert main(["orgs", "invite", "acme-labs", "new@acme.com"]) == 0
    assert "sent to new@acme.com" in capsys.readouterr().out
    (message,) = env.to("new@acme.com")
    assert "/organizations/invitations/" in Mailbox.text_of(message)
    assert main(["orgs", "add-domain", "acme-labs", "acme.com", "--join"]) == 0
    assert main(["orgs", "list", "--search", "acme"]) == 0
    assert "acme-labs" in capsys.readouterr().out
    # Refusals: one sentence each.
    assert main(["orgs", "set-role", "acme-labs", "bob@acme.com", "org:nope"]) == 1
    assert capsys.readouterr().err.strip() == "authkit: Choose one of the roles listed."
    assert main(["orgs", "create", "Other", "--slug", "acme-labs"]) == 1
    assert "That address is taken" in capsys.readouterr().err
    assert main(["orgs", "members", "nowhere"]) == 1
    assert capsys.readouterr().err.strip() == "authkit: no organization 'nowhere'."
    assert main(["orgs", "remove-member", "acme-labs", "nobody@acme.com"]) == 1
    assert main(["orgs", "remove-member", "acme-labs", "bob@acme.com"]) == 0
    assert main(["orgs", "remove-member", "acme-labs", "ada@acme.com"]) == 1
    assert "An organization needs an admin" in capsys.readouterr().err
    # Deleting asks for the slug unless told --yes.
    monkeypatch.setattr("sys.stdin", io.StringIO("wrong\n"))
    assert main(["orgs", "delete", "acme-labs"]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("acme-labs\n"))
    assert main(["orgs", "delete", "acme-labs"]) == 0
    assert main(["orgs", "members", "acme-labs"]) == 1
