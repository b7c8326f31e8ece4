"""Reading cookies: the full parser, the one-name reader of the session check and its
memo. That the readers agree on every header is a property test in
tests/security/test_fuzz_parsers.py; these are the memo's own rules."""

from __future__ import annotations

import pytest

from authkit.cookies import (
    MEMO_MAX_HEADER,
    CookieMemo,
    RequestCookies,
    clear_cookie,
    cookie_names,
    one_cookie,
    parse_cookies,
    set_cookie,
)

TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJl"


def test_the_session_cookie_is_read_among_others() -> None:
    raw = f"_ga=GA1.2.3; __session={TOKEN}; __csrf=abc".encode()
    assert one_cookie(raw, "__session") == TOKEN
    assert parse_cookies(raw)["__session"] == TOKEN
    assert one_cookie(b"_ga=GA1.2.3; theme=dark", "__session") is None
    assert one_cookie(None, "__session") is None


def test_a_nameless_cookie_does_not_hide_a_duplicate() -> None:
    """`Set-Cookie: tossed` gives a cookie without a name; it used to make parse_cookies'
    count of names equal its count of "=" and so miss the second `__session`."""
    raw = b"__session=mine;__session=planted;tossed"
    assert "__session" not in parse_cookies(raw)
    assert one_cookie(raw, "__session") is None


def test_the_memo_answers_a_repeated_header_with_the_same_string() -> None:
    """The same str object each time: Python keeps its hash, so the verified-token
    cache's lookup does not hash the token again."""
    memo = CookieMemo("__session")
    first = memo[f"__session={TOKEN}; a=1".encode()]
    second = memo[f"__session={TOKEN}; a=1".encode()]  # equal bytes, another object
    assert first == TOKEN
    assert second is first


def test_the_memo_is_bounded_first_in_first_out() -> None:
    memo = CookieMemo("__session", size=3)
    headers = [f"__session=t{n}".encode() for n in range(5)]
    for raw in headers:
        memo[raw]
    assert list(memo) == headers[2:]
    assert memo[headers[0]] == "t0"  # forgotten, so read again, and remembered
    assert list(memo) == [*headers[3:], headers[0]]


def test_the_memo_does_not_keep_long_headers() -> None:
    memo = CookieMemo("__session")
    raw = f"__session={TOKEN}; pad={'x' * MEMO_MAX_HEADER}".encode()
    assert memo[raw] == TOKEN
    assert len(memo) == 0
    # And it remembers absence as well as presence.
    assert memo[b"theme=dark"] is None
    assert list(memo) == [b"theme=dark"]


def test_host_cookies_must_be_secure_on_the_root_path() -> None:
    """A browser drops a `__Host-` cookie that is not Secure or not on `Path=/`: building
    one is a bug, refused at once rather than shipped as a cookie that never arrives."""
    names = cookie_names(https=True)
    assert set_cookie(names.session, "t", max_age=None, secure=True).startswith(
        b"__Host-session=t; Path=/;"
    )
    with pytest.raises(ValueError, match="Secure"):
        set_cookie(names.session, "t", max_age=None, secure=False)
    with pytest.raises(ValueError, match="Path=/"):
        clear_cookie(names.of("__ak_sign_in"), secure=True, path="/auth")


def test_the_names_of_a_site() -> None:
    """`__Host-` + the plain name without its underscores on https; the plain names and
    the mount path on http."""
    https, http = cookie_names(https=True), cookie_names(https=False)
    assert (https.session, https.refresh, https.csrf) == (
        "__Host-session",
        "__Host-refresh",
        "__Host-ak_csrf",
    )
    assert (http.session, http.refresh, http.csrf) == ("__session", "__refresh", "__ak_csrf")
    assert https.of("__ak_totp_setup") == "__Host-ak_totp_setup"
    assert http.of("__ak_totp_setup") == "__ak_totp_setup"
    assert (https.path("/auth"), http.path("/auth"), http.path("")) == ("/", "/auth", "/")


def test_request_cookies_read_each_name_once_and_agree_with_the_parser() -> None:
    raw = f"_ga=1; __session={TOKEN}; __session=planted; theme=dark; =nameless".encode()
    cookies = RequestCookies(raw)
    assert cookies.get("__session") is None  # sent twice
    assert cookies["theme"] == "dark"
    assert cookies.get("missing", "x") == "x"
    assert cookies[""] == "nameless"  # a name outside the grammar: the full parser reads it
    assert dict(cookies) == dict(parse_cookies(raw))
