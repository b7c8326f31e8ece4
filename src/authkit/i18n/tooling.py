"""
Making and keeping the catalogs, with Babel's own reader and writers: `extract` writes the
template (authkit.pot) from the message table, each entry's context its code and its id the
English; `update` brings every language's .po up to it (a changed English sentence keeps
its old translation marked fuzzy, for a translator to check); `compile` writes the .mo
files the kit reads; `missing` lists what a catalog lacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from ..messages import MESSAGES
from .catalogs import DOMAIN, PACKAGE_LOCALE_DIR
from .plural import Plural

__all__ = [
    "Gap",
    "catalog_paths",
    "compile_catalogs",
    "extract",
    "init_catalog",
    "missing",
    "template_catalog",
    "update_catalogs",
]

_FIELD = re.compile(r"\{([a-z_]+)\}")
_HEADER = "Translations of authkit's sentences."
_TEAM = "authkit translators"
#: Fixed, so regenerating an unchanged catalog changes no byte of it.
_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def template_catalog() -> Catalog:
    """The message table as a catalog template, in the table's order."""
    catalog = Catalog(
        project="authkit",
        version="1",
        copyright_holder="authkit",
        msgid_bugs_address=_TEAM,
        last_translator=_TEAM,
        language_team=_TEAM,
        header_comment=f"# {_HEADER}",
        creation_date=_DATE,
        revision_date=_DATE,
        fuzzy=False,
    )
    for code, sentence in MESSAGES.items():
        english: str | tuple[str, str] = (
            (sentence.one, sentence.other) if isinstance(sentence, Plural) else sentence
        )
        notes = []
        text = " ".join(english) if isinstance(english, tuple) else english
        fields = sorted(set(_FIELD.findall(text)))
        if fields:
            notes.append("Keep the fields as they are: " + ", ".join(f"{{{f}}}" for f in fields))
        if isinstance(sentence, Plural):
            notes.append(f"The form is chosen by {{{sentence.number}}}.")
        catalog.add(english, context=code, auto_comments=notes)
    return catalog


def catalog_paths(folder: Path = PACKAGE_LOCALE_DIR) -> Iterator[tuple[str, Path]]:
    """(locale, .po path) of every language in `folder`."""
    for po in sorted(folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        yield po.parent.parent.name, po


def extract(folder: Path = PACKAGE_LOCALE_DIR) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{DOMAIN}.pot"
    with path.open("wb") as handle:
        write_po(handle, template_catalog(), width=100, omit_header=False)
    return path


def init_catalog(locale: str, folder: Path = PACKAGE_LOCALE_DIR) -> Path:
    """A new language: its .po with every entry to translate."""
    path = folder / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if path.exists():
        raise FileExistsError(f"{path} exists already: use update")
    catalog = template_catalog()
    catalog.locale = Locale.parse(locale)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100)
    return path


def update_catalogs(folder: Path = PACKAGE_LOCALE_DIR) -> list[Path]:
    template = template_catalog()
    updated = []
    for locale, path in catalog_paths(folder):
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        catalog.update(template, update_header_comment=False)
        # Entries gone from the table are dropped, not kept as obsolete history.
        catalog.obsolete.clear()
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100)
        updated.append(path)
    return updated


def compile_catalogs(folder: Path = PACKAGE_LOCALE_DIR) -> list[Path]:
    written = []
    for locale, path in catalog_paths(folder):
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        target = path.with_suffix(".mo")
        with target.open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        written.append(target)
    return written


@dataclass(frozen=True, slots=True)
class Gap:
    """An entry of the table a language's .po does not translate (or marks fuzzy)."""

    locale: str
    code: str
    why: str


def missing(folder: Path = PACKAGE_LOCALE_DIR) -> list[Gap]:
    gaps = []
    template = template_catalog()
    for locale, path in catalog_paths(folder):
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        for wanted in template:
            if not wanted.id:
                continue
            found = catalog.get(wanted.id, context=wanted.context)
            code = str(wanted.context)
            if found is None:
                gaps.append(Gap(locale, code, "not in the catalog"))
            elif found.fuzzy:
                gaps.append(Gap(locale, code, "fuzzy (the English changed)"))
            elif not _translated(found.string):
                gaps.append(Gap(locale, code, "not translated"))
    return gaps


def _translated(string: str | Sequence[str] | None) -> bool:
    if isinstance(string, tuple | list):
        return bool(string) and all(string)
    return bool(string)
