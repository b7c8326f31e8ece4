"""
The webhook outbox. An event is written for each endpoint that wants it in the same
transaction as the change it reports (nothing is sent for a change that rolled back, and
nothing committed is lost), then sent in the background once the transaction committed
and the answer is out: a request never waits for an endpoint.

Delivery is at least once and in order per user and endpoint: an event waits while an
older one about the same user is still pending for that endpoint. A failed attempt (no
answer within the timeout, or anything but 2xx) is retried with pauses that double from
30 seconds up to 6 hours, for three days; then the event is marked failed. Any process
retries what is due, on a request to the sub-app at most every 30 seconds (or `authkit
webhooks deliver` from cron), so a restart loses nothing. Rows are kept as the delivery
log, with replay, and pruned after `LOG_DAYS`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import ColumnElement, delete, exists, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks import Webhook

from ..audit import audited_in
from ..clock import Clock, as_utc, doubling_pause
from ..email.mailer import Mailer
from ..errors import StoreError
from ..ids import new_id
from ..store.db import Database
from ..store.models import WebhookMessageRow
from .endpoints import Endpoint
from .payloads import email_data, envelope, user_data

__all__ = ["Delivery", "Webhooks", "post_event"]

logger = logging.getLogger("authkit.webhooks")

PENDING, DELIVERED, FAILED, SKIPPED = "pending", "delivered", "failed", "skipped"
#: Retried this long after the event, then given up.
RETRY_FOR = timedelta(days=3)
FIRST_RETRY_PAUSE = timedelta(seconds=30)
MAX_RETRY_PAUSE = timedelta(hours=6)
#: How long a worker holds an event it is sending; past it, another may try.
CLAIM_DURATION = timedelta(minutes=2)
SWEEP_INTERVAL = timedelta(seconds=30)
#: Events sent per sweep, so one sweep stays short.
SWEEP_BATCH = 50
#: An endpoint has this long to answer (and 5 s of it to accept the connection).
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
#: Delivered and failed events stay in the log this long.
LOG_DAYS = 30
#: The transaction has webhook events to send once it commits.
_WRITTEN = "authkit.webhooks_written"

#: Audited events that change what the user object shows, by the webhook they make.
USER_CREATED = frozenset({"user.created", "user.imported", "sign_up.completed"})
USER_DELETED = frozenset({"user.deleted"})
USER_UPDATED = frozenset(
    {
        "profile.updated",
        "profile.image_updated",
        "profile.image_removed",
        "metadata.updated",
        "email.added",
        "email.verified",
        "email.removed",
        "email.primary_changed",
        "password.changed",
        "password.set",
        "password.reset",
        "mfa.enabled",
        "mfa.disabled",
        "passkey.added",
        "passkey.removed",
        "passkey.renamed",
        "oauth.linked",
        "oauth.disconnected",
        "user.banned",
        "user.unbanned",
        "user.locked",
        "user.unlocked",
    }
)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the delivery log."""

    seq: int
    id: str
    endpoint_url: str
    event_type: str
    about: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_status: int | None
    last_error: str
    replay_of: int | None
    payload: str


