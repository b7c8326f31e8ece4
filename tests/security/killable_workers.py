"""
Real server processes a test can SIGKILL, optionally at a chosen point of the
password-reset transaction (SECURITY.md load test L6).

`python -m tests.security.killable_workers` is a fork server: it imports authkit, uvicorn
and tests/hostapp.py once, then for every JSON line on its standard input forks a worker
that serves the host app with uvicorn on a port of its own on 127.0.0.1 (a new worker
costs a fork and a kit start-up, not seconds of imports). It answers `SPAWNED <pid>
<port>` on its standard output.

A worker given a `pause` point stops dead there the first time a reset reaches it: it
prints `PAUSED <pid> <point>` and blocks its event loop, with the transaction open (or,
for `after-commit`, just committed), until the test kills it. The points, in the order
`flows/reset.py` reaches them inside its one transaction:

- `code-claimed`: the link's row is marked used;
- `password-updated`: the new password hash is written;
- `sessions-revoked`: every session of the account is marked revoked;
- `before-commit`: the audit row is written too and COMMIT is about to be sent;
- `after-commit`: the commit went through; the response is not sent yet.

`Workers` is the test side: it starts the fork server, spawns workers and kills them.
Everything listens on 127.0.0.1 only, and workers die with the fork server, which dies
when its standard input closes (the test ends or dies).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.to_thread
import httpx

ROOT = Path(__file__).resolve().parents[2]
POINTS = ("code-claimed", "password-updated", "sessions-revoked", "before-commit", "after-commit")
#: Generous: a wait this long means something is broken, never a slow machine.
DEADLINE_SECONDS = 60.0
_PR_SET_PDEATHSIG = 1
_IN_RESET = "authkit.test.in_reset"
_COMMITTED = "authkit.test.reset_committed"


# -- the fork server and its workers (run in the child processes) --------------------------


def _serve_forever() -> None:
    # Imported here: the test process needs none of this to drive the workers.
    from authkit import AuthKit

    from ..hostapp import make_host_app

    # Workers are reaped by the kernel; the test kills them through pidfds.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in sys.stdin:
        order = json.loads(line)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _worker(sock, order, AuthKit, make_host_app)
            except BaseException as exc:  # a worker must never return into this loop
                print(f"worker failed: {exc!r}", file=sys.stderr, flush=True)
                code = 1
            finally:
                os._exit(code)
        sock.close()
        print(f"SPAWNED {pid} {port}", flush=True)


def _worker(sock: socket.socket, order: Mapping[str, Any], kit_class: Any, host: Any) -> None:
    import uvicorn

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # Die with the fork server, so no worker outlives a test run.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    kit = kit_class(rate_limits=order.get("rate_limits"), **order["settings"])
    app = host(kit)
    if order.get("pause"):
        _arm(kit.services.db.engine.sync_engine, order["pause"])
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def _update_parts(sql: str) -> tuple[str, str, str]:
    """("table", "SET clause", "WHERE clause") of an UPDATE; empty strings otherwise."""
    if not sql.startswith("UPDATE "):
        return "", "", ""
    table, _, rest = sql.removeprefix("UPDATE ").partition(" SET ")
    sets, _, where = rest.partition(" WHERE ")
    return table, sets, where


def _arm(engine: Any, point: str) -> None:
    """Stop the worker at `point` of the reset transaction (see the module docstring)."""
    from sqlalchemy import event

    def reached(where: str) -> None:
        if where == point:
            print(f"PAUSED {os.getpid()} {where}", flush=True)
            # Blocks the event loop on purpose, transaction open: the test kills us here.
            time.sleep(DEADLINE_SECONDS * 10)

    @event.listens_for(engine, "after_cursor_execute")
    def _after(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        sql = " ".join(statement.split())
        table, sets, where = _update_parts(sql)
        if (
            table == "verification_codes"
            and "consumed_at" in sets
            and ("verification_codes.id =" in where)
        ):
            conn.info[_IN_RESET] = True
            reached("code-claimed")
        elif conn.info.get(_IN_RESET):
            if table == "password_credentials" and "password_hash" in sets:
                reached("password-updated")
            elif table == "sessions" and "revoked_at" in sets:
                reached("sessions-revoked")

    @event.listens_for(engine, "commit")
    def _before_commit(conn: Any) -> None:
        if conn.info.pop(_IN_RESET, False):
            conn.info[_COMMITTED] = True
            reached("before-commit")

    @event.listens_for(engine, "rollback")
    def _rolled_back(conn: Any) -> None:
        conn.info.pop(_IN_RESET, None)

    # A connection goes back to the pool once its session is closed, after the commit.
    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        if record.info.pop(_COMMITTED, False):
            reached("after-commit")


# -- the test side ---------------------------------------------------------------------------


@dataclass
class Worker:
    pid: int
    url: str
    #: Signals go through a pidfd, never a bare pid: no risk of hitting a recycled pid.
    pidfd: int

    def is_alive(self) -> bool:
        readable, _, _ = select.select([self.pidfd], [], [], 0)
        return not readable

    async def ready(self) -> None:
        """Wait until the worker answers (its kit started: migrations done, keys loaded)."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        async with httpx.AsyncClient(base_url=self.url, timeout=DEADLINE_SECONDS) as client:
            while True:
                try:
                    r = await client.get("/auth/.well-known/jwks.json")
                    if r.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or not self.is_alive():
                    raise AssertionError(f"worker {self.pid} never answered on {self.url}")
                await anyio.sleep(0.02)

    async def kill(self) -> None:
        """SIGKILL, then wait until the process is gone (its sockets and locks with it)."""
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while self.is_alive():
            if time.monotonic() > deadline:
                raise AssertionError(f"worker {self.pid} survived SIGKILL")
            await anyio.sleep(0.005)


