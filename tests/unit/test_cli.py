"""The `authkit` command line against a real database: migrate, rotate keys, and create,
list, ban and delete users."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from authkit import AuthKit
from authkit.cli import main
from authkit.store.models import SessionRow, SigningKeyRow, UserRow

from ..conftest import TEST_SECRET


def _rows(env: dict[str, str], model: type) -> list[object]:
    async def load() -> list[object]:
        kit = AuthKit.from_env(env)
        async with kit.services.db.session() as s:
            rows = list((await s.exec(select(model))).all())
        await kit.aclose()
        return rows

    return asyncio.run(load())


def test_db_upgrade_then_user_lifecycle(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """upgrade, create (password on stdin), list, ban (ends sessions), unban and delete
    (after typing the address)."""
    assert main(["db", "upgrade"]) == 0
    created = capsys.readouterr().out
    # A new database: what was made, and where (a password never printed).
    assert created.startswith("authkit: created authkit's ") and " tables in " in created
    assert "users" in created and "sessions" in created and "revision 00" in created
    assert main(["db", "upgrade"]) == 0
    assert "authkit: database is up to date (revision 00" in capsys.readouterr().out

    monkeypatch.setattr(sys, "stdin", io.StringIO("a perfectly fine passphrase\n"))
    assert (
        main(
            [
                "users",
                "create",
                "--email",
                "Op@Example.com",
                "--first-name",
                "Op",
                "--password-stdin",
            ]
        )
        == 0
    )
    user_id = capsys.readouterr().out.strip()
    assert user_id.startswith("user_")

    monkeypatch.setattr(sys, "stdin", io.StringIO("a perfectly fine passphrase\n"))
    assert main(["users", "create", "--email", "op@example.com", "--password-stdin"]) == 1
    assert "already has an account" in capsys.readouterr().err

    monkeypatch.setattr(sys, "stdin", io.StringIO("manchesterunited\n"))
    assert main(["users", "create", "--email", "weak@example.com", "--password-stdin"]) == 1
    assert "too easy to guess" in capsys.readouterr().err

    assert main(["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert user_id in listing and "Op@example.com" in listing

    assert main(["users", "ban", "op@example.com"]) == 0
    assert "banned" in capsys.readouterr().out
    users = _rows(cli_env, UserRow)
    assert [u.banned_at is not None for u in users] == [True]  # type: ignore[attr-defined]

    assert main(["users", "unban", "op@example.com"]) == 0
    assert "may sign in again" in capsys.readouterr().out
    assert [u.banned_at for u in _rows(cli_env, UserRow)] == [None]  # type: ignore[attr-defined]
    assert main(["users", "unban", "op@example.com"]) == 1
    assert "no banned user" in capsys.readouterr().err

    # Deleting asks for the address; a wrong answer (or none) deletes nothing.
    monkeypatch.setattr(sys, "stdin", io.StringIO("someone.else@example.com\n"))
    assert main(["users", "delete", user_id]) == 1
    out, err = capsys.readouterr()
    assert "Type their email address to confirm" in out and "nothing deleted" in err
    assert len(_rows(cli_env, UserRow)) == 1
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["users", "delete", user_id]) == 1
    assert len(_rows(cli_env, UserRow)) == 1
    monkeypatch.setattr(sys, "stdin", io.StringIO("OP@example.com\n"))
    assert main(["users", "delete", user_id]) == 0
    assert _rows(cli_env, UserRow) == []
    assert _rows(cli_env, SessionRow) == []
    assert main(["users", "delete", "--yes", user_id]) == 1
    assert "no user" in capsys.readouterr().err


def test_users_delete_yes_skips_the_question(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["db", "upgrade"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("a perfectly fine passphrase\n"))
    assert main(["users", "create", "--email", "x@example.com", "--password-stdin"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["users", "delete", "--yes", "x@example.com"]) == 0
    assert "Type their" not in capsys.readouterr().out
    assert _rows(cli_env, UserRow) == []


def test_keys_rotate_adds_a_key_and_retires_the_old(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """After a rotation one key signs and the previous one is retired but kept."""
    assert main(["db", "upgrade"]) == 0
    assert main(["keys", "rotate"]) == 0
    assert main(["keys", "rotate"]) == 0
    out = capsys.readouterr().out
    assert out.count("new signing key key_") == 2
    keys = _rows(cli_env, SigningKeyRow)
    assert len(keys) == 3
    assert sum(k.retired_at is None for k in keys) == 1  # type: ignore[attr-defined]


def test_missing_secret_key_is_one_clear_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without AUTHKIT_SECRET_KEY the command stops with one sentence, no traceback."""
    monkeypatch.delenv("AUTHKIT_SECRET_KEY", raising=False)
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("authkit: AUTHKIT_SECRET_KEY is not set")
    assert "Traceback" not in err


