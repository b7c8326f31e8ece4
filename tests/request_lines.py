"""
An ASGI wrapper that writes down every request line the app receives (path, raw path and
query string), as uvicorn's access log, a reverse proxy or an APM agent would: what a
server log could ever hold of a URL.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

#: A piece this long of a 43-character link token already narrows a guess to nothing.
PIECE = 16


class RequestLines:
    """The app, writing down every request line it receives."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.lines: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path = f"{scope.get('root_path', '')}{scope['path']}"
            query = scope.get("query_string", b"").decode("latin-1")
            raw = (scope.get("raw_path") or b"").decode("latin-1")
            self.lines.append(f"{scope.get('method', 'WS')} {path}?{query} {raw}")
        await self.app(scope, receive, send)

    def holding(self, token: str) -> list[str]:
        """The lines that hold the token or a PIECE-long piece of it (decoded too)."""
        pieces = {token[i : i + PIECE] for i in range(len(token) - PIECE + 1)}
        return [line for line in self.lines if any(p in line or p in unquote(line) for p in pieces)]
