"""safe_redirect_url: only paths on this site pass (SECURITY.md #78, open redirect)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from authkit.security.redirects import MAX_REDIRECT_LENGTH, safe_redirect_url

BASE = "https://app.example.com"
DEFAULT = "/home"


def check(value: str | None) -> str:
    return safe_redirect_url(value, default=DEFAULT, base_url=BASE)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/", "/"),
        ("/dashboard", "/dashboard"),
        ("/dashboard?x=1&y=2", "/dashboard?x=1&y=2"),
        ("/a/b#section", "/a/b#section"),
        ("/search?q=//evil.com", "/search?q=//evil.com"),
        ("/caf%C3%A9", "/caf%C3%A9"),
        ("/café", "/caf%C3%A9"),  # the same path, percent-encoded: fit for any header
        # An absolute URL on this very site comes back as a path.
        ("https://app.example.com/settings?tab=2", "/settings?tab=2"),
        ("HTTPS://APP.EXAMPLE.COM/settings", "/settings"),
    ],
)
def test_paths_on_this_site_are_accepted(value: str, expected: str) -> None:
    """A path on this site, or an absolute URL of this exact origin, is kept."""
    assert check(value) == expected, value


# SECURITY.md #78, with app.example.com as "app" and evil.com as the attacker.
REFUSED = [
    "//evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "\\/evil.com",
    "https:evil.com",
    "https:/evil.com",
    "http:/\\evil.com",
    "https://app.example.com@evil.com",
    "https://app.example.com@evil.com/",
    "https://evil.com@app.example.com",
    "https://evil.com@app.example.com/x",
    "https://app.example.com.evil.com",
    "https://app.example.com:8443/",
    "http://app.example.com/",
    "https://evil.com/",
    "https://evil.com",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\t/evil.com",
    "/\n/evil.com",
    "\t//evil.com",
    " //evil.com",
    "/\r\nSet-Cookie:x",
    "\uff0f\uff0fevil.com",
    "/\x00/evil.com",
    "/\x7f/evil.com",
    "evil.com",
    "dashboard",
    "",
    None,
    "/" + "a" * MAX_REDIRECT_LENGTH,
]


@pytest.mark.parametrize("value", REFUSED)
def test_anything_that_could_leave_the_site_falls_back(value: str | None) -> None:
    """Other hosts, odd schemes, slashes, backslashes and controls (raw or encoded) refused."""
    assert check(value) == DEFAULT, value


# Also SECURITY.md #78: these stay on the site in a browser, but any later step that
# decodes the path ('%2F' -> '/') or collapses an empty authority turns them into
# '//evil.com'; the spec asks for the default, not a rewritten or still-encoded path.
REFUSED_ENCODED = [
    "///evil.com",
    "////evil.com",
    "/%2F%2Fevil.com",
    "/%2f%2fevil.com",
    "/%2F/evil.com",
    "/%5Cevil.com",
    "/%5C%5Cevil.com",
    "/%09/evil.com",
    "/%0d%0aSet-Cookie:x",
    "/%0D%0ASet-Cookie:x=1",
]


@pytest.mark.parametrize("value", REFUSED_ENCODED)
def test_encoded_or_extra_slashes_backslashes_and_controls_fall_back(value: str) -> None:
    """Percent-encoded '/', '\\' or controls, and '///host', fall back (SECURITY.md #78)."""
    assert check(value) == DEFAULT, value


def test_another_localhost_port_is_refused() -> None:
    """localhost:8001 is another origin than localhost:8000."""
    base = "http://localhost:8000"
    assert safe_redirect_url("http://localhost:8001/", default="/", base_url=base) == "/"
    assert safe_redirect_url("http://localhost:8000/x", default="/", base_url=base) == "/x"


def _is_safe(result: str) -> bool:
    return (
        result.startswith("/")
        and not result.startswith("//")
        and "\\" not in result
        and not any(unicodedata.category(ch) == "Cc" for ch in result)
    )


URL_PIECES = st.sampled_from(
    ["/", "//", "\\", "/\\", "https://app.example.com", "https://", "http:", "evil.com", "@", "%2F"]
)


@given(st.one_of(st.text(), st.builds(lambda a, b: a + b, URL_PIECES, st.text())))
@example("/\x85evil.com")
@example("https://app.example.com/\x9b")
@example("//[")
@example("/%2F[")
def test_result_is_always_the_default_or_a_plain_local_path(value: str) -> None:
    """For any text: the default, or a path starting with one '/', no '\\', no controls."""
    result = check(value)
    assert result == DEFAULT or _is_safe(result), (value, result)