def test_database_down_is_reported_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unreachable database gives a one-line error and exit status 1."""
    monkeypatch.setenv("AUTHKIT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("AUTHKIT_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert main(["users", "list"]) == 1
    assert "database is unavailable" in capsys.readouterr().err


def test_console_script_is_installed() -> None:
    """`authkit --help` runs as a console script and lists the commands."""
    out = subprocess.run(
        [str(Path(sys.executable).parent / "authkit"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for command in ("demo", "db", "keys", "users"):
        assert command in out


def test_prune_deletes_what_ended_and_says_how_much(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["prune"]) == 0
    assert capsys.readouterr().out.strip() == (
        "authkit: deleted 0 ended sessions, 0 code steps, 0 expired rate-limit hits and 0 "
        "old webhook events."
    )


def test_users_metadata_shows_merges_and_replaces(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`authkit users metadata USER --public '{...}'` merges (null removes a key), prints
    all three objects; `--replace` sets one whole; bad JSON and oversize say why."""
    import json

    assert main(["db", "upgrade"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("a perfectly fine passphrase\n"))
    assert main(["users", "create", "--email", "meta@example.com", "--password-stdin"]) == 0
    capsys.readouterr()
    command = ["users", "metadata", "meta@example.com"]
    assert main([*command, "--public", '{"plan": "pro", "team": {"a": 1}}']) == 0
    assert main([*command, "--public", '{"team": {"b": 2}}', "--private", '{"s": 1}']) == 0
    capsys.readouterr()
    assert main([*command, "--public", '{"plan": null}']) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == {
        "public_metadata": {"team": {"a": 1, "b": 2}},
        "private_metadata": {"s": 1},
        "unsafe_metadata": {},
    }
    assert main([*command, "--private", '{"t": 2}', "--replace"]) == 0
    assert json.loads(capsys.readouterr().out)["private_metadata"] == {"t": 2}
    assert main([*command, "--public", "{not json"]) == 1
    assert "--public is not JSON" in capsys.readouterr().err
    assert main([*command, "--unsafe", json.dumps({"x": "y" * 9000})]) == 1
    assert "Metadata must be at most 8 KB." in capsys.readouterr().err
    assert main(["users", "metadata", "nobody@example.com"]) == 1
    assert "no user 'nobody@example.com'" in capsys.readouterr().err


def test_users_create_without_a_terminal_or_with_a_bad_address_answers_in_one_sentence(
    cli_env: dict[str, str],
) -> None:
    """No traceback: the address is judged before any password is asked, and with no
    terminal to ask on, the command says how to give the password instead."""
    command = [str(Path(sys.executable).parent / "authkit"), "users", "create", "--email"]
    bad = subprocess.run(
        [*command, "not-an-address"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (bad.returncode, bad.stderr) == (1, "authkit: --email: Enter a valid email address.\n")
    no_terminal = subprocess.run(
        [*command, "ok@example.com"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert no_terminal.returncode == 2
    assert no_terminal.stderr == (
        "authkit: there is no terminal to ask for the password: give it on standard input "
        "with --password-stdin.\n"
    )
    assert "Traceback" not in bad.stderr + no_terminal.stderr


def test_db_upgrade_never_prints_the_database_password() -> None:
    from authkit.cli import _redacted_url

    assert _redacted_url("postgresql+asyncpg://app:s3cret@db:5432/app") == (
        "postgresql+asyncpg://app:***@db:5432/app"
    )
    assert _redacted_url("sqlite+aiosqlite:///x.db") == "sqlite+aiosqlite:///x.db"
