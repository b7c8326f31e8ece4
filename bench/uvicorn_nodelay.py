"""
uvicorn's command line with one change: the listening socket that `--workers N` binds
gets TCP_NODELAY, which Linux passes on to every accepted connection.

Why: uvicorn's `Config.bind_socket()` leaves the socket's `proto` at 0, so asyncio does
not set TCP_NODELAY on accepted connections, and with Nagle on every keep-alive request
after the first waits ~40 ms for the client's delayed ACK (Kludex/uvicorn#3149, open
when this was written). Single-process `--workers 1` is unaffected. `bench/throughput.py
--nodelay` serves through this module so that multi-worker figures measure the app, not
that delay. Usage is exactly uvicorn's: `python bench/uvicorn_nodelay.py --workers 2 ...`.
"""

from __future__ import annotations

import socket

import uvicorn.config
from uvicorn.main import main

_original_bind_socket = uvicorn.config.Config.bind_socket


def _bind_socket_nodelay(self: uvicorn.config.Config) -> socket.socket:
    sock = _original_bind_socket(self)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


uvicorn.config.Config.bind_socket = _bind_socket_nodelay  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