class Workers:
    """Drives the fork server: spawn workers, wait for their pause points, kill them."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self._log_file = log.open("ab")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.security.killable_workers"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
            bufsize=1,
        )
        self._spawned: queue.Queue[tuple[int, int]] = queue.Queue()
        self._paused: queue.Queue[tuple[int, str]] = queue.Queue()
        self._workers: list[Worker] = []
        assert self._process.stdout is not None
        threading.Thread(target=self._read, args=(self._process.stdout,), daemon=True).start()

    def _read(self, stdout: IO[str]) -> None:
        for line in stdout:
            kind, *rest = line.split()
            if kind == "SPAWNED":
                self._spawned.put((int(rest[0]), int(rest[1])))
            elif kind == "PAUSED":
                self._paused.put((int(rest[0]), rest[1]))

    async def spawn(
        self,
        settings: Mapping[str, Any],
        *,
        pause: str | None = None,
        rate_limits: Mapping[str, str] | None = None,
    ) -> Worker:
        """A new worker built from AuthKit `settings`, answering requests."""
        assert pause is None or pause in POINTS, pause
        assert self._process.stdin is not None
        order = {"settings": dict(settings), "pause": pause, "rate_limits": rate_limits}
        self._process.stdin.write(json.dumps(order) + "\n")
        self._process.stdin.flush()
        try:
            pid, port = await anyio.to_thread.run_sync(self._spawned.get, True, DEADLINE_SECONDS)
        except queue.Empty:
            raise AssertionError(f"the fork server did not answer; see {self.log}") from None
        # The worker cannot have been reaped yet unless it died at once: then this fails.
        worker = Worker(pid, f"http://127.0.0.1:{port}", os.pidfd_open(pid))
        self._workers.append(worker)
        await worker.ready()
        return worker

    async def paused(self, worker: Worker, point: str) -> None:
        """Wait until `worker` says it stopped at `point`."""
        try:
            pid, where = await anyio.to_thread.run_sync(self._paused.get, True, DEADLINE_SECONDS)
        except queue.Empty:
            raise AssertionError(f"worker {worker.pid} never reached {point}") from None
        assert (pid, where) == (worker.pid, point)

    def close(self) -> None:
        """Stop the fork server; its workers die with it (PR_SET_PDEATHSIG)."""
        assert self._process.stdin is not None
        with contextlib.suppress(OSError):
            self._process.stdin.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)
        for worker in self._workers:
            # Readable once the process is gone.
            select.select([worker.pidfd], [], [], DEADLINE_SECONDS)
            os.close(worker.pidfd)
        self._log_file.close()


if __name__ == "__main__":
    _serve_forever()
