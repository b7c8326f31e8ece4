"""
Mistakes a new host makes, each answered by one sentence that says what to do: a misspelt
setting names the nearest one (and mypy flags it, the keywords being typed), a missing
secret key says how to make one (`authkit secret`, which prints one), and a PostgreSQL
URL without its driver says what to install.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from authkit import AuthKit
from authkit.cli import main
from authkit.errors import ConfigError

from ..conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]


def test_a_misspelt_setting_names_the_nearest_one() -> None:
    with pytest.raises(ConfigError) as refused:
        AuthKit(secret_key=TEST_SECRET, databse_url="sqlite+aiosqlite:///x.db")  # type: ignore[call-arg]
    assert (
        str(refused.value) == "AuthKit() has no setting 'databse_url': did you mean 'database_url'?"
    )
    with pytest.raises(ConfigError, match=r"has no setting 'colour' \(the README lists them all\)"):
        AuthKit(secret_key=TEST_SECRET, colour="red")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="did you mean 'base_url'"):
        AuthKit.from_env({"AUTHKIT_SECRET_KEY": TEST_SECRET}, base_ur="http://x")  # type: ignore[call-arg]


def test_mypy_flags_a_misspelt_setting(tmp_path: Path) -> None:
    host = tmp_path / "host.py"
    host.write_text(
        "from authkit import AuthKit\n"
        "kit = AuthKit(secret_key='x' * 40, databse_url='sqlite+aiosqlite:///x.db')\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", str(host)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 1
    assert 'Unexpected keyword argument "databse_url" for "AuthKit"' in result.stdout


def test_a_missing_secret_key_says_how_to_make_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError) as refused:
        AuthKit(database_url="sqlite+aiosqlite:///x.db")
    assert "AuthKit() needs secret_key" in str(refused.value)
    assert "make one with `authkit secret`" in str(refused.value)
    with pytest.raises(ConfigError, match="make one with `authkit secret`"):
        AuthKit(secret_key="short")
    assert main(["secret"]) == 0
    made = capsys.readouterr().out.strip()
    assert len(made) == 64 and made.replace("-", "").replace("_", "").isalnum()
    assert AuthKit(secret_key=made).settings.secret_key is not None


def test_postgresql_without_its_driver_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # as if it were not installed
    with pytest.raises(ConfigError) as refused:
        AuthKit(secret_key=TEST_SECRET, database_url="postgresql+asyncpg://u@localhost/db")
    assert str(refused.value) == (
        "AUTHKIT_DATABASE_URL names PostgreSQL, and its driver is not installed: "
        "pip install 'authkit[postgres]'."
    )
