"""
Profile pages' cost next to the sign-in page's: HTML bytes (raw and gzipped, level 6) and
the whole request through the middleware, the endpoint and the store (ASGI, SQLite, no
network), for a signed-in user with three addresses, two sessions and some activity.
The stylesheet and scripts are the same for every page (bench/page_weight.py sizes them).

Run by hand: .venv/bin/python bench/profile_page.py
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
from authkit.flows.admin import create_user
from authkit.ids import new_id
from authkit.store.models import EmailAddressRow

SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"
PASSWORD = "a perfectly fine passphrase"
EMAIL = "bench@example.com"
ROUNDS = 300
PAGES = ("/auth/sign-in", "/auth/user", "/auth/user/security")


async def sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/auth/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    answer = await client.post(
        "/auth/sign-in", data={"csrf_token": token.group(1), "email": EMAIL, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text


async def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        kit = AuthKit(
            secret_key=SECRET,
            database_url=f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}",
            auto_migrate=True,
            password_hash_profile="CHEAPEST",
            email_url="console://",
        )
        app = Starlette(routes=[Mount("/auth", app=kit)])
        kit.install(app)
        await kit.ensure_started()
        user_id = await create_user(kit.services, email=EMAIL, password=PASSWORD)
        async with kit.services.db.session() as s:
            for n in range(2):
                s.add(
                    EmailAddressRow(
                        id=new_id("email"),
                        user_id=user_id,
                        email=f"bench{n}@example.org",
                        normalized=f"bench{n}@example.org",
                        is_primary=False,
                        verified_at=kit.services.clock(),
                        created_at=kit.services.clock(),
                    )
                )
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://bench") as other,
            httpx.AsyncClient(transport=transport, base_url="http://bench") as visitor,
            httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
        ):
            await sign_in(other)
            await sign_in(client)
            for path in PAGES:
                # The sign-in page as a visitor sees it; the profile as its user does.
                client_for = visitor if path == "/auth/sign-in" else client
                page = await client_for.get(path)
                assert page.status_code == 200, (path, page.status_code)
                samples = []
                for _ in range(ROUNDS):
                    start = time.perf_counter()
                    await client_for.get(path)
                    samples.append(time.perf_counter() - start)
                rows.append(
                    (
                        path,
                        len(page.content),
                        len(gzip.compress(page.content, compresslevel=6)),
                        statistics.median(samples),
                        sorted(samples)[int(ROUNDS * 0.99)],
                    )
                )
        await kit.aclose()

    print(f"{'page':<24}{'bytes':>10}{'gzipped':>10}{'median ms':>12}{'p99 ms':>10}")
    for path, raw, packed, median, p99 in rows:
        print(f"{path:<24}{raw:>10,}{packed:>10,}{median * 1e3:>12.2f}{p99 * 1e3:>10.2f}")


if __name__ == "__main__":
    asyncio.run(main())
