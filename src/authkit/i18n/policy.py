"""
How a request's language is chosen: the `locale` setting when there is one; else the host's
`locale_selector(request)` when it names an offered language; else the signed-in user's
language (a cookie set at sign-in and when they change it in the profile); else the
browser's Accept-Language, negotiated among the offered languages; else the first offered
one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.requests import Request
from starlette.types import Scope

from ..cookies import LANGUAGE_COOKIE, one_cookie
from ..errors import ConfigError
from .catalogs import CatalogSource
from .locales import DEFAULT_LOCALE, SHIPPED_LOCALES, negotiate_accept_language, normalize_locale

__all__ = ["LocalePolicy", "LocaleSelector"]

logger = logging.getLogger("authkit")

#: The host's choice for a request (`request.state.language`, a cookie, a claim), or None.
LocaleSelector = Callable[[Request], str | None]


def _covered(tag: str, have: set[str]) -> bool:
    """Whether sentences exist for `tag`: its catalog, its language's (`de_AT` uses
    `de`'s), or English itself in any region (the table is English)."""
    language = tag.split("_", 1)[0]
    return tag in have or language in have or language == DEFAULT_LOCALE


class LocalePolicy:
    """The offered languages, checked against the catalogs there are, and the choice of
    one for each request."""

    def __init__(
        self,
        *,
        locale: str | None,
        languages: str,
        selector: LocaleSelector | None,
        catalogs: CatalogSource,
        cookie_name: str = LANGUAGE_COOKIE,
    ) -> None:
        have = {DEFAULT_LOCALE, *catalogs.available()}
        listed = [normalize_locale(tag.strip()) for tag in languages.split(",") if tag.strip()]
        if not listed:
            listed = [tag for tag in SHIPPED_LOCALES if tag in have]
            listed += sorted(have - set(listed))
        missing = [tag for tag in listed if not _covered(tag, have)]
        fixed = normalize_locale(locale) if locale else None
        if fixed is not None and not _covered(fixed, have):
            missing.append(fixed)
        if missing:
            raise ConfigError(
                f"There is no translation catalog for {', '.join(missing)}: authkit ships "
                f"{', '.join(SHIPPED_LOCALES)}; add others with translation_dirs "
                "(see docs/languages.md)."
            )
        #: The languages offered, the fallback first.
        self.languages: tuple[str, ...] = tuple(dict.fromkeys(listed))
        self.fixed = fixed
        self.selector = selector
        self.cookie_name = cookie_name

    def choose(self, scope: Scope) -> str:
        if self.fixed is not None:
            return self.fixed
        if self.selector is not None:
            try:
                wanted = self.selector(Request(scope))
            except Exception:
                # The page still renders (in the browser's language); the host's bug is
                # logged, not shown.
                logger.exception("locale_selector failed; choosing from Accept-Language")
                wanted = None
            chosen = self.offered(wanted)
            if chosen is not None:
                return chosen
        accept = None
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                chosen = self.offered(one_cookie(value, self.cookie_name))
                if chosen is not None:
                    return chosen
            elif name == b"accept-language" and accept is None:
                accept = value.decode("latin-1")
        if accept is not None:
            found = negotiate_accept_language(accept, self.languages)
            if found is not None:
                return found
        return self.languages[0]

    @property
    def is_choosable(self) -> bool:
        """Whether a user can pick a language (more than one, none fixed)."""
        return self.fixed is None and len(self.languages) > 1

    def find(self, tag: str) -> str | None:
        """The offered language `tag` names (`pt-BR`, `de-AT` → `de`), or None."""
        if not isinstance(tag, str) or not tag:
            return None
        return negotiate_accept_language(tag, self.languages)

    def offered(self, tag: str | None) -> str | None:
        """`tag` as one of the offered languages (`de-AT` → `de`), or None."""
        if self.fixed is not None:
            return self.fixed
        return self.find(tag) if tag else None
