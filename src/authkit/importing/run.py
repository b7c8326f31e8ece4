"""
Importing users: each row checked as a sign-up would be (address, names, metadata) and
its password hash recognised; rows already here (the address has an account, or the
external id was imported before) are skipped, so running it again imports nothing twice.
Written in batches, each in one transaction; a dry run checks everything, the database
included, and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlmodel import col, select

from ..addresses import Address, normalize_email
from ..audit import RequestMeta, record_event
from ..errors import FieldError
from ..ids import new_id
from ..metadata import METADATA_KINDS, MetadataKind, checked_metadata
from ..security.legacy_hashes import is_legacy
from ..services import Services
from ..store.models import EmailAddressRow, PasswordCredentialRow, UserRow
from ..users import clean_name
from .readers import ImportRow, Read, Unreadable

__all__ = ["BATCH", "ImportReport", "import_users"]

BATCH = 500
IMPORTER = RequestMeta(ip_address="", user_agent="authkit-import")
MAX_EXTERNAL_ID = 255
MAX_ADDRESSES = 20
#: Argon2 hashes made elsewhere are verified as they are (then rehashed if their
#: parameters are not ours).
ARGON2 = ("$argon2id$", "$argon2i$")


@dataclass
class ImportReport:
    imported: int = 0
    #: (line, reason): rows already here.
    skipped: list[tuple[int, str]] = field(default_factory=list)
    #: (line, reason): rows that cannot be imported as they are.
    invalid: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Checked:
    row: ImportRow
    primary: Address
    others: tuple[tuple[Address, bool], ...]
    first_name: str
    last_name: str
    metadata: dict[MetadataKind, dict[str, Any]]


async def import_users(
    svc: Services,
    rows: Iterable[Read],
    *,
    dry_run: bool = False,
    progress: Callable[[int], object] | None = None,
) -> ImportReport:
    """Import `rows`; `progress(n)` hears of every n rows handled."""
    report = ImportReport()
    seen_addresses: set[str] = set()
    seen_ids: set[str] = set()
    batch: list[_Checked] = []
    for read in rows:
        checked = _check(read, report)
        if checked is not None and _first_in_file(checked, seen_addresses, seen_ids, report):
            batch.append(checked)
        else:
            _tick(progress)
        if len(batch) >= BATCH:
            await _write(svc, batch, report, dry_run=dry_run)
            _tick(progress, len(batch))
            batch = []
    if batch:
        await _write(svc, batch, report, dry_run=dry_run)
        _tick(progress, len(batch))
    return report


def _tick(progress: Callable[[int], object] | None, n: int = 1) -> None:
    if progress is not None:
        progress(n)


def _check(read: Read, report: ImportReport) -> _Checked | None:
    if isinstance(read, Unreadable):
        report.invalid.append((read.line, read.reason))
        return None
    try:
        primary = normalize_email(read.email)
        others = tuple((normalize_email(a), v) for a, v in read.other_addresses[:MAX_ADDRESSES])
        first = clean_name(read.first_name, field="first_name", required=False)
        last = clean_name(read.last_name, field="last_name", required=False)
        metadata = {
            kind: checked_metadata(read.metadata[kind], kind=kind)
            for kind in METADATA_KINDS
            if kind in read.metadata
        }
    except FieldError as error:
        report.invalid.append((read.line, _reason(error)))
        return None
    digest = read.password_hash
    if digest is not None and not (is_legacy(digest) or digest.startswith(ARGON2)):
        report.invalid.append((read.line, "the password hash is of a kind authkit does not read"))
        return None
    if digest is not None and len(digest) > 512:
        report.invalid.append((read.line, "the password hash is too long"))
        return None
    if read.external_id is not None and len(read.external_id) > MAX_EXTERNAL_ID:
        report.invalid.append((read.line, "the external id is longer than 255 characters"))
        return None
    return _Checked(read, primary, others, first, last, metadata)


def _reason(error: FieldError) -> str:
    what = {"email": "the address", "first_name": "the first name", "last_name": "the last name"}
    field_name = error.field or ""
    about = what.get(field_name, field_name.replace("_", " "))
    problems = {
        "required": "is missing",
        "too_long": "is too long",
        "email_invalid": "is not an email address",
        "name_invalid": "holds characters a name cannot",
        "metadata_not_object": "is not a JSON object",
        "metadata_not_json": "is not plain JSON",
        "metadata_too_large": "is larger than 8 KB",
    }
    return f"{about} {problems.get(error.code, error.code)}"


def _first_in_file(
    checked: _Checked, addresses: set[str], ids: set[str], report: ImportReport
) -> bool:
    mine = [checked.primary.normalized, *(a.normalized for a, _ in checked.others)]
    if any(a in addresses for a in mine):
        report.skipped.append((checked.row.line, "an earlier row of the file has this address"))
        return False
    external = checked.row.external_id
    if external is not None and external in ids:
        report.skipped.append((checked.row.line, "an earlier row of the file has this id"))
        return False
    addresses.update(mine)
    if external is not None:
        ids.add(external)
    return True


async def _write(
    svc: Services, batch: Sequence[_Checked], report: ImportReport, *, dry_run: bool
) -> None:
    addresses = [
        a for c in batch for a in [c.primary.normalized, *(o.normalized for o, _ in c.others)]
    ]
    external_ids = [c.row.external_id for c in batch if c.row.external_id is not None]
    now = svc.clock()
    async with svc.db.session() as s:
        taken = set(
            (
                await s.exec(
                    select(EmailAddressRow.normalized).where(
                        col(EmailAddressRow.normalized).in_(addresses)
                    )
                )
            ).all()
        )
        imported = set(
            (
                await s.exec(
                    select(UserRow.external_id).where(col(UserRow.external_id).in_(external_ids))
                )
            ).all()
            if external_ids
            else []
        )
        users: list[dict[str, Any]] = []
        emails: list[dict[str, Any]] = []
        passwords: list[dict[str, Any]] = []
        for checked in batch:
            row = checked.row
            if row.external_id is not None and row.external_id in imported:
                report.skipped.append((row.line, "imported before (its external id is here)"))
                continue
            mine = [checked.primary, *(a for a, _ in checked.others)]
            if any(a.normalized in taken for a in mine):
                report.skipped.append((row.line, "an account has this address already"))
                continue
            report.imported += 1
            if dry_run:
                continue
            user_id = new_id("user")
            created = row.created_at or now
            users.append(
                {
                    "id": user_id,
                    "first_name": checked.first_name,
                    "last_name": checked.last_name,
                    "created_at": created,
                    "updated_at": now,
                    "external_id": row.external_id,
                    "public_metadata": checked.metadata.get("public_metadata", {}),
                    "private_metadata": checked.metadata.get("private_metadata", {}),
                    "unsafe_metadata": checked.metadata.get("unsafe_metadata", {}),
                }
            )
            for address, verified, primary in [
                (checked.primary, row.email_verified, True),
                *((a, v, False) for a, v in checked.others),
            ]:
                emails.append(
                    {
                        "id": new_id("email"),
                        "user_id": user_id,
                        "email": address.email,
                        "normalized": address.normalized,
                        "is_primary": primary,
                        "verified_at": now if verified else None,
                        "created_at": created,
                    }
                )
            if row.password_hash is not None:
                passwords.append(
                    {"user_id": user_id, "password_hash": row.password_hash, "updated_at": now}
                )
            record_event(
                s,
                "user.imported",
                at=now,
                meta=IMPORTER,
                user_id=user_id,
                with_password=row.password_hash is not None,
            )
        if users:
            # Plain inserts, many rows a statement: 100,000 users in minutes.
            await s.exec(insert(UserRow), params=users)
            await s.exec(insert(EmailAddressRow), params=emails)
            if passwords:
                await s.exec(insert(PasswordCredentialRow), params=passwords)
