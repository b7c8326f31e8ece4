"""
The Mailer: delivers messages in the background so a request never waits on a slow mail
server, and turns every outcome into one log line. It owns the pending deliveries (kept until
they finish, and awaited by `drain()` at shutdown and in tests) and the sent/failed counters;
it never logs a message body or a full recipient address.

Work handed to the background while authkit answers a request (`after_the_answer`) starts
only once the answer is out: a delivery does more for a real account than for an unknown
address, and none of that may run while the answer is on its way (a timing oracle).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from .transports import EmailTransport

__all__ = ["Mailer", "after_the_answer"]

# Long server replies are cut so one failure stays one readable log line.
_MAX_REASON_CHARS = 200

#: Set while a request is being answered; background work waits for it.
_answered: ContextVar[asyncio.Event | None] = ContextVar("authkit_answered", default=None)


@contextmanager
def after_the_answer() -> Iterator[Callable[[], None]]:
    """
    Around the answering of one request: work given to `Mailer.in_background` meanwhile is
    scheduled at once (the same way whatever it will do) but starts only when the yielded
    callable is called, once the answer has been handed to the server, or when the block
    ends, whichever comes first.
    """
    answered = asyncio.Event()
    token = _answered.set(answered)
    try:
        yield answered.set
    finally:
        _answered.reset(token)
        answered.set()


class Mailer:
    """
    Sends through `transport` without making the caller wait.

    `send()` must be called from a running event loop. Failures (including the transport's
    timeout) are logged at ERROR on `logger_name` as one line naming only the recipient's
    domain, and counted in `failed_count`; successes are logged at INFO and counted in
    `sent_count`. Call `await drain()` before the loop stops, or pending mail is lost.
    """

    def __init__(self, transport: EmailTransport, *, logger_name: str = "authkit.email") -> None:
        self.transport = transport
        self.sent_count = 0
        self.failed_count = 0
        self._logger = logging.getLogger(logger_name)
        # asyncio keeps only weak references to tasks: without this set a pending delivery
        # could be garbage collected mid-flight.
        self._pending: set[asyncio.Task[None]] = set()

    def send(self, message: EmailMessage) -> None:
        """
        Schedule delivery of `message` and return at once.

        Raises:
            RuntimeError: there is no running event loop.
        """
        self.in_background(self.deliver(message))

    def in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        """
        Run `work` (a delivery and what follows it) as a pending delivery: `drain()`
        waits for it too. Within `after_the_answer` it starts once the answer is out.

        Raises:
            RuntimeError: there is no running event loop.
        """
        answered = _answered.get()
        if answered is not None and not answered.is_set():
            work = _once(answered, work)
        task = asyncio.get_running_loop().create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    @property
    def pending_count(self) -> int:
        """Deliveries (and sweeps) scheduled and not yet finished."""
        return len(self._pending)

    async def drain(self) -> None:
        """
        Wait until every scheduled delivery has finished, including ones scheduled meanwhile
        and ones waiting for an answer to go out (so never from inside `after_the_answer`).

        Deliveries end within the transport's timeout; to bound shutdown further, wrap this
        call in `asyncio.timeout()`: pending deliveries keep running until the loop stops.
        """
        while self._pending:
            # wait(), not gather(): cancelling drain() must not cancel the deliveries.
            await asyncio.wait(set(self._pending))

    async def deliver(self, message: EmailMessage) -> bool:
        """Send `message` now; True when the server took it. Never raises but cancellation."""
        recipient = _masked_recipients(message)
        try:
            await self.transport.send(message)
        except asyncio.CancelledError:
            # The loop is stopping: say the mail was lost, then let the cancellation through.
            self._log_failure(recipient, "CancelledError", "delivery cancelled")
            raise
        # A background task has nobody to raise to: every failure becomes a log line.
        except Exception as exc:
            self._log_failure(recipient, type(exc).__name__, _short_reason(exc, message))
            return False
        self.sent_count += 1
        self._logger.info("email sent to %s subject=%r", recipient, str(message["Subject"]))
        return True

    def _log_failure(self, recipient: str, kind: str, reason: str) -> None:
        self.failed_count += 1
        self._logger.error("email to %s failed: %s: %s", recipient, kind, reason)

    def __repr__(self) -> str:
        return f"Mailer(transport={self.transport!r}, pending={len(self._pending)})"


async def _once(answered: asyncio.Event, work: Coroutine[Any, Any, Any]) -> Any:
    try:
        await answered.wait()
    except BaseException:
        work.close()  # cancelled before it began: closed, so never reported as unawaited
        raise
    return await work


def _masked_recipients(message: EmailMessage) -> str:
    # Only the domain: full addresses in logs are personal data and help enumeration.
    addresses = [address for _, address in getaddresses(message.get_all("To", []))]
    masked = [_mask(address) for address in addresses if address]
    return ", ".join(masked) or "(no recipient)"


def _mask(address: str) -> str:
    return f"***@{address.rpartition('@')[2]}"


def _short_reason(exc: BaseException, message: EmailMessage) -> str:
    reason = " ".join(str(exc).split()) or "no details"
    # Server replies often echo the address ("<a@b.c> unknown user"): keep only its domain.
    for _, address in getaddresses(message.get_all("To", [])):
        if address:
            pattern = re.compile(re.escape(address), re.IGNORECASE)
            reason = pattern.sub(lambda match: _mask(match.group()), reason)
    if len(reason) > _MAX_REASON_CHARS:
        reason = reason[: _MAX_REASON_CHARS - 3] + "..."
    return reason
