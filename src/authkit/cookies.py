"""
The cookies authkit sets, written in one place so their names and flags cannot drift:
HttpOnly always, SameSite=Lax, and on an https site Secure, `Path=/` and a `__Host-`
name (`CookieNames`). And how it reads them: `one_cookie` for one name, whatever else
the header holds (the per-request session check, `CookieMemo`, and `RequestCookies`,
which is how every other authkit code reads a cookie), `parse_cookies` for all of them.
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from starlette.requests import cookie_parser

__all__ = [
    "CSRF_COOKIE",
    "HOST_PREFIX",
    "REFRESH_COOKIE",
    "SESSION_COOKIE",
    "CookieMemo",
    "CookieNames",
    "RequestCookies",
    "clear_cookie",
    "cookie_names",
    "one_cookie",
    "parse_cookies",
    "set_cookie",
]

#: The names on a plain-http site (development). On https each is `__Host-` + the name
#: without its leading underscores: `CookieNames`.
SESSION_COOKIE = "__session"
REFRESH_COOKIE = "__refresh"
CSRF_COOKIE = "__ak_csrf"
#: The language a signed-in user chose in the profile (authkit.i18n.policy reads it).
LANGUAGE_COOKIE = "__ak_lang"
#: A year: a language choice outlives sessions.
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600
#: A browser keeps a cookie of this prefix only when it is Secure, has `Path=/` and no
#: Domain, and was set by an https page of this very host: no sibling subdomain (nor a
#: man in the middle on plain http) can set, replace or shadow it.
HOST_PREFIX = "__Host-"
MAX_COOKIE_HEADER = 16_384
#: CookieMemo's bounds: headers remembered, and the longest one it keeps. At most about
#: 10,000 x 2 KB = 20 MB per process; longer headers are read every time (and the
#: middleware does not even look them up: hashing 16 KB costs more than reading it).
MEMO_SIZE = 10_000
MEMO_MAX_HEADER = 2_048


@dataclass(frozen=True, slots=True)
class CookieNames:
    """
    What authkit's cookies are called on a site, and where a cookie meant only for the
    sub-app lives. `settings.cookie_names` (and `AuthKit.cookie_names`) give the site's.

    On https every cookie is a `__Host-` cookie (`__Host-session`, `__Host-refresh`,
    `__Host-ak_csrf`, `__Host-ak_sign_in`, ...), so a sibling subdomain cannot toss one
    in; the sub-app's own cookies then live on `Path=/` too, as the prefix demands. On
    plain http (development) a browser refuses Secure cookies, so the names stay
    `__session`, `__refresh`, `__ak_csrf` ... and the sub-app's cookies keep the mount
    path.
    """

    secure: bool
    session: str
    refresh: str
    csrf: str

    def of(self, name: str) -> str:
        """This site's name for the cookie called `name` on plain http."""
        return HOST_PREFIX + name.lstrip("_") if self.secure else name

    def path(self, mount_path: str) -> str:
        """The Path of a cookie only the sub-app (mounted at `mount_path`) reads."""
        return "/" if self.secure else mount_path or "/"


_PLAIN_NAMES = CookieNames(
    secure=False, session=SESSION_COOKIE, refresh=REFRESH_COOKIE, csrf=CSRF_COOKIE
)
_HOST_NAMES = CookieNames(
    secure=True,
    session=HOST_PREFIX + SESSION_COOKIE.lstrip("_"),
    refresh=HOST_PREFIX + REFRESH_COOKIE.lstrip("_"),
    csrf=HOST_PREFIX + CSRF_COOKIE.lstrip("_"),
)


def cookie_names(*, https: bool) -> CookieNames:
    return _HOST_NAMES if https else _PLAIN_NAMES


