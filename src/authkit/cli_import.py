"""
`authkit users import FILE --from clerk|django|auth0|csv [--dry-run]`: users from another
system, with a progress bar on a terminal and a report of what was imported, skipped (here
already) and invalid, with each row's reason.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .app import AuthKit
from .importing import FORMATS, ImportReport, import_users, read_export

__all__ = ["add_command"]

#: Reasons listed one by one; past this many, only counted.
SHOWN_REASONS = 50


def add_command(users: Any, with_kit: Any) -> None:
    """Add `import` to the `authkit users` commands."""
    command = users.add_parser(
        "import", help="import users from Clerk, Django, Auth0 or CSV (password hashes kept)"
    )
    command.add_argument("file", type=Path)
    command.add_argument("--from", dest="kind", required=True, choices=sorted(FORMATS))
    command.add_argument(
        "--dry-run", action="store_true", help="check everything and write nothing"
    )
    command.set_defaults(run=lambda args: _run(args, with_kit))


def _run(args: argparse.Namespace, with_kit: Any) -> int:
    if not args.file.is_file():
        print(f"authkit: {args.file} is not a file.", file=sys.stderr)
        return 2

    async def work(kit: AuthKit) -> int:
        with tqdm(
            desc="Importing" if not args.dry_run else "Checking",
            unit=" users",
            file=sys.stderr,
            disable=None,  # no bar where stderr is not a terminal
        ) as bar:
            try:
                report = await import_users(
                    kit.services,
                    read_export(args.file, args.kind),
                    dry_run=args.dry_run,
                    progress=bar.update,
                )
            except (ValueError, UnicodeDecodeError) as exc:
                print(
                    f"authkit: {args.file} cannot be read as a {args.kind} export: {exc}.",
                    file=sys.stderr,
                )
                return 2
        _print(report, dry_run=args.dry_run)
        return 0 if not report.invalid else 1

    result: int = with_kit(work)
    return result


def _print(report: ImportReport, *, dry_run: bool) -> None:
    verb = "would import" if dry_run else "imported"
    print(
        f"authkit: {verb} {report.imported}, skipped {len(report.skipped)} (here already), "
        f"{len(report.invalid)} invalid."
    )
    for label, rows in (("skipped", report.skipped), ("invalid", report.invalid)):
        for line, reason in rows[:SHOWN_REASONS]:
            print(f"  {label} (line {line}): {reason}")
        if len(rows) > SHOWN_REASONS:
            print(f"  ... and {len(rows) - SHOWN_REASONS} more {label}")
