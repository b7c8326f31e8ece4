"""
A kit served over real sockets by uvicorn on 127.0.0.1 (conftest's `serve`, in a thread
of this process), for tests that need real connections: many parallel ones, or ones that
stall halfway through a request.

The served kit's database pool belongs to the server's event loop: the test must never use
that kit's database from its own loop (asyncpg connections are bound to the loop that made
them). Set things up with another kit on the same database; at the end, the pool is
closed on the server's loop through a test-only route, then the server stops.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from starlette.types import ASGIApp

from authkit import AuthKit

from ..conftest import CLOSE_PATH, closable, serve
from ..hostapp import make_host_app

__all__ = ["CLOSE_PATH", "live_server"]


@contextlib.asynccontextmanager
async def live_server(kit: AuthKit, app: ASGIApp | None = None) -> AsyncIterator[str]:
    """Serve `app` (the host app of `kit` by default); yields its http://127.0.0.1 URL."""
    url, stop = serve(closable(app if app is not None else make_host_app(kit), kit))
    try:
        yield url
    finally:
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                await client.post(CLOSE_PATH)
        finally:
            stop()
