"""
The compiled translation catalogs (`<dir>/<locale>/LC_MESSAGES/authkit.mo`): authkit's own
in the package, a host's in the folders it names first. Each entry's context is the message
code and its id the English sentence; a translation whose English has since changed is
left out, so a stale sentence falls back to English (and the catalog test says so) instead
of saying something the English no longer does.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from os import PathLike
from pathlib import Path
from threading import Lock
from typing import NamedTuple

from babel.messages.mofile import read_mo

from .plural import Plural

__all__ = ["DOMAIN", "PACKAGE_LOCALE_DIR", "Catalog", "CatalogSource", "Forms", "Sentence"]

DOMAIN = "authkit"
PACKAGE_LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


class Forms(NamedTuple):
    """A translated plural sentence: one form per plural category of the language."""

    forms: tuple[str, ...]
    number: str


Sentence = str | Plural | Forms


@dataclass(frozen=True, slots=True)
class Catalog:
    locale: str
    sentences: Mapping[str, Sentence]
    plural: Callable[[int], int]


class CatalogSource:
    """Finds and reads catalogs, once per language; the host's folders come first."""

    def __init__(self, dirs: Sequence[str | PathLike[str]] = ()) -> None:
        self.dirs: tuple[Path, ...] = (*(Path(d) for d in dirs), PACKAGE_LOCALE_DIR)
        self._loaded: dict[str, Catalog | None] = {}
        self._lock = Lock()

    def path_of(self, locale: str) -> Path | None:
        """The catalog of `locale`, else of its language (`de_AT` reads `de`)."""
        language = locale.split("_", 1)[0]
        for tag in dict.fromkeys((locale, language)):
            for folder in self.dirs:
                path = folder / tag / "LC_MESSAGES" / f"{DOMAIN}.mo"
                if path.is_file():
                    return path
        return None

    def available(self) -> tuple[str, ...]:
        """Every language some folder has a compiled catalog for."""
        found: dict[str, None] = {}
        for folder in self.dirs:
            if folder.is_dir():
                for child in sorted(folder.iterdir()):
                    if (child / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file():
                        found[child.name] = None
        return tuple(found)

    def get(self, locale: str) -> Catalog | None:
        if locale in self._loaded:
            return self._loaded[locale]
        with self._lock:
            if locale not in self._loaded:
                path = self.path_of(locale)
                self._loaded[locale] = (
                    _read_once(str(path), path.stat().st_mtime_ns, locale)
                    if path is not None
                    else None
                )
        return self._loaded[locale]


@lru_cache(maxsize=64)
def _read_once(path: str, mtime_ns: int, locale: str) -> Catalog:
    """Every kit of a process shares a catalog file's reading (until the file changes)."""
    return read_catalog(Path(path), locale)


def read_catalog(path: Path, locale: str) -> Catalog:
    # Imported here: authkit.messages imports this module.
    from ..messages import MESSAGES

    with path.open("rb") as handle:
        compiled = read_mo(handle)
    sentences: dict[str, Sentence] = {}
    for message in compiled:
        code = message.context
        source = MESSAGES.get(code) if code else None
        if code is None or source is None or not message.string or message.fuzzy:
            continue
        if isinstance(source, Plural):
            forms = message.string
            # Read back, a plural entry's id and forms are lists.
            same = isinstance(message.id, list | tuple) and tuple(message.id) == source[:2]
            if same and isinstance(forms, list | tuple) and all(forms):
                sentences[code] = Forms(tuple(forms), source.number)
        elif message.id == source and isinstance(message.string, str):
            sentences[code] = message.string
    expression = compiled.plural_expr or "(n != 1)"
    return Catalog(locale, sentences, gettext.c2py(expression))
