"""
`authkit users import FILE --from clerk|django|auth0|csv` on generated exports of each
format, malformed rows included, run twice (the second run imports nothing), and a dry
run; every imported hash kind signs its user in once and is then argon2id. SQLite and
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import csv
import hashlib
import json
from pathlib import Path

import argon2
import bcrypt
import httpx
import pytest
from sqlmodel import col, select

from authkit import AuthKit
from authkit.cli import main
from authkit.importing import import_users, read_export
from authkit.security.legacy_hashes import legacy_scheme, verify_legacy
from authkit.store.models import EmailAddressRow, PasswordCredentialRow, UserRow

from ..conftest import KitFactory
from ..hostapp import make_host_app
from ..web.flow_helpers import sign_in

PASSWORD = "an imported passphrase"
LONG = "a" * 80  # past bcrypt's 72 bytes: the old site used the first 72


def bcrypt_hash(password: str = PASSWORD, prefix: bytes = b"2b") -> str:
    return bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(4, prefix=prefix)).decode()


def django_pbkdf2(password: str = PASSWORD, iterations: int = 1000) -> str:
    salt = "s4ltS4lt"
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(derived).decode()}"


def django_bcrypt_sha256(password: str = PASSWORD) -> str:
    inner = binascii.hexlify(hashlib.sha256(password.encode()).digest())
    return "bcrypt_sha256$" + bcrypt.hashpw(inner, bcrypt.gensalt(4)).decode()


def django_argon2(password: str = PASSWORD) -> str:
    hasher = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return "argon2" + hasher.hash(password)


HASHES = {
    "bcrypt": bcrypt_hash,
    "auth0-2a": lambda: bcrypt_hash(prefix=b"2a"),
    "django_pbkdf2_sha256": django_pbkdf2,
    "django_bcrypt_sha256": django_bcrypt_sha256,
    "django_bcrypt": lambda: "bcrypt$" + bcrypt_hash(),
    "django_argon2": django_argon2,
}


def test_each_imported_kind_verifies_the_right_password_only() -> None:
    for name, make in HASHES.items():
        digest = make()
        assert legacy_scheme(digest) is not None, name
        assert verify_legacy(digest, PASSWORD), name
        assert not verify_legacy(digest, PASSWORD + "!"), name
        assert not verify_legacy(digest[:-4], PASSWORD), name  # damaged: no, never raises
    assert verify_legacy(bcrypt_hash(LONG), LONG)
    assert not verify_legacy("pbkdf2_sha256$99999999999$s$x", PASSWORD)
    assert legacy_scheme("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA") is None


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    names = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)
    return path


def exports(folder: Path) -> dict[str, tuple[Path, int, int]]:
    """Each format's file, with how many rows import and how many are invalid."""
    clerk = write_csv(
        folder / "clerk.csv",
        [
            {
                "id": "user_2abc",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "primary_email_address": "ada@example.com",
                "verified_email_addresses": "ada@example.com|ada@work.example.com",
                "unverified_email_addresses": "ada@old.example.com",
                "password_digest": bcrypt_hash(),
                "password_hasher": "bcrypt",
                "public_metadata": '{"plan": "pro"}',
            },
            {"id": "user_2def", "primary_email_address": "grace@example.com"},
            {"id": "user_bad1", "primary_email_address": "not an address"},
            {
                "id": "user_bad2",
                "primary_email_address": "x@example.com",
                "password_digest": "abc",
                "password_hasher": "scrypt",
            },
            {
                "id": "user_bad3",
                "primary_email_address": "y@example.com",
                "public_metadata": "{not json",
            },
        ],
    )
    django = folder / "django.json"
    django.write_text(
        json.dumps(
            [
                {
                    "model": "auth.user",
                    "pk": 1,
                    "fields": {
                        "password": django_pbkdf2(),
                        "email": "alan@example.com",
                        "first_name": "Alan",
                        "last_name": "Turing",
                        "is_active": True,
                        "date_joined": "2019-04-01T10:00:00Z",
                    },
                },
                {
                    "model": "auth.user",
                    "pk": 2,
                    "fields": {
                        "password": "!unusable",
                        "email": "kat@example.com",
                        "first_name": "Kat",
                        "last_name": "",
                        "is_active": True,
                    },
                },
                {
                    "model": "auth.user",
                    "pk": 3,
                    "fields": {"password": django_argon2(), "email": "", "is_active": True},
                },
                {
                    "model": "auth.user",
                    "pk": 4,
                    "fields": {
                        "password": django_bcrypt_sha256(),
                        "email": "gone@example.com",
                        "is_active": False,
                    },
                },
                {
                    "model": "account.emailaddress",
                    "pk": 9,
                    "fields": {
                        "user": 1,
                        "email": "alan@example.com",
                        "verified": True,
                        "primary": True,
                    },
                },
                {"model": "auth.group", "pk": 1, "fields": {"name": "staff"}},
            ]
        )
    )
    auth0 = folder / "auth0.ndjson"
    auth0.write_text(
        "\n".join(
            [
                json.dumps(
                    {
                        "user_id": "auth0|1",
                        "email": "kay@example.com",
                        "email_verified": True,
                        "given_name": "Kay",
                        "passwordHash": bcrypt_hash(prefix=b"2a"),
                        "user_metadata": {"theme": "dark"},
                        "app_metadata": {"tier": 2},
                    }
                ),
                "{broken json",
                json.dumps({"user_id": "auth0|2", "email_verified": True}),
                json.dumps({"user_id": "auth0|3", "email": "kay@example.com"}),
            ]
        )
        + "\n"
    )
    generic = write_csv(
        folder / "users.csv",
        [
            {
                "email": "lin@example.com",
                "email_verified": "true",
                "first_name": "Lin",
                "password_hash": django_bcrypt_sha256(),
                "external_id": "42",
            },
            {"email": "max@example.com", "email_verified": "no", "first_name": "x" * 101},
            {"email": "nia@example.com", "password_hash": "md5$abc$def"},
            {"email": "oz@example.com", "created_at": "yesterday"},
        ],
    )
    return {
        "clerk": (clerk, 2, 3),
        "django": (django, 2, 2),
        "auth0": (auth0, 1, 2),
        "csv": (generic, 1, 3),
    }


