"""
The outbox: mail that must not be lost (a code, a link, a "your password changed"
notice) is written in the same transaction as the change that needs it, then sent in the
background after the commit. If the mail server is down, slow, or the process dies
between the commit and the send, the row stays; any process retries it later, with
growing pauses, until the server takes it or what it carries has expired.

Delivery is at least once: a process killed after the server took a message but before
deleting its row sends it again. Rows are encrypted: they hold codes and links in clear.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Protocol

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import ColumnElement, delete, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..clock import Clock, doubling_pause
from ..errors import StoreError
from ..ids import new_id
from ..store.db import Database
from ..store.models import OutboxRow
from .mailer import Mailer

__all__ = ["CLAIM_DURATION", "SWEEP_INTERVAL", "AddHook", "Outbox"]

logger = logging.getLogger("authkit.email")

#: How long a worker holds a message it is sending; past it, another may try.
CLAIM_DURATION = timedelta(minutes=2)
#: How often one process looks for messages to retry (on a request to the sub-app).
SWEEP_INTERVAL = timedelta(seconds=30)
#: Pause after the first failure; it doubles with each one, up to `MAX_RETRY_PAUSE`.
FIRST_RETRY_PAUSE = timedelta(seconds=30)
MAX_RETRY_PAUSE = timedelta(minutes=10)
#: Messages retried per sweep, so one sweep stays short.
SWEEP_BATCH = 20


class AddHook(Protocol):
    async def __call__(
        self, s: AsyncSession, message: EmailMessage, *, message_id: str, deliver: bool
    ) -> None: ...


class Outbox:
    def __init__(self, *, db: Database, mailer: Mailer, key: bytes, clock: Clock) -> None:
        self._db = db
        self._mailer = mailer
        self._fernet = Fernet(key)
        self._clock = clock
        self._swept_at: datetime | None = None
        #: Told of every message added, in its transaction (the `email.created` webhook).
        self.on_add: AddHook | None = None

    async def add(
        self,
        s: AsyncSession,
        message: EmailMessage,
        *,
        not_after: datetime,
        about: str | None = None,
        deliver: bool = True,
    ) -> str:
        """
        Put `message` in the open transaction `s`; call `send_soon` after the commit.
        Unsent messages `about` the same thing (an older code) are dropped: only the
        newest is worth delivering.

        With `deliver=False` the row is written but is never sent (it is stale from the
        start): a flow that must not reveal whether it mailed anyone (an unknown address)
        does exactly the same database work either way.
        """
        now = self._clock()
        if about is not None:
            await s.exec(delete(OutboxRow).where(col(OutboxRow.about) == about))
        row = OutboxRow(
            id=new_id("mail"),
            created_at=now,
            not_after=not_after if deliver else now,
            next_attempt_at=now,
            message_encrypted=self._fernet.encrypt(message.as_bytes()).decode(),
            about=about,
        )
        s.add(row)
        if self.on_add is not None:
            await self.on_add(s, message, message_id=row.id, deliver=deliver)
        return row.id

    def send_soon(self, message_id: str) -> None:
        """
        Send a committed message in the background (the request does not wait; within a
        request, it starts once the answer is out). Call it alike whether or not the
        message is to be delivered: the difference then only shows after the answer.
        """
        self._mailer.in_background(self._send_quietly(message_id))

    def sweep_if_due(self) -> None:
        """Retry what is due, in the background, at most once per `SWEEP_INTERVAL`."""
        now = self._clock()
        if self._swept_at is None or now - self._swept_at >= SWEEP_INTERVAL:
            self._swept_at = now
            self._mailer.in_background(self._sweep_quietly())

    async def sweep(self) -> int:
        """Drop expired messages and send those due; returns how many the server took."""
        now = self._clock()
        stale = col(OutboxRow.not_after) <= now
        never_meant = col(OutboxRow.not_after) <= col(OutboxRow.created_at)
        async with self._db.session() as s:
            await s.exec(delete(OutboxRow).where(stale, never_meant))
            expired = await s.exec(delete(OutboxRow).where(stale))
            due = (
                await s.exec(
                    select(OutboxRow.id)
                    .where(col(OutboxRow.next_attempt_at) <= now, _unclaimed(now))
                    .order_by(col(OutboxRow.next_attempt_at))
                    .limit(SWEEP_BATCH)
                )
            ).all()
        if expired.rowcount:
            logger.warning("%d emails expired undelivered", expired.rowcount)
        sent = 0
        for message_id in due:
            sent += await self._send(message_id)
        return sent

    async def _sweep_quietly(self) -> None:
        try:
            await self.sweep()
        except StoreError:
            logger.warning("email retry skipped: database unavailable")

    async def _send_quietly(self, message_id: str) -> None:
        try:
            await self._send(message_id)
        except StoreError:
            # The row is committed: a later sweep sends it (or, if the server took it
            # already, sends it again: at least once).
            logger.warning("email %s left for a retry: database unavailable", message_id)

    async def _send(self, message_id: str) -> bool:
        claimed = await self._claim(message_id)
        if claimed is None:
            return False
        message, attempts = claimed
        delivered = await self._mailer.deliver(message)
        async with self._db.session() as s:
            # Plain statements: a newer message may have replaced this row meanwhile.
            if delivered:
                await s.exec(delete(OutboxRow).where(col(OutboxRow.id) == message_id))
            else:
                await s.exec(
                    update(OutboxRow)
                    .where(col(OutboxRow.id) == message_id)
                    .values(
                        next_attempt_at=self._clock()
                        + doubling_pause(attempts, first=FIRST_RETRY_PAUSE, most=MAX_RETRY_PAUSE),
                        claimed_until=None,
                    )
                )
        return delivered

    async def _claim(self, message_id: str) -> tuple[EmailMessage, int] | None:
        """The message and its attempts so far, now held by this worker; None when another
        holds it or it is gone."""
        now = self._clock()
        async with self._db.session() as s:
            claimed = await s.exec(
                update(OutboxRow)
                .where(
                    col(OutboxRow.id) == message_id,
                    col(OutboxRow.not_after) > now,
                    _unclaimed(now),
                )
                .values(claimed_until=now + CLAIM_DURATION, attempts=OutboxRow.attempts + 1)
            )
            if claimed.rowcount != 1:
                return None
            row = await s.get(OutboxRow, message_id)
        if row is None:
            return None
        try:
            raw = self._fernet.decrypt(row.message_encrypted.encode())
        except InvalidToken:
            logger.error("email %s cannot be decrypted: was AUTHKIT_SECRET_KEY changed?", row.id)
            return None
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message, row.attempts


def _unclaimed(now: datetime) -> ColumnElement[bool]:
    return or_(col(OutboxRow.claimed_until).is_(None), col(OutboxRow.claimed_until) < now)
