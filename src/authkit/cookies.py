"""
The cookies authkit sets, written in one place so their flags cannot drift:
HttpOnly always, SameSite=Lax, Secure whenever the site runs on https. And how it reads
them: `parse_cookies` for all of a request's cookies, `one_cookie` and `CookieMemo` for
the per-request session check, which needs one and must not pay for the others.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from starlette.requests import cookie_parser

__all__ = [
    "REFRESH_COOKIE",
    "SESSION_COOKIE",
    "CookieMemo",
    "clear_cookie",
    "one_cookie",
    "parse_cookies",
    "set_cookie",
]

SESSION_COOKIE = "__session"
REFRESH_COOKIE = "__refresh"
MAX_COOKIE_HEADER = 16_384
#: CookieMemo's bounds: headers remembered, and the longest one it keeps. At most about
#: 10,000 x 2 KB = 20 MB per process; longer headers are read every time.
MEMO_SIZE = 10_000
MEMO_MAX_HEADER = 2_048


def set_cookie(
    name: str, value: str, *, max_age: int | None, secure: bool, path: str = "/"
) -> bytes:
    """A Set-Cookie header value."""
    parts = [f"{name}={value}", f"Path={path}", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:  # Secure can be used with HTTPS only
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


def clear_cookie(name: str, *, secure: bool, path: str = "/") -> bytes:
    return set_cookie(name, "", max_age=0, secure=secure, path=path)


def parse_cookies(raw: bytes | None) -> Mapping[str, str]:
    """
    The request's cookies. A name sent twice is dropped: which copy is genuine cannot be
    known (one may be planted from a sibling subdomain), so it counts as absent.
    """
    if not raw or len(raw) > MAX_COOKIE_HEADER:
        return {}
    text = raw.decode("latin-1")
    cookies = cookie_parser(text)
    names = [chunk.split("=", 1)[0].strip() for chunk in text.split(";") if "=" in chunk]
    if len(set(names)) < len(names):  # some name came more than once
        for name in {n for n in names if names.count(n) > 1}:
            cookies.pop(name, None)
    return cookies


def one_cookie(raw: bytes | None, name: str) -> str | None:
    """
    `parse_cookies(raw).get(name)` without parsing the other cookies: the per-request
    session check needs one name, and a site's other cookies (analytics, preferences)
    should cost it nothing. A test holds the two to the same answer on any input.
    """
    if not raw or len(raw) > MAX_COOKIE_HEADER:
        return None
    key = name.encode("latin-1")
    seen = raw.count(key)
    if seen == 0:
        return None
    if seen == 1:
        # The shape browsers send, read without decoding the header: `name=value` once,
        # first or after "; ", and a value with nothing to strip or unquote.
        at = raw.find(key + b"=")
        if at == 0 or (at > 1 and raw[at - 2 : at] == b"; "):
            end = raw.find(b";", at)
            value = raw[at + len(key) + 1 : end if end >= 0 else len(raw)]
            if value and value[0] not in _NOT_FIRST and value[-1] not in _STRIPPED:
                return value.decode("latin-1")
    return _one_cookie_in(raw.decode("latin-1"), name)


#: The bytes whose latin-1 characters str.strip() removes (cookie_parser strips keys and
#: values), and those that may not start a value the fast path returns as it is.
_STRIPPED = frozenset(code for code in range(256) if chr(code).isspace())
_NOT_FIRST = _STRIPPED | {ord('"')}


def _one_cookie_in(text: str, name: str) -> str | None:
    found: str | None = None
    at = text.find(name)
    while at != -1:
        # cookie_parser's chunks are split on ";", and a chunk's key is what comes before
        # its first "=", stripped: `name` must be all of it.
        end = text.find(";", at)
        key_rest, equals, value = text[at + len(name) : None if end < 0 else end].partition("=")
        if equals and not key_rest.strip() and not text[text.rfind(";", 0, at) + 1 : at].strip():
            if found is not None:
                return None  # sent twice (see parse_cookies)
            found = value.strip()
        at = text.find(name, at + 1)
    if found is not None and found[:1] == '"':  # rare: let cookie_parser unquote it
        return cookie_parser(f"{name}={found}").get(name)
    return found


class CookieMemo(OrderedDict[bytes, str | None]):
    """
    `one_cookie(raw, name)`, remembered per Cookie header: `memo[raw]`. A browser sends
    the same header on every request until one of its cookies changes, so a signed-in
    request finds its session token with one dictionary lookup, done in C (a hit runs no
    Python code). It also hands back the same string object each time, whose hash Python
    keeps, so the verified-token cache's lookup is cheap too.

    The answer is a pure function of the header's bytes, so remembering it cannot change
    a decision. First in, first out, bounded by MEMO_SIZE and MEMO_MAX_HEADER.
    """

    def __init__(self, name: str, *, size: int = MEMO_SIZE) -> None:
        super().__init__()
        self.name = name
        self.size = size

    def __missing__(self, raw: bytes) -> str | None:
        value = one_cookie(raw, self.name)
        if len(raw) <= MEMO_MAX_HEADER:
            self[raw] = value
            if len(self) > self.size:
                self.popitem(last=False)
        return value