@pytest.mark.parametrize("kind", ["clerk", "django", "auth0", "csv"])
def test_an_export_imports_once_with_a_report(
    kind: str,
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, imported, invalid = exports(tmp_path)[kind]
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["users", "import", str(path), "--from", kind, "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"authkit: would import {imported}, skipped "), out
    assert count_users(cli_env) == 0
    assert main(["users", "import", str(path), "--from", kind]) == 1
    out = capsys.readouterr().out
    assert f"authkit: imported {imported}, " in out and f", {invalid} invalid." in out, out
    assert out.count("  invalid (line ") == invalid, out
    assert count_users(cli_env) == imported
    # Again: everything is here already.
    main(["users", "import", str(path), "--from", kind])
    out = capsys.readouterr().out
    assert "authkit: imported 0, skipped" in out, out
    assert count_users(cli_env) == imported


def count_users(env: dict[str, str]) -> int:
    async def count() -> int:
        kit = AuthKit.from_env(env)
        try:
            async with kit.services.db.session() as s:
                return len((await s.exec(select(UserRow.id))).all())
        finally:
            await kit.aclose()

    return asyncio.run(count())


def test_what_a_clerk_row_brings(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = exports(tmp_path)["clerk"][0]
    assert main(["db", "upgrade"]) == 0
    main(["users", "import", str(path), "--from", "clerk"])

    async def load() -> tuple[UserRow, list[tuple[str, bool, bool]], str]:
        kit = AuthKit.from_env(cli_env)
        try:
            async with kit.services.db.session() as s:
                user = (
                    await s.exec(select(UserRow).where(UserRow.external_id == "user_2abc"))
                ).one()
                rows = (
                    await s.exec(
                        select(EmailAddressRow).where(col(EmailAddressRow.user_id) == user.id)
                    )
                ).all()
                password = await s.get(PasswordCredentialRow, user.id)
                assert password is not None
                return (
                    user,
                    sorted((r.email, r.is_primary, r.verified_at is not None) for r in rows),
                    password.password_hash,
                )
        finally:
            await kit.aclose()

    user, addresses, digest = asyncio.run(load())
    assert (user.first_name, user.last_name, user.public_metadata) == (
        "Ada",
        "Lovelace",
        {"plan": "pro"},
    )
    assert addresses == [
        ("ada@example.com", True, True),
        ("ada@old.example.com", False, False),
        ("ada@work.example.com", False, True),
    ]
    assert digest.startswith("$2b$")


def test_a_file_of_another_format_is_one_sentence(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    path = exports(tmp_path)["clerk"][0]
    assert main(["users", "import", str(path), "--from", "django"]) == 2
    assert "cannot be read as a django export: the file is not JSON" in capsys.readouterr().err
    assert main(["users", "import", str(tmp_path / "missing.csv"), "--from", "csv"]) == 2
    assert "is not a file" in capsys.readouterr().err


@pytest.mark.anyio
@pytest.mark.parametrize("kind", sorted(HASHES))
async def test_an_imported_hash_signs_in_once_then_is_argon2id(
    kind: str, make_kit: KitFactory, tmp_path: Path
) -> None:
    kit = make_kit()
    await kit.ensure_started()
    path = write_csv(
        tmp_path / "one.csv",
        [{"email": "ada@example.com", "email_verified": "true", "password_hash": HASHES[kind]()}],
    )
    report = await import_users(kit.services, read_export(path, "csv"))
    assert report.imported == 1, report
    transport = httpx.ASGITransport(app=make_host_app(kit))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        assert (await sign_in(c, "ada@example.com", PASSWORD + "?")).status_code == 422
        r = await sign_in(c, "ada@example.com", PASSWORD)
        assert r.status_code == 303, r.text
    async with kit.services.db.session() as s:
        digest = (await s.exec(select(PasswordCredentialRow.password_hash))).one()
    assert digest.startswith("$argon2id$")
    assert await kit.services.hasher.verify(digest, PASSWORD)
    await kit.aclose()
