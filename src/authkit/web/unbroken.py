"""
`{{ sentence|ak_unbroken(email) }}`: the sentence, escaped, with the address in it kept on
one line. A browser may break a line after any hyphen, so "ada-lovelace@example.com"
could end a line at "ada-"; the address is only wrapped as a whole (CSS lets it break
anywhere when a line cannot hold it at all).
"""

from __future__ import annotations

import jinja2
from markupsafe import Markup, escape

__all__ = ["register_unbroken_filter", "unbroken"]


_PUNCTUATION = ".,;:!?)"


def unbroken(text: str, word: str) -> Markup:
    escaped, escaped_word = escape(text), escape(word)
    if not word or escaped_word not in escaped:
        return escaped
    pieces = escaped.split(escaped_word)
    out = pieces[0]
    for after in pieces[1:]:
        # The full stop after the address stays with it, never alone on a line.
        stop = len(after) - len(after.lstrip(_PUNCTUATION))
        kept = escaped_word + after[:stop]
        out += Markup('<span class="ak-unbroken">') + kept + Markup("</span>") + after[stop:]
    return out


def register_unbroken_filter(environment: jinja2.Environment) -> None:
    environment.filters["ak_unbroken"] = unbroken
