"""
`authkit users import` and the admin console's users list at 100,000 users.

1. A generated CSV export of N users (default 100,000), each with a bcrypt hash (one hash
   shared by all rows: importing never verifies it), imported into a new SQLite file:
   users per second, and the whole run.
2. The admin list on that database (`find_users`): the first page, a page deep in
   (keyset: the cursor of the page before), searches by the start of a word of an address
   or a name (one word, two words), by an address's start, by id, and the banned filter,
   each the median of several runs, in milliseconds.

Pass --postgres to use PostgreSQL (127.0.0.1:5432, database test, a schema of its own).
Run by hand: .venv/bin/python bench/import_and_admin.py [--users N]. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import bcrypt

from authkit import AuthKit
from authkit.flows.admin_console import find_users
from authkit.importing import import_users, read_export

SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"
POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def write_export(path: Path, users: int) -> None:
    digest = bcrypt.hashpw(b"a passphrase", bcrypt.gensalt(10)).decode()
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["email", "email_verified", "first_name", "last_name", "password_hash", "external_id"]
        )
        for n in range(users):
            writer.writerow(
                [
                    f"person{n}@example{n % 97}.com",
                    "true",
                    f"First{n}",
                    f"Last{n}",
                    digest,
                    f"ext_{n}",
                ]
            )


async def median_ms(work: Callable[[], Awaitable[object]], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def main(users: int, postgres: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "users.csv"
        write_export(export, users)
        schema = f"bench_{secrets.token_hex(4)}" if postgres else None
        kit = AuthKit(
            secret_key=SECRET,
            database_url=POSTGRES if postgres else f"sqlite+aiosqlite:///{folder}/bench.db",
            database_schema=schema,
            auto_migrate=True,
            base_url="http://testserver",
        )
        await kit.ensure_started()
        started = time.perf_counter()
        report = await import_users(kit.services, read_export(export, "csv"))
        took = time.perf_counter() - started
        print(
            f"import: {report.imported} users in {took:.1f} s "
            f"({report.imported / took:,.0f} users/s), {len(report.invalid)} invalid"
        )

        first = await find_users(kit.services)
        cursor = first.next_cursor
        for _ in range(20):  # walk a little way in
            page = await find_users(kit.services, cursor=cursor)
            cursor = page.next_cursor
        some_id = first.users[3].user.id
        await kit.users.ban(first.users[5].user.id)
        figures = {
            "first page": lambda: find_users(kit.services),
            "page 21 (keyset)": lambda: find_users(kit.services, cursor=cursor),
            "search 'person4242' (a word's start: address or name)": lambda: find_users(
                kit.services, search="person4242"
            ),
            "search 'first42 last42' (two words' starts)": lambda: find_users(
                kit.services, search="first42 last42"
            ),
            "search 'person4242@' (an address's start)": lambda: find_users(
                kit.services, search="person4242@"
            ),
            "search by id": lambda: find_users(kit.services, search=some_id),
            "filter banned": lambda: find_users(kit.services, filters=["banned"]),
        }
        for name, work in figures.items():
            print(f"admin list, {name}: {await median_ms(work):.1f} ms")
        if schema:
            async with kit.services.db.engine.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        await kit.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.users, args.postgres))
