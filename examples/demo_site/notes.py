"""The demo's own data: notes owned by users, in authkit's database (plain SQL)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text

from authkit import AuthKit

MAX_NOTE_LENGTH = 2000

_CREATE = """
CREATE TABLE IF NOT EXISTS demo_notes (
    id VARCHAR(40) PRIMARY KEY,
    user_id VARCHAR(40) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    created_at VARCHAR(32) NOT NULL
)
"""


@dataclass(frozen=True)
class Note:
    body: str
    created_at: str


class NoteStore:
    def __init__(self, kit: AuthKit) -> None:
        self.kit = kit

    async def create_table(self) -> None:
        await self.kit.ensure_started()  # authkit's tables first: notes reference users
        async with self.kit.services.db.engine.begin() as conn:
            await conn.execute(text(_CREATE))

    async def add(self, user_id: str, body: str) -> None:
        async with self.kit.services.db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO demo_notes (id, user_id, body, created_at) VALUES (:i, :u, :b, :c)"
                ),
                {
                    "i": f"note_{secrets.token_hex(12)}",
                    "u": user_id,
                    "b": body,
                    "c": datetime.now(UTC).isoformat(timespec="microseconds"),
                },
            )

    async def list(self, user_id: str) -> list[Note]:
        async with self.kit.services.db.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT body, created_at FROM demo_notes"
                    " WHERE user_id = :u ORDER BY created_at DESC"
                ),
                {"u": user_id},
            )
            return [
                Note(body=row.body, created_at=row.created_at[:16].replace("T", " "))
                for row in rows
            ]
