"""
Cookie header flooding (SECURITY.md #42, ASVS 13.1.? resource limits): a client may send a
Cookie header of up to 16 KB (MAX_COOKIE_HEADER) filled with copies of `__session`, or with
text that mentions the name without being it. Whatever it holds, reading one cookie must
cost a bounded number of steps, not one (or, for the full parser, one per pair) per
mention, and authkit's pages must never run the full parser over it. Measured without a
clock: the calls one read makes (sys.setprofile), the bytes of the header it touches, and
what starlette's cookie_parser is handed. `bench/session_check.py` section 4 has the µs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, SupportsIndex

import httpx
import pytest

from authkit import AuthKit
from authkit.cookies import (
    MAX_COOKIE_HEADER,
    MEMO_MAX_HEADER,
    REFRESH_COOKIE,
    SESSION_COOKIE,
    one_cookie,
    parse_cookies,
)
from authkit.flows.admin import create_user
from authkit.security.csrf import CSRF_COOKIE  # the plain-http kit's name

from ..web.flow_helpers import PASSWORD, form_token, sign_in

pytestmark = pytest.mark.anyio

TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyXzEifQ." + "s" * 86
#: Calls one read of one cookie may make, whatever the header holds: four mentions checked
#: one by one, then four passes in C and at most 15 bisection steps (67 at most seen).
#: Before the fix a flood of mentions cost thousands.
MAX_CALLS = 80


def filled(piece: str, *, tail: str = "") -> bytes:
    """`piece` repeated to fill the header to its limit, ending with `tail`."""
    room = MAX_COOKIE_HEADER - len(tail)
    return ((piece * (room // len(piece) + 1))[:room] + tail).encode("latin-1")


FLOODS = {
    "copies of the cookie": filled(f"{SESSION_COOKIE}={TOKEN}; "),
    "short copies": filled(f"{SESSION_COOKIE}=x;"),
    "names that contain it": filled(f"x{SESSION_COOKIE}=1; "),
    "the name in values": filled(f"a={SESSION_COOKIE}=; "),
    "the name without separators": filled(SESSION_COOKIE),
    "mentions, then the cookie": filled(f"x{SESSION_COOKIE}=1; ", tail=f"; {SESSION_COOKIE}=v"),
    "spaced-out mentions": filled(f";  {SESSION_COOKIE} \xa0 x"),
    "separators": filled(f"{SESSION_COOKIE} ", tail=";" * 8_000),
    "a run of spaces": filled(f"{SESSION_COOKIE} ", tail=" " * 8_000 + "=1"),
}


@contextmanager
def counting_calls() -> Iterator[list[int]]:
    """Counts every Python and builtin call made inside the block."""
    calls = [0]

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            calls[0] += 1

    sys.setprofile(profile)
    try:
        yield calls
    finally:
        sys.setprofile(None)


@pytest.mark.parametrize("name", [SESSION_COOKIE, REFRESH_COOKIE])
@pytest.mark.parametrize("shape", list(FLOODS))
def test_reading_one_cookie_takes_bounded_steps_whatever_the_header_holds(
    shape: str, name: str
) -> None:
    """One read (the middleware's, for the session and the refresh cookie) makes at most
    MAX_CALLS calls on a 16 KB flood, and still answers exactly what the full parser
    answers (a name sent twice is absent)."""
    raw = FLOODS[shape]
    with counting_calls() as calls:
        value = one_cookie(raw, name)
    assert calls[0] <= MAX_CALLS, f"{calls[0]} calls to read {name} from {shape}"
    assert value == parse_cookies(raw).get(name)


class Recorded(bytes):
    """A header that notes how many of its bytes each search, copy or decode covers (a
    search up to what it finds)."""

    touched = 0

    def _span(self, start: SupportsIndex | None = None, end: SupportsIndex | None = None) -> None:
        first, last, _ = slice(start, end).indices(len(self))
        Recorded.touched += max(0, last - first)

    def find(self, sub: Any, start: Any = None, end: Any = None) -> int:
        found = super().find(sub, start, end)
        self._span(start, end if found < 0 else found + len(sub))
        return found

    def rfind(self, sub: Any, start: Any = None, end: Any = None) -> int:
        found = super().rfind(sub, start, end)
        self._span(start if found < 0 else found, end)
        return found

    def count(self, sub: Any, start: Any = None, end: Any = None) -> int:
        self._span(start, end)
        return super().count(sub, start, end)

    def __contains__(self, sub: Any) -> bool:
        found = self.find(sub)
        return found >= 0

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            self._span(key.start, key.stop)
        return super().__getitem__(key)


def _reading_all(name: str) -> Callable[..., Any]:
    def method(self: Recorded, *args: Any, **kwargs: Any) -> Any:
        self._span()
        return getattr(bytes, name)(self, *args, **kwargs)

    return method


for _name in ("decode", "translate", "replace", "split", "partition", "strip", "lstrip"):
    setattr(Recorded, _name, _reading_all(_name))


def test_the_second_copy_ends_the_reading() -> None:
    """Once the name is seen twice the answer is "absent": the reader stops there, and
    touches no more of a 16 KB flood of copies than the first two (it used to count
    and decode the whole header on every request, as a flood is never remembered)."""
    raw = FLOODS["copies of the cookie"]
    two_copies = raw.index(b";", raw.index(SESSION_COOKIE.encode(), 1))  # their chunks
    Recorded.touched = 0
    assert one_cookie(Recorded(raw), SESSION_COOKIE) is None
    assert Recorded.touched <= 3 * two_copies, (Recorded.touched, two_copies)


@pytest.fixture
def parser_inputs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every string handed to starlette's cookie_parser."""
    from authkit import cookies

    lengths: list[int] = []
    real = cookies.cookie_parser

    def spy(text: str) -> dict[str, str]:
        lengths.append(len(text))
        return real(text)

    monkeypatch.setattr(cookies, "cookie_parser", spy)
    return lengths


@pytest.mark.parametrize("shape", ["short copies", "names that contain it"])
async def test_pages_never_run_the_full_parser_over_a_flood(
    client: httpx.AsyncClient, parser_inputs: list[int], shape: str
) -> None:
    """A sign-in page and its form post read their CSRF cookie from a flooded header
    without parsing the whole header (the full parser's duplicate check used to take
    tens of milliseconds on such a header), and read it right: the post is not refused."""
    token = await form_token(client, "/auth/sign-in")
    csrf = client.cookies[CSRF_COOKIE]
    flood = FLOODS[shape][: MAX_COOKIE_HEADER - 200].decode("latin-1")
    header = f"{flood}; {CSRF_COOKIE}={csrf}"
    page = await client.get("/auth/sign-in", headers={"cookie": header})
    assert page.status_code == 200, page.text
    r = await client.post(
        "/auth/sign-in",
        data={"csrf_token": token, "email": "nobody@example.com", "password": "wrong guess"},
        headers={"cookie": header},
    )
    assert r.status_code == 422, r.text  # judged: the CSRF check passed
    assert max(parser_inputs, default=0) < 200, parser_inputs


async def test_a_long_header_still_carries_the_session(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """Control: a header too long to be remembered (the site's own cookies take 12 KB) is
    read as well, every time: the browser stays signed in."""
    await kit.ensure_started()
    user_id = await create_user(kit.services, email="long@example.com", password=PASSWORD)
    assert (await sign_in(client, "long@example.com")).status_code == 303
    own = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    header = f"{'; '.join(f'site{n}={n:0>100}' for n in range(120))}; {own}"
    assert MEMO_MAX_HEADER < len(header) <= MAX_COOKIE_HEADER
    for _ in range(2):
        r = await client.get("/", headers={"cookie": header})
        assert r.json()["user_id"] == user_id, r.text
