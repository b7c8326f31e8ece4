"""
Which language a request is answered in. The kit's middleware puts the request's scope in
a context variable; its language is chosen the first time a sentence is needed (so a
request that shows no words pays nothing) and kept in the scope for the rest of it.
Work outside a request (the CLI, emails composed for someone else) chooses with
`using_locale`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError, negotiate_locale

__all__ = [
    "DEFAULT_LOCALE",
    "SHIPPED_LOCALES",
    "current_locale",
    "html_lang",
    "language_choices",
    "negotiate_accept_language",
    "normalize_locale",
    "text_direction",
    "using_locale",
]

#: The languages authkit's own catalogs cover, English (the source) first.
SHIPPED_LOCALES: tuple[str, ...] = ("en", "de", "fr", "es", "pt_BR", "ja", "ar")
DEFAULT_LOCALE = "en"
#: At most this many languages are read from an Accept-Language header.
_MAX_ACCEPTED = 12


#: Where a request's scope keeps what chooses its language, and then the choice.
CHOOSER_KEY = "authkit.locale_chooser"
LOCALE_KEY = "authkit.locale"

#: The language of the moment: a tag (`using_locale`), or the scope of the request being
#: answered, whose language is chosen on first use and kept in it. The middleware sets
#: the scope (a dict it already has: nothing is built on the hot path).
_current: ContextVar[str | MutableMapping[str, Any]] = ContextVar(
    "authkit_locale", default=DEFAULT_LOCALE
)


def current_locale() -> str:
    """The language sentences are given in now (`en`, `pt_BR`)."""
    value = _current.get()
    if isinstance(value, str):
        return value
    chosen = value.get(LOCALE_KEY)
    if chosen is None:
        chooser: Callable[[MutableMapping[str, Any]], str] | None = value.get(CHOOSER_KEY)
        chosen = value[LOCALE_KEY] = chooser(value) if chooser is not None else DEFAULT_LOCALE
    return str(chosen)


def set_request_scope(scope: MutableMapping[str, Any]) -> Token[str | MutableMapping[str, Any]]:
    """For the middleware: the first `current_locale()` of this context asks the scope's
    chooser (`scope[CHOOSER_KEY]`)."""
    return _current.set(scope)


def reset_locale(token: Token[str | MutableMapping[str, Any]]) -> None:
    _current.reset(token)


@contextmanager
def using_locale(locale: str) -> Iterator[None]:
    """Sentences inside the block are in `locale` (an email to someone else, say)."""
    token = _current.set(locale)
    try:
        yield
    finally:
        _current.reset(token)


@lru_cache(maxsize=256)
def normalize_locale(tag: str) -> str:
    """`pt-br`, `pt_BR` and `PT-BR` are all `pt_BR`; raises ValueError for no language."""
    try:
        return str(Locale.parse(tag.replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(f"{tag!r} is not a language tag Babel knows") from exc


@lru_cache(maxsize=64)
def html_lang(locale: str) -> str:
    """The BCP 47 tag for `lang=""`: `pt-BR`."""
    return locale.replace("_", "-")


@lru_cache(maxsize=64)
def text_direction(locale: str) -> str:
    """`rtl` for right-to-left scripts (Arabic, Hebrew), else `ltr`."""
    try:
        return "rtl" if Locale.parse(locale).text_direction == "rtl" else "ltr"
    except (UnknownLocaleError, ValueError):
        return "ltr"


def negotiate_accept_language(header: str, available: Sequence[str]) -> str | None:
    """
    The best of `available` for an Accept-Language header (RFC 9110: q-values, `*`),
    or None. A regional preference finds the bare language (`de-AT` finds `de`) and a bare
    one finds a region (`pt` finds `pt_BR`).
    """
    wanted = _preferences(header)
    if not wanted:
        return None
    exact = {locale.lower(): locale for locale in available}
    chosen = negotiate_locale(wanted, available, sep="_")
    if chosen is not None:  # as the header spelled it: `ES` is `es`
        return exact.get(chosen.lower(), chosen)
    by_language = {locale.split("_", 1)[0].lower(): locale for locale in reversed(available)}
    for tag in wanted:
        found = by_language.get(tag.split("_", 1)[0].lower())
        if found is not None:
            return found
    return None


def _preferences(header: str) -> list[str]:
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:1000].split(",")[:_MAX_ACCEPTED]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if 0 < quality <= 1:
            weighted.append((-quality, position, tag.replace("-", "_")))
    return [tag for _, _, tag in sorted(weighted)]


@lru_cache(maxsize=16)
def language_choices(locales: tuple[str, ...]) -> list[tuple[str, str]]:
    """(tag, its name in its own language) for a language menu: `("de", "Deutsch")`."""
    choices = []
    for locale in locales:
        name = Locale.parse(locale).get_display_name(locale) or locale
        choices.append((locale, name[:1].upper() + name[1:]))
    return choices
