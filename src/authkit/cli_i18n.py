"""
`authkit i18n`: the translation catalogs. `extract` writes the template from the message
table, `update` brings every language's .po up to it, `compile` writes the .mo files the
kit reads, `check` lists what is untranslated, `init LOCALE` starts a language. Each works
on authkit's own catalogs, or on a host's folder with `--dir` (passed to
`AuthKit(translation_dirs=[...])`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .i18n.catalogs import PACKAGE_LOCALE_DIR
from .i18n.locales import normalize_locale
from .i18n.tooling import compile_catalogs, extract, init_catalog, missing, update_catalogs

__all__ = ["add_commands"]


def add_commands(commands: Any) -> None:
    i18n = commands.add_parser("i18n", help="translation catalogs").add_subparsers(title="i18n")
    for name, run, text in (
        ("extract", _extract, "write the catalog template (authkit.pot) from the sentences"),
        ("update", _update, "bring every language's .po up to the template"),
        ("compile", _compile, "write the .mo files the kit reads"),
        ("check", _check, "list the sentences a language does not translate yet"),
    ):
        command = i18n.add_parser(name, help=text)
        _add_dir(command)
        command.set_defaults(run=run)
    init = i18n.add_parser("init", help="start the catalog of a new language")
    init.add_argument("locale", help="a language tag such as it or pt-PT")
    _add_dir(init)
    init.set_defaults(run=_init)


def _add_dir(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--dir",
        type=Path,
        default=PACKAGE_LOCALE_DIR,
        help="the catalogs' folder (default: authkit's own)",
    )


def _extract(args: argparse.Namespace) -> int:
    print(f"authkit: wrote {extract(args.dir)}")
    return 0


def _update(args: argparse.Namespace) -> int:
    for path in update_catalogs(args.dir):
        print(f"authkit: updated {path}")
    return 0


def _compile(args: argparse.Namespace) -> int:
    for path in compile_catalogs(args.dir):
        print(f"authkit: compiled {path}")
    return 0


def _check(args: argparse.Namespace) -> int:
    gaps = missing(args.dir)
    for gap in gaps:
        print(f"{gap.locale}: {gap.code}: {gap.why}")
    if gaps:
        print(f"authkit: {len(gaps)} sentences to translate.", file=sys.stderr)
        return 1
    print("authkit: every sentence is translated in every catalog.")
    return 0


def _init(args: argparse.Namespace) -> int:
    try:
        locale = normalize_locale(args.locale)
        path = init_catalog(locale, args.dir)
    except (ValueError, FileExistsError) as exc:
        print(f"authkit: {exc}", file=sys.stderr)
        return 2
    print(f"authkit: wrote {path}: translate it, then `authkit i18n compile`.")
    return 0