class Webhooks:
    def __init__(
        self,
        *,
        endpoints: Sequence[Endpoint],
        db: Database,
        runner: Mailer,
        key: bytes,
        clock: Clock,
    ) -> None:
        self.endpoints = tuple(endpoints)
        self._db = db
        self._runner = runner
        self._fernet = Fernet(key)
        self._clock = clock
        self._swept_at: datetime | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.endpoints)

    def wants(self, event_type: str) -> bool:
        return any(event_type in e.events for e in self.endpoints)

    async def emit(
        self,
        s: AsyncSession,
        event_type: str,
        data: dict[str, Any],
        *,
        about: str,
        state: str = PENDING,
    ) -> None:
        """Write `event_type` with `data` for every endpoint that wants it, in the open
        transaction `s`; it is sent once `s` commits. `about` orders it (a user id).
        `state=SKIPPED` writes it never to be sent (the same work as a real one)."""
        wanting = [e for e in self.endpoints if event_type in e.events]
        if not wanting:
            return
        now = self._clock()
        body = envelope(event_type, data, now)
        encrypted = self._fernet.encrypt(body.encode()).decode()
        message_id = new_id("msg")
        for endpoint in wanting:
            s.add(
                WebhookMessageRow(
                    id=message_id,
                    endpoint_url=endpoint.url,
                    endpoint_key=endpoint.key,
                    event_type=event_type,
                    ordering_key=about[:260],
                    payload_encrypted=encrypted,
                    state=state,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
        s.info[_WRITTEN] = True

    async def before_commit(self, s: AsyncSession, *, base_url: str, mount_path: str) -> None:
        """The `user.*` events of what the transaction audited (one per user: created
        or deleted wins over updated), with the user as it will be committed."""
        if not self.enabled:
            return
        kinds: dict[str, str] = {}
        for change in audited_in(s):
            if change.user_id is None:
                continue
            if change.event in USER_DELETED:
                kinds[change.user_id] = "user.deleted"
            elif change.event in USER_CREATED and kinds.get(change.user_id) != "user.deleted":
                kinds[change.user_id] = "user.created"
            elif change.event in USER_UPDATED:
                kinds.setdefault(change.user_id, "user.updated")
        for user_id, kind in kinds.items():
            if not self.wants(kind):
                continue
            data: dict[str, Any] | None
            if kind == "user.deleted":
                data = {"object": "user", "id": user_id, "deleted": True}
            else:
                data = await user_data(s, user_id, base_url=base_url, mount_path=mount_path)
            if data is not None:
                await self.emit(s, kind, data, about=user_id)

    async def email_created(
        self, s: AsyncSession, message: EmailMessage, *, message_id: str, deliver: bool
    ) -> None:
        """`email.created` for a message the outbox took. The stand-in written for an
        unknown address (`deliver=False`) gets a skipped event, never sent: the same
        work either way, so the time taken tells nobody whether the address is known."""
        if not self.wants("email.created"):
            return
        about = str(message["To"]).casefold()
        data = email_data(message, message_id=message_id, user_id=None)
        state = PENDING if deliver else SKIPPED
        await self.emit(s, "email.created", data, about=about, state=state)

    def after_commit(self, s: AsyncSession) -> None:
        if s.info.pop(_WRITTEN, False):
            self.send_soon()

    def send_soon(self) -> None:
        """Send what is due, in the background (within a request: once it is answered)."""
        self._runner.in_background(self._deliver_quietly())

    def sweep_if_due(self) -> None:
        """Retry what is due, in the background, at most once per `SWEEP_INTERVAL`."""
        if not self.enabled:
            return
        now = self._clock()
        if self._swept_at is None or now - self._swept_at >= SWEEP_INTERVAL:
            self._swept_at = now
            self.send_soon()

    async def _deliver_quietly(self) -> None:
        try:
            await self.deliver_due()
        except StoreError:
            logger.warning("webhook delivery put off: database unavailable")

    async def deliver_due(self, *, limit: int = SWEEP_BATCH) -> int:
        """Send the events that are due, oldest first, keeping each user's order;
        returns how many endpoints took theirs."""
        delivered = 0
        claimed = await self._claim_next()
        if claimed is None:
            return 0  # the usual sweep: nothing due, and no client (TLS set-up) made
        async with httpx.AsyncClient(
            timeout=TIMEOUT, follow_redirects=False, trust_env=False
        ) as client:
            for sent in range(1, limit + 1):
                row, body = claimed
                status, error = await post_event(
                    client, row.endpoint_url, self._secret_of(row.endpoint_url), row.id, body
                )
                delivered += await self._settle(row, status, error)
                if sent == limit:
                    break  # claim nothing this sweep will not send
                claimed = await self._claim_next()
                if claimed is None:
                    break
        return delivered

    def _secret_of(self, url: str) -> str | None:
        return next((e.secret for e in self.endpoints if e.url == url), None)

    async def _claim_next(self) -> tuple[WebhookMessageRow, str] | None:
        """The oldest due event no older pending event of its user and endpoint waits
        before, now held by this worker."""
        now = self._clock()
        older = aliased(WebhookMessageRow)
        waits_behind = exists().where(
            col(older.endpoint_key) == col(WebhookMessageRow.endpoint_key),
            col(older.ordering_key) == col(WebhookMessageRow.ordering_key),
            col(older.state) == PENDING,
            col(older.seq) < col(WebhookMessageRow.seq),
        )
        async with self._db.session() as s:
            candidates = (
                await s.exec(
                    select(WebhookMessageRow.seq)
                    .where(
                        col(WebhookMessageRow.state) == PENDING,
                        col(WebhookMessageRow.next_attempt_at) <= now,
                        _unclaimed(now),
                        ~waits_behind,
                    )
                    .order_by(col(WebhookMessageRow.seq))
                    .limit(5)
                )
            ).all()
            for seq in candidates:
                taken = await s.exec(
                    update(WebhookMessageRow)
                    .where(
                        col(WebhookMessageRow.seq) == seq,
                        col(WebhookMessageRow.state) == PENDING,
                        _unclaimed(now),
                    )
                    .values(
                        claimed_until=now + CLAIM_DURATION,
                        attempts=col(WebhookMessageRow.attempts) + 1,
                    )
                )
                if taken.rowcount == 1:
                    row = await s.get(WebhookMessageRow, seq)
                    assert row is not None
                    return row, self._payload(row)
        return None

    async def _settle(self, row: WebhookMessageRow, status: int | None, error: str) -> int:
        now = self._clock()
        values: dict[str, Any] = {"claimed_until": None, "last_status": status}
        ok = status is not None and 200 <= status < 300
        if ok:
            values.update(state=DELIVERED, delivered_at=now, last_error="")
        else:
            values["last_error"] = error[:200]
            deadline = as_utc(row.created_at) + RETRY_FOR
            if now >= deadline:
                values["state"] = FAILED
                logger.warning(
                    "webhook %s (%s) to %s failed for good after %d attempts: %s",
                    row.id,
                    row.event_type,
                    row.endpoint_url,
                    row.attempts,
                    error,
                )
            else:
                values["next_attempt_at"] = min(
                    now
                    + doubling_pause(row.attempts, first=FIRST_RETRY_PAUSE, most=MAX_RETRY_PAUSE),
                    deadline,
                )
        async with self._db.session() as s:
            await s.exec(
                update(WebhookMessageRow)
                .where(col(WebhookMessageRow.seq) == row.seq)
                .values(**values)
            )
        return int(ok)

    def _payload(self, row: WebhookMessageRow) -> str:
        try:
            return self._fernet.decrypt(row.payload_encrypted.encode()).decode()
        except InvalidToken:
            # Sent as it is, so the endpoint's log shows something is wrong here.
            logger.error("webhook %s cannot be decrypted: was AUTHKIT_SECRET_KEY changed?", row.id)
            return "{}"

    # -- the delivery log ---------------------------------------------------------------

    async def log(
        self, *, limit: int = 50, before: int | None = None, state: str | None = None
    ) -> list[Delivery]:
        """The newest events first (`before`: older than that `seq`)."""
        query = (
            select(WebhookMessageRow)
            .where(col(WebhookMessageRow.state) != SKIPPED)
            .order_by(col(WebhookMessageRow.seq).desc())
        )
        if before is not None:
            query = query.where(col(WebhookMessageRow.seq) < before)
        if state is not None:
            query = query.where(col(WebhookMessageRow.state) == state)
        async with self._db.session() as s:
            rows = (await s.exec(query.limit(limit))).all()
        return [self._delivery(row) for row in rows]

    async def get(self, seq: int) -> Delivery | None:
        async with self._db.session() as s:
            row = await s.get(WebhookMessageRow, seq)
        return self._delivery(row) if row is not None else None

    async def replay(self, seq: int) -> int | None:
        """Send event `seq` again (same `webhook-id`, now, after that user's pending
        events); returns the new row's seq, None when there is no such event."""
        now = self._clock()
        async with self._db.session() as s:
            row = await s.get(WebhookMessageRow, seq)
            if row is None:
                return None
            copy = WebhookMessageRow(
                id=row.id,
                endpoint_url=row.endpoint_url,
                endpoint_key=row.endpoint_key,
                event_type=row.event_type,
                ordering_key=row.ordering_key,
                payload_encrypted=row.payload_encrypted,
                state=PENDING,
                created_at=now,
                next_attempt_at=now,
                replay_of=row.seq,
            )
            s.add(copy)
            await s.flush()
            new_seq = copy.seq
            s.info[_WRITTEN] = True
        assert new_seq is not None
        return new_seq

    async def prune(self) -> int:
        """Forget delivered and failed events older than `LOG_DAYS`."""
        cutoff = self._clock() - timedelta(days=LOG_DAYS)
        async with self._db.session() as s:
            result = await s.exec(
                delete(WebhookMessageRow).where(
                    col(WebhookMessageRow.state) != PENDING,
                    or_(
                        col(WebhookMessageRow.created_at) < cutoff,
                        col(WebhookMessageRow.state) == SKIPPED,
                    ),
                )
            )
        return int(result.rowcount)

    def _delivery(self, row: WebhookMessageRow) -> Delivery:
        assert row.seq is not None
        return Delivery(
            seq=row.seq,
            id=row.id,
            endpoint_url=row.endpoint_url,
            event_type=row.event_type,
            about=row.ordering_key,
            state=row.state,
            attempts=row.attempts,
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at,
            delivered_at=row.delivered_at,
            last_status=row.last_status,
            last_error=row.last_error,
            replay_of=row.replay_of,
            payload=self._payload(row),
        )


async def post_event(
    client: httpx.AsyncClient, url: str, secret: str | None, message_id: str, body: str
) -> tuple[int | None, str]:
    """POST one signed event (Standard Webhooks headers); the status (None: no answer)
    and, for a failure, why in a few words. Never raises but cancellation."""
    if secret is None:
        return None, "the endpoint is no longer configured"
    timestamp = datetime.fromtimestamp(int(time.time()), UTC)  # the receiver's clock
    headers = {
        "content-type": "application/json",
        "user-agent": "authkit-webhooks",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, timestamp, body),
    }
    try:
        response = await client.post(url, content=body.encode(), headers=headers)
    except httpx.TimeoutException:
        return None, "no answer within the timeout"
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:200]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"answered {response.status_code}"


def _unclaimed(now: datetime) -> ColumnElement[bool]:
    return or_(
        col(WebhookMessageRow.claimed_until).is_(None),
        col(WebhookMessageRow.claimed_until) < now,
    )
