"""
A site served somewhere other than `AUTHKIT_BASE_URL` says so: a request on another host
or port logs one warning naming both (mailed links use the setting); an https base URL
served over plain http logs why every form answers 403, and the 403 page says it in a
sentence.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from ..conftest import KitFactory
from ..hostapp import make_host_app

pytestmark = pytest.mark.anyio


async def test_another_port_than_the_base_urls_is_one_warning_naming_both(
    make_kit: KitFactory, caplog: pytest.LogCaptureFixture
) -> None:
    kit = make_kit(base_url="http://localhost:8000")
    try:
        app = make_host_app(kit)
        with caplog.at_level(logging.WARNING, logger="authkit.setup"):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://localhost:8001"
            ) as c:
                for _ in range(3):
                    await c.get("/auth/sign-in")
        warnings = [r.getMessage() for r in caplog.records if r.name == "authkit.setup"]
        assert len(warnings) == 1
        assert "http://localhost:8001" in warnings[0] and "http://localhost:8000" in warnings[0]
    finally:
        await kit.aclose()


async def test_the_base_urls_own_address_warns_nothing(
    make_kit: KitFactory, caplog: pytest.LogCaptureFixture
) -> None:
    kit = make_kit()  # http://testserver
    try:
        app = make_host_app(kit)
        with caplog.at_level(logging.WARNING, logger="authkit.setup"):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as c:
                await c.get("/auth/sign-in")
        assert not [r for r in caplog.records if r.name == "authkit.setup"]
    finally:
        await kit.aclose()


async def test_https_base_url_over_plain_http_says_why_forms_answer_403(
    make_kit: KitFactory, caplog: pytest.LogCaptureFixture
) -> None:
    kit = make_kit(base_url="https://testserver")
    try:
        app = make_host_app(kit)
        with caplog.at_level(logging.WARNING, logger="authkit.setup"):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as c:
                page = await c.get("/auth/sign-in")
                token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
                # The browser drops the Secure cookie: the post comes without it.
                c.cookies.clear()
                posted = await c.post(
                    "/auth/sign-in", data={"csrf_token": token, "email": "a@example.com"}
                )
        assert posted.status_code == 403
        assert "This site is set up for https, but this page came over plain http" in posted.text
        warnings = [r.getMessage() for r in caplog.records if r.name == "authkit.setup"]
        assert any("every form will answer 403" in w for w in warnings), warnings
    finally:
        await kit.aclose()