def set_cookie(
    name: str, value: str, *, max_age: int | None, secure: bool, path: str = "/"
) -> bytes:
    """
    A Set-Cookie header value (never with a Domain: host-only).

    Raises:
        ValueError: a `__Host-` name without Secure or on another path than `/`, which
            every browser would drop.
    """
    if name.startswith(HOST_PREFIX) and (not secure or path != "/"):
        raise ValueError(f"{name} must be Secure and on Path=/")
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
    Linear in the header, but it reads every cookie: authkit itself reads the ones it
    needs through `RequestCookies`.
    """
    if not raw or len(raw) > MAX_COOKIE_HEADER:
        return {}
    text = raw.decode("latin-1")
    cookies = cookie_parser(text)
    seen = Counter(chunk.split("=", 1)[0].strip() for chunk in text.split(";") if "=" in chunk)
    for name, times in seen.items():
        if times > 1:  # sent more than once
            cookies.pop(name, None)
    return cookies


def one_cookie(raw: bytes | None, name: str) -> str | None:
    """
    `parse_cookies(raw).get(name)` for a cookie name (an RFC 6265 token: no separator,
    "=" or space in it), reading no more of the header than that takes. A test holds the
    two to the same answer on any input.

    Bounded whatever the header holds: at most `_LOCAL_CHECKS` mentions of the name are
    looked at one by one (the second copy of the cookie ends the reading: it counts as
    absent), and past that four passes over the header in C and a binary search decide.
    So 16 KB of copies of the cookie cost about what one copy does, and 16 KB of text
    mentioning its name about one search through it: never a step per mention.
    """
    if not raw or len(raw) > MAX_COOKIE_HEADER:
        return None
    key = name.encode("latin-1")
    at = raw.find(key)
    found: bytes | None = None
    checks = 0
    while at != -1:
        if checks == _LOCAL_CHECKS:
            found = _the_only_value(raw, key)
            break
        checks += 1
        value = _value_at(raw, at, len(key))
        if value is not None:
            if found is not None:
                return None  # sent twice (see parse_cookies): no need to read on
            found = value
        at = raw.find(key, at + 1)
    if found is None:
        return None
    if found[:1] == b'"':  # rare: let cookie_parser unquote it
        return cookie_parser(f"{name}={found.decode('latin-1')}").get(name)
    return found.decode("latin-1")


#: A cookie name as RFC 6265 has it (a token): what one_cookie is for.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Mentions of a name one_cookie checks one at a time before it counts in bulk.
_LOCAL_CHECKS = 4
#: The latin-1 characters str.strip() removes (cookie_parser strips keys and values).
_STRIPPED = bytes(code for code in range(256) if chr(code).isspace())
_TO_SPACE = bytes.maketrans(_STRIPPED, b" " * len(_STRIPPED))


def _value_at(raw: bytes, at: int, length: int) -> bytes | None:
    """The value (stripped, still quoted) of the cookie whose name is the `length` bytes
    at `at`, or None when those bytes are not a cookie's whole name: cookie_parser's
    chunks are split on ";", and a chunk's name is what comes before its first "=",
    stripped."""
    # Each test strips only the whitespace next to the name: it stops at the first other
    # byte, so a long stretch of whitespace is read for the mention beside it only.
    start = raw.rfind(b";", 0, at) + 1
    if start != at and raw[start:at].rstrip(_STRIPPED):
        return None
    end = raw.find(b";", at + length)
    rest, equals, value = raw[at + length : end if end >= 0 else len(raw)].partition(b"=")
    if not equals or rest.lstrip(_STRIPPED):
        return None
    return value.strip(_STRIPPED)


def _the_only_value(raw: bytes, key: bytes) -> bytes | None:
    """
    `_value_at` of the one chunk named `key`; None when none or several are. Counted in
    bulk, in four passes in C: every whitespace character becomes a space, each `key` a
    tab (which no longer occurs otherwise), and the spaces go. A chunk named `key` was
    ";", spaces, `key`, spaces, "=" and now reads ";\\t="; nothing else does (a name
    with a space inside, say, kept its letters). Positions move, but ";" are neither
    added nor removed, so the chunk's place among them finds it in `raw` (a binary
    search).
    """
    squeezed = (b";" + raw.translate(_TO_SPACE)).replace(key, b"\t").translate(None, b" ")
    if squeezed.count(b";\t=") != 1:
        return None
    chunk = squeezed.count(b";", 0, squeezed.find(b";\t="))  # this many ";" before it in raw
    # The chunk starts at the first index with `chunk` ";" before it; `before` counts those
    # before `low`, so each step counts only in the half it drops (2 x 16 KB in all).
    low, high, before = 0, len(raw), 0
    while low < high:
        middle = (low + high) // 2
        inside = raw.count(b";", low, middle)
        if before + inside < chunk:
            before += inside + (raw[middle] == 59)  # 59: ";"
            low = middle + 1
        else:
            high = middle
    start = len(raw) - len(raw[low:].lstrip(_STRIPPED))
    return _value_at(raw, start, len(key))


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


class RequestCookies(Mapping[str, str]):
    """
    A request's cookies as `parse_cookies` reads them, each name read on first use by
    `one_cookie` (and kept): authkit's pages need one or two, and must not pay for the
    others, nor for a header stuffed with copies of one. Iterating parses them all.
    """

    __slots__ = ("_all", "_raw", "_read")

    def __init__(self, raw: bytes | None) -> None:
        self._raw = raw
        self._read: dict[str, str | None] = {}
        self._all: Mapping[str, str] | None = None

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        try:
            value = self._read[name]
        except KeyError:
            if self._all is not None or not _TOKEN.fullmatch(name):
                value = self._every().get(name)  # (one_cookie reads names of a cookie's grammar)
            else:
                value = one_cookie(self._raw, name)
            self._read[name] = value
        return default if value is None else value

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._every())

    def __len__(self) -> int:
        return len(self._every())

    def _every(self) -> Mapping[str, str]:
        if self._all is None:
            self._all = parse_cookies(self._raw)
        return self._all
