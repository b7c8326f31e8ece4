"""
JWT template tokens: what minting one costs, and `GET /auth/tokens/<name>` next to a bare
route, side by side in one run.

1. In-process, no database: `mint_template_token` for a template with metadata
   shortcodes, signed with the site's EdDSA key and with an HS256 secret (µs per token).
2. In-process ASGI on SQLite (httpx's ASGI transport, no network): requests per second
   and median latency of `GET /auth/tokens/chat` for a signed-in user (one query for the
   user, render, sign) against a bare host route that does nothing.

Run by hand: .venv/bin/python bench/template_tokens.py   Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from authkit import AuthKit
from authkit.jwt_templates import mint_template_token

SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"
EMAIL = "bench@example.com"
PASSWORD = "a perfectly fine passphrase"
CLAIMS = {
    "aud": "chat.example.com",
    "name": "{{user.full_name}}",
    "email": "{{user.primary_email_address}}",
    "plan": "{{user.public_metadata.plan || 'free'}}",
    "limits": "{{user.public_metadata.limits}}",
}


async def bare(request: Request) -> Response:
    return PlainTextResponse("ok")


async def main(samples: int, requests: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        secret_file = Path(folder) / "hs.secret"
        secret_file.write_text("x" * 48)
        kit = AuthKit(
            secret_key=SECRET,
            database_url=f"sqlite+aiosqlite:///{folder}/bench.db",
            password_hash_profile="CHEAPEST",
            auto_migrate=True,
            base_url="http://testserver",
            jwt_templates={
                "chat": {"claims": CLAIMS},
                "hs": {"claims": CLAIMS, "signing_key": str(secret_file)},
            },
        )
        app = Starlette(routes=[Route("/bare", bare), Mount("/auth", app=kit)])
        kit.install(app)
        await kit.ensure_started()
        user = await kit.users.create(email=EMAIL, password=PASSWORD, first_name="Ben")
        await kit.users.update(user.id, public_metadata={"plan": "pro", "limits": {"notes": 10}})
        loaded = await kit.users.get(user.id)
        assert loaded is not None

        print("1. minting in-process (µs per token, median of", samples, "):")
        for name in ("chat", "hs"):
            template = kit.services.jwt_templates[name]
            times = []
            for _ in range(samples):
                start = time.perf_counter()
                mint_template_token(kit.services, template, loaded, session_id="sess_bench")
                times.append((time.perf_counter() - start) * 1e6)
            algorithm = template.key.algorithm if template.key else "EdDSA"
            print(f"   {name:<6} {algorithm:<6} {statistics.median(times):8.1f} µs")

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            page = await c.get("/auth/sign-in")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            signed_in = await c.post(
                "/auth/sign-in", data={"csrf_token": token, "email": EMAIL, "password": PASSWORD}
            )
            assert signed_in.status_code == 303, signed_in.text
            print(f"2. in-process ASGI, {requests} requests each, signed in (SQLite):")
            for label, path in (
                ("bare route", "/bare"),
                ("GET /auth/tokens/chat", "/auth/tokens/chat"),
            ):
                latencies = []
                started = time.perf_counter()
                for _ in range(requests):
                    start = time.perf_counter()
                    r = await c.get(path)
                    latencies.append((time.perf_counter() - start) * 1e3)
                    assert r.status_code == 200
                elapsed = time.perf_counter() - started
                print(
                    f"   {label:<24} {requests / elapsed:8.0f} req/s   "
                    f"median {statistics.median(latencies):6.2f} ms"
                )
        await kit.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(main(args.samples, args.requests))
