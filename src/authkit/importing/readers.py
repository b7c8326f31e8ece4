"""
Reading an export of another system into rows to import, one per user, each with the
line (or record) it came from; a record that cannot be read becomes an `Unreadable`
with the reason, and reading goes on.

- `clerk`: Clerk's user export (CSV: `id`, `first_name`, `last_name`,
  `primary_email_address`, `verified_email_addresses`, `unverified_email_addresses`,
  `password_digest`, `password_hasher`, and `public_metadata`, `private_metadata`,
  `unsafe_metadata` when present).
- `django`: `manage.py dumpdata` JSON of the user model (any model whose fields have
  `email` and `password`), with django-allauth's `account.emailaddress` records for which
  addresses are verified.
- `auth0`: Auth0's user export (NDJSON, or a JSON array), with `passwordHash` where
  Auth0 support exported the hashes.
- `csv`: `email` and any of `email_verified`, `first_name`, `last_name`, `password_hash`,
  `external_id`, `public_metadata`, `private_metadata`, `unsafe_metadata`, `created_at`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["FORMATS", "ImportRow", "Unreadable", "read_export"]

#: A field longer than this is not a name, an address or a hash: refused unread.
MAX_FIELD = 64 * 1024
_TRUE = {"true", "1", "yes", "y", "t"}


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    email: str
    email_verified: bool
    #: Further addresses, each with whether it was verified.
    other_addresses: tuple[tuple[str, bool], ...] = ()
    first_name: str = ""
    last_name: str = ""
    password_hash: str | None = None
    external_id: str | None = None
    metadata: Mapping[str, object] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Unreadable:
    line: int
    reason: str


Read = ImportRow | Unreadable


def read_export(path: Path, kind: str) -> Iterator[Read]:
    """The rows of the export at `path`, in the format `kind` (one of FORMATS).

    Raises:
        OSError: the file cannot be read.
        ValueError: the file as a whole is not that format (a sentence).
    """
    return FORMATS[kind](path)


def _clerk(path: Path) -> Iterator[Read]:
    for line, record in _csv_records(path, required=("primary_email_address",)):
        verified = _split(record.get("verified_email_addresses"))
        unverified = _split(record.get("unverified_email_addresses"))
        primary = (record.get("primary_email_address") or "").strip()
        if not primary:
            yield Unreadable(line, "no primary_email_address")
            continue
        digest = (record.get("password_digest") or "").strip() or None
        hasher = (record.get("password_hasher") or "").strip()
        if digest and hasher and hasher not in ("bcrypt", "argon2id", "argon2i"):
            yield Unreadable(line, f"password_hasher {hasher!r} is not one authkit reads")
            continue
        metadata = _metadata(record)
        if isinstance(metadata, Unreadable):
            yield Unreadable(line, metadata.reason)
            continue
        yield ImportRow(
            line=line,
            email=primary,
            email_verified=primary in verified,
            other_addresses=tuple(
                [(a, True) for a in verified if a != primary]
                + [(a, False) for a in unverified if a != primary]
            ),
            first_name=record.get("first_name") or "",
            last_name=record.get("last_name") or "",
            password_hash=digest,
            external_id=(record.get("id") or "").strip() or None,
            metadata=metadata,
        )


def _generic_csv(path: Path) -> Iterator[Read]:
    for line, record in _csv_records(path, required=("email",)):
        metadata = _metadata(record)
        if isinstance(metadata, Unreadable):
            yield Unreadable(line, metadata.reason)
            continue
        created = _time(record.get("created_at"))
        if isinstance(created, Unreadable):
            yield Unreadable(line, created.reason)
            continue
        yield ImportRow(
            line=line,
            email=record.get("email") or "",
            email_verified=(record.get("email_verified") or "").strip().lower() in _TRUE,
            first_name=record.get("first_name") or "",
            last_name=record.get("last_name") or "",
            password_hash=(record.get("password_hash") or "").strip() or None,
            external_id=(record.get("external_id") or "").strip() or None,
            metadata=metadata,
            created_at=created,
        )


def _django(path: Path) -> Iterator[Read]:
    records = _json_list(path)
    verified: dict[object, dict[str, bool]] = {}
    for record in records:
        if isinstance(record, Mapping) and record.get("model") == "account.emailaddress":
            fields = record.get("fields") or {}
            if isinstance(fields, Mapping) and isinstance(fields.get("email"), str):
                owned = verified.setdefault(fields.get("user"), {})
                owned[fields["email"]] = bool(fields.get("verified"))
    for number, record in enumerate(records, 1):
        if not isinstance(record, Mapping):
            yield Unreadable(number, "not a dumpdata record")
            continue
        fields = record.get("fields")
        if not isinstance(fields, Mapping) or "password" not in fields or "email" not in fields:
            continue  # another model's record (email addresses, groups, ...)
        email = fields.get("email")
        if not isinstance(email, str) or not email.strip():
            yield Unreadable(number, "the user has no email address")
            continue
        if fields.get("is_active") is False:
            yield Unreadable(number, "inactive in Django (is_active is false)")
            continue
        password = fields.get("password")
        # Django marks an unusable password with "!": such a user signs in another way.
        digest = password if isinstance(password, str) and not password.startswith("!") else None
        addresses = verified.get(record.get("pk"), {})
        created = _time(fields.get("date_joined"))
        yield ImportRow(
            line=number,
            email=email,
            email_verified=addresses.get(email, False),
            other_addresses=tuple((a, v) for a, v in addresses.items() if a != email),
            first_name=str(fields.get("first_name") or ""),
            last_name=str(fields.get("last_name") or ""),
            password_hash=digest or None,
            external_id=str(record["pk"]) if record.get("pk") is not None else None,
            created_at=None if isinstance(created, Unreadable) else created,
        )


def _auth0(path: Path) -> Iterator[Read]:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        records: list[tuple[int, object]] = list(enumerate(_json_list(path), 1))
    else:
        records = []
        for number, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            if len(raw) > MAX_FIELD:
                records.append((number, None))
                continue
            try:
                records.append((number, json.loads(raw)))
            except ValueError:
                records.append((number, None))
    for number, record in records:
        if not isinstance(record, Mapping):
            yield Unreadable(number, "not a JSON object")
            continue
        email = record.get("email")
        if not isinstance(email, str) or not email.strip():
            yield Unreadable(number, "no email")
            continue
        digest = record.get("passwordHash") or record.get("password_hash")
        created = _time(record.get("created_at"))
        yield ImportRow(
            line=number,
            email=email,
            email_verified=record.get("email_verified") is True,
            first_name=str(record.get("given_name") or ""),
            last_name=str(record.get("family_name") or ""),
            password_hash=digest if isinstance(digest, str) and digest else None,
            external_id=str(record["user_id"]) if record.get("user_id") else None,
            metadata={
                "unsafe_metadata": record.get("user_metadata") or {},
                "private_metadata": record.get("app_metadata") or {},
            },
            created_at=None if isinstance(created, Unreadable) else created,
        )


FORMATS = {"clerk": _clerk, "django": _django, "auth0": _auth0, "csv": _generic_csv}


def _csv_records(path: Path, *, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    csv.field_size_limit(MAX_FIELD)
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        missing = [name for name in required if name not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"the file has no {', '.join(missing)} column")
        try:
            for record in reader:
                yield reader.line_num, {k: v for k, v in record.items() if isinstance(k, str)}
        except csv.Error as exc:
            raise ValueError(f"line {reader.line_num}: {exc}") from None


def _json_list(path: Path) -> list[Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"the file is not JSON ({exc})") from None
    if not isinstance(loaded, list):
        raise ValueError("the file must hold a JSON list of records")
    return loaded


def _split(value: str | None) -> list[str]:
    if not value:
        return []
    parts = value.replace("|", ",").split(",")
    return [p.strip() for p in parts if p.strip()]


def _metadata(record: Mapping[str, str]) -> dict[str, object] | Unreadable:
    found: dict[str, object] = {}
    for kind in ("public_metadata", "private_metadata", "unsafe_metadata"):
        text = (record.get(kind) or "").strip()
        if not text:
            continue
        try:
            found[kind] = json.loads(text)
        except (ValueError, RecursionError):
            return Unreadable(0, f"{kind} is not JSON")
    return found


def _time(value: object) -> datetime | Unreadable | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return Unreadable(0, "created_at is not a date")
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return Unreadable(0, f"created_at {value[:40]!r} is not a date")
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
