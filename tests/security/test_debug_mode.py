"""
No debug surface in production (SECURITY.md #90, ASVS 13.4.2 and 16.5.1): no API docs or
schema endpoints, and an unexpected error inside the kit is a generic 500 page without a
traceback, exception text or request details.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from authkit import AuthKit
from authkit.flows.admin import create_user

from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, form_token

pytestmark = pytest.mark.anyio

INTERNALS = "internal detail 4f1c: db password hunter2"


@pytest.mark.parametrize(
    "path",
    [
        "/docs",
        "/redoc",
        "/openapi.json",
        "/auth/docs",
        "/auth/redoc",
        "/auth/openapi.json",
        "/auth/swagger",
        "/auth/debug",
        "/auth/_debug",
        "/auth/admin",
        "/auth/static/",
        "/auth/static/../../../../etc/passwd",
        "/auth/static/authkit/../../config.py",
    ],
)
async def test_no_docs_schema_or_debug_endpoint(client: httpx.AsyncClient, path: str) -> None:
    """Debug surface (#90): docs, schema, debug and traversal paths are 404s."""
    r = await client.get(path)
    assert r.status_code in (404, 405), (path, r.status_code, r.text[:300])
    assert "Traceback" not in r.text
    assert "secret" not in r.text.lower()


async def test_unexpected_error_is_a_generic_500_page(
    kit: AuthKit, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Generic errors (#90, ASVS 16.5.1): a crash in a flow shows no traceback or detail."""
    await kit.ensure_started()
    await create_user(kit.services, email="ada@example.com", password=PASSWORD)

    async def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError(INTERNALS)

    monkeypatch.setattr("authkit.web.sign_in.submit_factor", crash)
    transport = httpx.ASGITransport(app=make_host_app(kit), raise_app_exceptions=False)
    caplog.set_level(logging.ERROR)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            token = await form_token(c, "/auth/sign-in")
            r = await c.post(
                "/auth/sign-in",
                data={"csrf_token": token, "email": "ada@example.com", "password": PASSWORD},
            )
    finally:
        await kit.aclose()
    assert r.status_code == 500, r.text
    for leak in ("Traceback", "RuntimeError", INTERNALS, "hunter2", "File ", PASSWORD):
        assert leak not in r.text, (leak, r.text)
    assert "__session" not in r.headers.get("set-cookie", "")
    assert not kit._app.debug
    # The detail goes to the operator's log instead, not to the visitor.
    assert any(INTERNALS in (r.exc_text or "") or r.exc_info for r in caplog.records)
