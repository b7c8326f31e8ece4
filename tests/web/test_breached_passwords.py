"""
The optional breached-password check against a stand-in of Have I Been Pwned's range API
served on 127.0.0.1: only the SHA-1's first 5 hex digits leave the server, a breached
password is refused with a sentence (input kept), padding entries count for nothing, and
a service that is down or slow never blocks a sign-up. Off by default: no request at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from authkit import AuthKit
from authkit.security.breached import breach_count

from ..conftest import KitFactory, free_port, serve
from ..hostapp import make_host_app
from .flow_helpers import PASSWORD, csrf_of

pytestmark = pytest.mark.anyio

BREACHED = "a thoroughly leaked passphrase"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest().upper()


@dataclass
class RangeApi:
    """Have I Been Pwned's range API, as far as authkit uses it."""

    known: dict[str, int]
    delay: float = 0.0
    asked: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        async def answer(request: Request) -> Response:
            prefix = request.path_params["prefix"]
            self.asked.append(request.url.path)
            self.headers.append(request.headers.get("add-padding", ""))
            await asyncio.sleep(self.delay)
            lines = [
                f"{digest[5:]}:{count}"
                for digest, count in ((sha1(p), c) for p, c in self.known.items())
                if digest.startswith(prefix)
            ]
            # Padding: made-up suffixes with a count of 0, as HIBP adds them.
            lines += [f"{n:035X}:0" for n in range(5)]
            return PlainTextResponse("\r\n".join(lines))

        return Starlette(routes=[Route("/range/{prefix}", answer)])


@pytest.fixture
def hibp() -> Iterator[tuple[str, RangeApi]]:
    api = RangeApi({BREACHED: 4242})
    url, stop = serve(api.app())
    yield f"{url}/range", api
    stop()


async def test_only_the_prefix_leaves_and_counts_are_read(hibp: tuple[str, RangeApi]) -> None:
    url, api = hibp
    assert await breach_count(BREACHED, api=url) == 4242
    assert await breach_count(PASSWORD, api=url) == 0
    assert api.asked == [f"/range/{sha1(BREACHED)[:5]}", f"/range/{sha1(PASSWORD)[:5]}"]
    assert api.headers == ["true", "true"]


async def test_a_padding_entry_is_no_breach(hibp: tuple[str, RangeApi]) -> None:
    url, api = hibp
    api.known["padded"] = 0
    assert await breach_count("padded", api=url) == 0


async def test_down_or_slow_is_no_answer_and_quick(hibp: tuple[str, RangeApi]) -> None:
    url, api = hibp
    closed = f"http://127.0.0.1:{free_port()}/range"
    assert await breach_count(BREACHED, api=closed) is None
    api.delay = 5
    started = time.monotonic()
    assert await breach_count(BREACHED, api=url, timeout=0.5) is None
    assert time.monotonic() - started < 3


async def sign_up_form(kit: AuthKit, password: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_host_app(kit))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        token = csrf_of((await c.get("/auth/sign-up")).text)
        return await c.post(
            "/auth/sign-up",
            data={"csrf_token": token, "email": "ada@example.com", "password": password},
        )


async def test_a_breached_password_is_refused_at_sign_up(
    make_kit: KitFactory, hibp: tuple[str, RangeApi]
) -> None:
    url, _ = hibp
    kit = make_kit(breached_password_check=True, breached_password_api=url)
    r = await sign_up_form(kit, BREACHED)
    assert r.status_code == 422
    assert "This password has appeared in a data breach" in r.text
    assert 'value="ada@example.com"' in r.text and BREACHED not in r.text
    assert (await sign_up_form(kit, PASSWORD)).status_code == 303
    await kit.aclose()


async def test_a_service_that_is_down_never_blocks_a_sign_up(make_kit: KitFactory) -> None:
    kit = make_kit(
        breached_password_check=True,
        breached_password_api=f"http://127.0.0.1:{free_port()}/range",
    )
    assert (await sign_up_form(kit, BREACHED)).status_code == 303
    await kit.aclose()


async def test_off_by_default_nothing_is_asked(
    make_kit: KitFactory, hibp: tuple[str, RangeApi]
) -> None:
    url, api = hibp
    kit = make_kit(breached_password_api=url)
    assert (await sign_up_form(kit, BREACHED)).status_code == 303
    assert api.asked == []
    await kit.aclose()
