"""
A pseudo-locale: every sentence of the table "translated" into a marked, accented copy of
its English (`Sign in` → `⟦Šíĝñ íñ⟧`), compiled into a catalog a kit can load. A page shown in
it says at once which words did not go through the table: they are the unmarked ones.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from authkit.i18n import Plural
from authkit.messages import MESSAGES

#: A real language Babel knows that authkit ships no catalog for.
PSEUDO_LOCALE = "eo"
OPEN, CLOSE = "⟦", "⟧"
_ACCENTED = str.maketrans("aceginosuyACEGINOSUY", "áçéĝíñóšúýÁÇÉĜÍÑÓŠÚÝ")
_FIELD = re.compile(r"(\{[a-z_]+\})")


def pseudo(text: str) -> str:
    """Marked and accented, fields left as they are."""
    parts = _FIELD.split(text)
    return (
        OPEN + "".join(p if _FIELD.fullmatch(p) else p.translate(_ACCENTED) for p in parts) + CLOSE
    )


def write_pseudo_catalog(folder: Path) -> Path:
    catalog = Catalog(locale=PSEUDO_LOCALE)
    for code, sentence in MESSAGES.items():
        if isinstance(sentence, Plural):
            catalog.add(
                (sentence.one, sentence.other),
                (pseudo(sentence.one), pseudo(sentence.other)),
                context=code,
            )
        else:
            catalog.add(sentence, pseudo(sentence), context=code)
    target = folder / PSEUDO_LOCALE / "LC_MESSAGES"
    target.mkdir(parents=True, exist_ok=True)
    with (target / "authkit.mo").open("wb") as handle:
        write_mo(handle, catalog)
    return folder


#: Attributes whose values people read (or hear).
_READ_ATTRIBUTES = {"placeholder", "aria-label", "title", "alt", "aria-description"}
_WORD = re.compile(r"[^\W\d_]{2,}")
_INNERMOST = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")


class _Words(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        for name, value in attrs:
            if value and (
                name in _READ_ATTRIBUTES
                # Sentences authkit.js shows (data-ak-cancelled, data-ak-show, ...).
                or (name.startswith("data-ak-") and " " in value.strip())
                or (name == "value" and dict(attrs).get("type") in {"submit", "button"})
            ):
                self.chunks.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"} and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.chunks.append(data.strip())


def unmarked_words(html: str, *, allowed: set[str]) -> list[str]:
    """The text of `html` (and the attributes read aloud) that has words outside the
    pseudo-locale's marks, other than `allowed` words (names, addresses, the site's)."""
    parser = _Words()
    parser.feed(html)
    found = []
    for chunk in parser.chunks:
        outside, marked = chunk, _INNERMOST.subn(" ", chunk)[1]
        while marked:  # a sentence inside a sentence: innermost first
            outside, marked = _INNERMOST.subn(" ", outside)
        outside = re.sub(r"https?://\S+", " ", outside)  # links
        outside = re.sub(r"\S+@\S+", " ", outside)  # addresses
        outside = re.sub(r"\b(?:[A-Z2-7]{4} ?){4,}", " ", outside)  # a TOTP secret
        words = [w for w in _WORD.findall(outside) if w not in allowed]
        if words:
            found.append(chunk)
    return found
