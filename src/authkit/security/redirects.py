"""
The one validator for every redirect target taken from a request (`redirect_url` and
anything else that ends up in a Location header): only paths on this site pass, so
authkit can never be used to bounce a user to another site (open redirect).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote, unquote, urlsplit

__all__ = ["MAX_REDIRECT_LENGTH", "ascii_url", "safe_redirect_url"]

MAX_REDIRECT_LENGTH = 2048
#: What `ascii_url` leaves as it is: URL syntax, and existing percent-escapes.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


def safe_redirect_url(value: str | None, *, default: str, base_url: str) -> str:
    """
    Return `value` when it is a path on this site, else `default`.

    Absolute URLs are accepted only when their scheme and host equal `base_url`'s, and
    come back as a path. Anything with a backslash, a control character, an odd scheme,
    or starting with `//` falls back to the default. The result is ASCII (other
    characters percent-encoded), so it fits any header: Location, HX-Redirect.
    """
    if not value or len(value) > MAX_REDIRECT_LENGTH:
        return default
    # Judge the value as anything downstream might read it, percent-decoded too:
    # "/%2F%2Fevil.com" or "/%5Cevil.com" become "//evil.com" once a proxy decodes them.
    for form in (value, unquote(value)):
        # Browsers treat "\" as "/" and drop tabs and newlines: "/\evil.com" and
        # "/\t/evil.com" would leave the site. Any control character (C0, C1, DEL) or
        # space is refused outright; so is an empty authority ("///evil.com").
        if "\\" in form or any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in form):
            return default
        try:
            if form.startswith("///") or "//" in urlsplit(form).path:
                return default
        except ValueError:  # "//[": an unclosed IPv6 host
            return default
    try:
        parts = urlsplit(value)
    except ValueError:
        return default
    if parts.scheme or parts.netloc:
        base = urlsplit(base_url)
        if (parts.scheme, parts.netloc.lower()) != (base.scheme, base.netloc.lower()):
            return default
        if parts.username is not None or parts.password is not None:
            return default
    path = parts.path
    if not path.startswith("/") or path.startswith("//"):
        return default
    result = path
    if parts.query:
        result += "?" + parts.query
    if parts.fragment:
        result += "#" + parts.fragment
    return ascii_url(result)


def ascii_url(url: str) -> str:
    """`url` with every character outside URL syntax percent-encoded as UTF-8: what a
    browser sends for it, and safe in an HTTP header (which must be Latin-1)."""
    return quote(url, safe=_URL_SAFE)
