"""
Forgot-password (and a sign-up code resend) must not tell by its timing whether an address
has an account (issue 11, defect 4). Only a registered address's mail is delivered: its
outbox row is claimed, loaded, decrypted, handed to SMTP and deleted, while an unknown
address's row is never sent. That work ran in a background task started during the
request, so whenever the answer's way to the client yielded to the event loop (a server
whose writes wait for the socket, a host's `@app.middleware("http")`), it ran before the
answer was out.

Timing itself is not asserted (flaky); instead every SQL statement (literals stripped) and
every outbox, mailer and transport call is recorded in order, with a mark where the last
body message of the answer has been handed to the server. The server here takes its time
over every message (`SERVER_WRITE_SECONDS`), as one writing to a slow client does. Before
that mark the sequence must be the same for a registered and an unregistered address, and
no mail work may have started; what differs (loading the row, SMTP) comes after it.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authkit import AuthKit
from authkit.flows.email_codes import RESEND_COOLDOWN

from ..conftest import FakeClock, Mailbox
from ..hostapp import make_host_app
from ..web.flow_helpers import csrf_of, form_token, start_sign_up
from .throttle_helpers import (
    MINUTE,
    browser_at,
    fresh_email,
    kit_behind_a_proxy_on_the_test_clock,  # noqa: F401 (the `kit` fixture)
    new_account,
)

pytestmark = pytest.mark.anyio

#: Put in the trace when the response's last body message has gone to the server.
ANSWERED = "-- answered --"
#: How long the server here takes to write each message of an answer.
SERVER_WRITE_SECONDS = 0.05
#: Steps of the mail's delivery (and of retry sweeps): none may start before the answer.
MAIL_WORK = {"outbox._send", "outbox._claim", "outbox.sweep", "mailer.deliver", "transport.send"}
_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+\b")


def _normalized(statement: str) -> str:
    # Placeholders already stand for the values; an inlined literal must not differ either.
    return " ".join(_LITERALS.sub("?", statement).split())


class Recorder:
    """The work a kit does, in order, and where the answer went out."""

    def __init__(self) -> None:
        self.trace: list[str] = []
        self.on = False

    def note(self, step: str) -> None:
        if self.on:
            self.trace.append(step)

    def split(self) -> tuple[list[str], list[str]]:
        """(the work before the answer went out, the work after it)"""
        assert self.trace.count(ANSWERED) == 1, self.trace
        at = self.trace.index(ANSWERED)
        return self.trace[:at], self.trace[at + 1 :]


class SlowServer:
    """
    The server's side of the host app, outermost: while recording, it takes its time over
    every message of an answer (the event loop runs other tasks meanwhile, as it does
    while a real socket drains), then marks the answer as out after the last one.
    """

    def __init__(self, app: ASGIApp, recorder: Recorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def writing(message: Message) -> None:
            if self.recorder.on:
                await asyncio.sleep(SERVER_WRITE_SECONDS)
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.recorder.note(ANSWERED)

        await self.app(scope, receive, writing)


@contextmanager
def recording(kit: AuthKit, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Record SQL, outbox and mailer calls of `kit` while `recorder.on` is true."""
    recorder = Recorder()
    svc = kit.services

    def spy(owner: Any, label: str, name: str) -> None:
        real = getattr(owner, name)
        step = f"{label}.{name}"

        if inspect.iscoroutinefunction(real):

            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                recorder.note(step)
                return await real(*args, **kwargs)

            monkeypatch.setattr(owner, name, async_wrapper)
        else:

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                recorder.note(step)
                return real(*args, **kwargs)

            monkeypatch.setattr(owner, name, wrapper)

    for name in ("add", "send_soon", "sweep_if_due", "sweep", "_send", "_claim"):
        spy(svc.outbox, "outbox", name)
    for name in ("in_background", "deliver"):
        spy(svc.mailer, "mailer", name)
    spy(svc.mailer.transport, "transport", "send")

    def sql(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        recorder.note(f"sql {_normalized(statement)}")

    engine = svc.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", sql)
    try:
        yield recorder
    finally:
        event.remove(engine, "before_cursor_execute", sql)


async def _traced(
    kit: AuthKit, recorder: Recorder, client: httpx.AsyncClient, path: str, data: dict[str, str]
) -> tuple[httpx.Response, list[str], list[str]]:
    """POST with recording on, and until its background work is done; returns the answer,
    the work before it went out and the work after."""
    await kit.services.mailer.drain()  # a retry sweep an earlier page load started
    recorder.trace = []
    recorder.on = True
    try:
        r = await client.post(path, data=data)
        await kit.services.mailer.drain()
    finally:
        recorder.on = False
    return (r, *recorder.split())


def _host_app(kit: AuthKit, recorder: Recorder) -> Starlette:
    app = make_host_app(kit)
    app.add_middleware(SlowServer, recorder=recorder)  # outside authkit's middleware
    return app


async def test_forgot_password_does_the_same_work_before_answering_known_or_not(
    kit: AuthKit, clock: FakeClock, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Until the answer is out, a registered and an unregistered address go through the
    same statements and the same outbox and mailer calls, and no mail work has started;
    only the registered one's mail is then loaded and sent. Twice each, alternating.
    """
    with recording(kit, monkeypatch) as recorder:
        app = _host_app(kit, recorder)
        known, unknown = fresh_email("known"), fresh_email("ghost")
        await new_account(app, kit, mailbox, known)
        clock.advance(MINUTE + 1)  # out of the sign-up's send window
        before: dict[str, list[list[str]]] = {known: [], unknown: []}
        after: dict[str, list[list[str]]] = {known: [], unknown: []}
        for email in (known, unknown, known, unknown):
            async with browser_at(app) as c:
                token = await form_token(c, "/auth/forgot-password")
                r, done, later = await _traced(
                    kit,
                    recorder,
                    c,
                    "/auth/forgot-password",
                    {"csrf_token": token, "email": email},
                )
            assert r.status_code == 303, r.text
            before[email].append(done)
            after[email].append(later)

    first = before[known][0]
    for done in (before[unknown][0], before[known][1], before[unknown][1]):
        assert first == done  # registered (left) against unknown, then again
    assert first.count("outbox.send_soon") == first.count("mailer.in_background") == 1
    assert not MAIL_WORK & set(first), first
    # The difference is real, and it comes after the answer: only the registered
    # address's mail reaches the SMTP server.
    assert all("transport.send" in work for work in after[known])
    assert not any("transport.send" in work for work in after[unknown])
    assert len(mailbox.to(known)) == 1 + 2  # sign-up code, two resets
    assert mailbox.to(unknown) == []


async def test_sign_up_resend_does_the_same_work_before_answering_taken_or_free(
    kit: AuthKit, clock: FakeClock, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A new code asked for on a sign-up with a taken address mails nobody (its owner was
    told once, by the first code's mail), one for a free address mails the code: the
    same work until the answer is out.
    """
    with recording(kit, monkeypatch) as recorder:
        app = _host_app(kit, recorder)
        taken, free = fresh_email("taken"), fresh_email("free")
        await new_account(app, kit, mailbox, taken)
        clock.advance(MINUTE + 1)  # out of the sign-up's send window
        before: dict[str, list[str]] = {}
        after: dict[str, list[str]] = {}
        for email in (taken, free):
            async with browser_at(app) as c:
                code_page = await start_sign_up(c, email)
                clock.advance(RESEND_COOLDOWN.total_seconds() + 1)
                await c.get("/auth/forgot-password")  # any retry sweep now, not below
                r, before[email], after[email] = await _traced(
                    kit,
                    recorder,
                    c,
                    "/auth/sign-up/resend",
                    {"csrf_token": csrf_of(code_page.text)},
                )
            assert r.status_code == 200, r.text

    assert before[taken] == before[free]
    assert before[taken].count("outbox.send_soon") == 1
    assert not MAIL_WORK & set(before[taken]), before[taken]
    assert "transport.send" in after[free]
    assert "transport.send" not in after[taken]
    await kit.services.mailer.drain()
    assert len(mailbox.to(taken)) == 2  # the sign-up code, then "you already have an account"
    assert len(mailbox.to(free)) == 2  # two codes
