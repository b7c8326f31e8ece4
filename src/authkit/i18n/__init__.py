"""
Languages: the catalogs sentences are translated in, which language a request or an email
is in, and the formats of dates in it.
"""

from .catalogs import CatalogSource
from .locales import (
    DEFAULT_LOCALE,
    SHIPPED_LOCALES,
    current_locale,
    html_lang,
    normalize_locale,
    text_direction,
    using_locale,
)
from .plural import Plural
from .policy import LocalePolicy, LocaleSelector

__all__ = [
    "DEFAULT_LOCALE",
    "SHIPPED_LOCALES",
    "CatalogSource",
    "LocalePolicy",
    "LocaleSelector",
    "Plural",
    "current_locale",
    "html_lang",
    "normalize_locale",
    "text_direction",
    "using_locale",
]
