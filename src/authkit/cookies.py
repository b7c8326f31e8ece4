"""
The cookies authkit sets, written in one place so their flags cannot drift:
HttpOnly always, SameSite=Lax, Secure whenever the site runs on https.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import cookie_parser

__all__ = [
    "REFRESH_COOKIE",
    "SESSION_COOKIE",
    "clear_cookie",
    "parse_cookies",
    "set_cookie",
]

SESSION_COOKIE = "__session"
REFRESH_COOKIE = "__refresh"
MAX_COOKIE_HEADER = 16_384


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
    if len(cookies) < text.count("="):
        names = [part.split("=", 1)[0].strip() for part in text.split(";") if "=" in part]
        for name in {n for n in names if names.count(n) > 1}:
            cookies.pop(name, None)
    return cookies
