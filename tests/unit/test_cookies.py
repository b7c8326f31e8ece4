"""Reading cookies: the full parser, the one-name reader of the session check and its
memo. That the readers agree on every header is a property test in
tests/security/test_fuzz_parsers.py; these are the memo's own rules."""

from __future__ import annotations

from authkit.cookies import MEMO_MAX_HEADER, CookieMemo, one_cookie, parse_cookies

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
