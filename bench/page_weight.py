"""
Sign-in page cost: bytes over the wire and server render time.

Fetches /auth/sign-in from an in-process kit (SQLite in a temporary folder) and every
stylesheet and script it links, gzips each (level 6, what a typical server or proxy uses)
and prints the sizes; then times the page two ways: the template render alone, and the
whole request through the middleware and the endpoint (ASGI, no network).

Run by hand: .venv/bin/python bench/page_weight.py   Target: <= 25 KB gzipped, <= 3 ms.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from authkit import AuthKit

SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"
BUDGET_BYTES = 25 * 1024
ROUNDS = 300


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        kit = AuthKit(
            secret_key=SECRET,
            database_url=f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}",
            auto_migrate=True,
            password_hash_profile="CHEAPEST",
        )
        app = Starlette(routes=[Mount("/auth", app=kit)])
        kit.install(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            page = await client.get("/auth/sign-in")
            assets = re.findall(r'(?:href|src)="(/auth/[^"]+\.(?:css|js)(?:\?[^"]*)?)"', page.text)
            rows = [("sign-in page (HTML)", len(page.content), gz(page.content))]
            for url in assets:
                body = (await client.get(url)).content
                rows.append((url.split("?")[0].rsplit("/", 1)[-1], len(body), gz(body)))

            samples = []
            for _ in range(ROUNDS):
                start = time.perf_counter()
                await client.get("/auth/sign-in")
                samples.append(time.perf_counter() - start)

        from authkit.forms import SignInForm
        from authkit.messages import Messages

        template = kit.services.templates.get_template("authkit/pages/sign_in.html")
        context: dict[str, object] = {
            "request": None,
            "app_name": "authkit",
            "auth": None,
            "csrf_token": "x" * 80,
            "mount": "/auth",
            "t": Messages(),
            "theme": kit.theme,
            "errors": {},
            "notice": None,
            "name_fields": "optional",
            "password_min_length": 15,
            "embedded": False,
            "csp_nonce": "n" * 22,
            "form": SignInForm(data={"redirect_url": "/"}),
            "method": "password",
            "methods": ("password", "email_code", "email_link"),
            "methods_url": "/auth/sign-in/methods?redirect_url=%2F",
            "component": None,
        }
        renders = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            template.render(context)
            renders.append(time.perf_counter() - start)
        await kit.aclose()

    print(f"{'resource':<28}{'bytes':>10}{'gzipped':>10}")
    for name, raw, packed in rows:
        print(f"{name:<28}{raw:>10,}{packed:>10,}")
    total_raw = sum(r[1] for r in rows)
    total_gz = sum(r[2] for r in rows)
    verdict = "within" if total_gz <= BUDGET_BYTES else "OVER"
    print(f"{'total':<28}{total_raw:>10,}{total_gz:>10,}  ({verdict} the 25 KB budget)")
    print()
    print(
        f"template render alone:   median {statistics.median(renders) * 1e3:.2f} ms, "
        f"p99 {sorted(renders)[int(ROUNDS * 0.99)] * 1e3:.2f} ms"
    )
    print(
        f"whole request (ASGI):    median {statistics.median(samples) * 1e3:.2f} ms, "
        f"p99 {sorted(samples)[int(ROUNDS * 0.99)] * 1e3:.2f} ms  (target <= 3 ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())
