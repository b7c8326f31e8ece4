"""Verifying a token as a third party would: npm jose (tests/js/verify_jwt.mjs) fetching
the keys from a JWKS URL over HTTP."""

from __future__ import annotations

import json
from typing import Any

import anyio

from ..conftest import JS_DIR, need_node

NODE_TIMEOUT_SECONDS = 30


async def jose_verify(
    jwks_url: str,
    token: str,
    issuer: str,
    audience: str = "",
    algorithms: str = "",
    *,
    now: float | None = None,
) -> tuple[int, dict[str, Any], str]:
    """(exit status, {"payload", "protectedHeader"} when verified, stderr); `now` is the
    time (seconds since the epoch) to judge `exp` and `nbf` by, when not the real one."""
    node = need_node("the jose interop tests run tests/js/verify_jwt.mjs")
    with anyio.fail_after(NODE_TIMEOUT_SECONDS):
        result = await anyio.run_process(
            [
                node,
                "verify_jwt.mjs",
                jwks_url,
                token,
                issuer,
                audience,
                algorithms,
                "" if now is None else str(int(now)),
            ],
            cwd=JS_DIR,
            check=False,
        )
    verified = json.loads(result.stdout) if result.returncode == 0 else {}
    return result.returncode, verified, result.stderr.decode()
