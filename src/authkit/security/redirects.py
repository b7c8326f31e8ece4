"""
The one validator for every redirect target taken from a request (`redirect_url` and
anything else that ends up in a Location header): only paths on this site pass, so
authkit can never be used to bounce a user to another site (open redirect).
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["MAX_REDIRECT_LENGTH", "safe_redirect_url"]

MAX_REDIRECT_LENGTH = 2048


def safe_redirect_url(value: str | None, *, default: str, base_url: str) -> str:
    """
    Return `value` when it is a path on this site, else `default`.

    Absolute URLs are accepted only when their scheme and host equal `base_url`'s, and
    come back as a path. Anything with a backslash, a control character, an odd scheme,
    or starting with `//` falls back to the default.
    """
    if not value or len(value) > MAX_REDIRECT_LENGTH:
        return default
    # Browsers treat "\" as "/" and drop tabs and newlines: "/\evil.com" and
    # "/\t/evil.com" would leave the site.
    if "\\" in value or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
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
    return result
