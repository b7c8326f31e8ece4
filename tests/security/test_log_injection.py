"""Log injection (SECURITY.md #88, ASVS 16.4.1): input with CR/LF cannot forge log lines."""

from __future__ import annotations

import logging

import pytest
from starlette.requests import Request

from authkit import AuthKit
from authkit.context import CONTEXT_KEY
from authkit.web.errors import exception_handlers

pytestmark = pytest.mark.anyio


async def test_a_crash_logs_the_path_on_one_line(
    kit: AuthKit, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected error logs its (decoded) path escaped: a %0a cannot start a new line."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/auth/x\r\nINFO forged: admin signed in",
        "raw_path": b"/auth/x%0d%0aINFO%20forged",
        "query_string": b"",
        "headers": [],
        "scheme": "http",
        "server": ("testserver", 80),
        CONTEXT_KEY: kit.context,
    }
    caplog.set_level(logging.ERROR, logger="authkit")
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        response = await exception_handlers()[500](Request(scope), exc)
    assert response.status_code == 500
    assert b"boom" not in response.body and b"Traceback" not in response.body
    [record] = [r for r in caplog.records if r.name == "authkit"]
    message = record.getMessage()
    assert "\n" not in message and "\r" not in message
    assert "INFO forged" in message  # the text is kept, on the same line
