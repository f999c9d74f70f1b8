"""The intake writer in a child process: parse, decide and group-commit there.

Why a process: the SMTP edge (aiosmtpd) and the writer (``email`` parsing and
SQLAlchemy) are both pure Python, and in one process the GIL makes them take
turns on one core however many the machine has. With the writer in a child,
the event loop keeps its core for SMTP sessions and the child commits on the
other (bench/intake.py: see the README for the figures).

Guarantee 1 is unchanged: the child answers a mail only after the COMMIT that
holds it returned. A child that dies loses no answered mail; the mails it had
not answered get 451, and the sender's retry finds them by idempotency key.
The main process's SMTP sessions never wait on the database directly.

The pipe carries length-prefixed pickles between this parent and its own
child only: the parent sends one :class:`WriterConfig`, then
``(seq, Delivery, now)``; the child answers ``("ready", problem or None)``
once, then ``(seq, Outcome)`` for each mail, in commit order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import struct
import sys
from dataclasses import dataclass
from datetime import datetime

from gateway.intake import IntakeRules
from gateway.outcome import DATABASE_AWAY, Delivery, Outcome

log = logging.getLogger("gateway.writer")

LENGTH = struct.Struct("!I")
_START_TIMEOUT = 60.0


@dataclass(frozen=True)
class WriterConfig:
    """Everything the child needs, as plain values (it reads no configuration)."""

    database_url: str
    sqlite_synchronous: str
    rules: IntakeRules
    cpu_budget: float = 10.0  # issue 14.3: one mail's parse, CPU seconds; then quarantine
    memory_budget_mb: int = 1024  # ... and MiB it may add to the writer


class WriterUnavailable(Exception):
    """The child could not start; the message says why (usually the database)."""


def frame(obj: object) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return LENGTH.pack(len(data)) + data


# --- the parent side ---------------------------------------------------------------

_BACKOFF_FIRST = 0.1  # the first retry after a failed start; doubles up to the cap
_BACKOFF_CAP = 5.0  # issue 14: never give up, never wait longer than this between tries
RUNNING, RESTARTING, DOWN = "running", "restarting", "down"


class WriterProcess:
    """Hands deliveries to the child and resolves each with the child's answer.

    A child that dies is replaced at once and, while starting fails (PostgreSQL
    away, killed while starting), again with a backoff doubling to 5 s, for as
    long as it takes (issue 14, item 1): mail gets 451 meanwhile and 250 again
    as soon as a writer runs. :attr:`state` is ``running``, ``restarting`` (a
    new child is starting) or ``down`` (starting failed; retrying, or stopped);
    every change of it is one log line. :attr:`restarts` counts the children
    that took over from a dead one.
    """

    def __init__(self, config: WriterConfig) -> None:
        self._config = config
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Outcome]] = {}
        self._seq = 0
        self._ready = asyncio.Event()
        self._settled = asyncio.Event()  # set while running or down: no answer to wait for
        self._wake = asyncio.Event()  # cuts a backoff sleep short when stopping
        self._stopping = False
        self.state = DOWN
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        """The child's process id, for monitoring and for tests that kill it."""
        return self._proc.pid if self._proc is not None else None

    def _set_state(self, state: str, line: str | None = None, level: int = logging.INFO) -> None:
        if state == self.state:
            return
        self.state = state
        if state == RESTARTING:
            self._settled.clear()
        else:
            self._settled.set()
        if line:
            log.log(level, line)

    async def start(self) -> None:
        self._set_state(RESTARTING)
        problem = await self._spawn()
        if problem:
            await self.stop()
            raise WriterUnavailable(problem)
        self._set_state(RUNNING)

    async def _spawn(self) -> str | None:
        self._ready.clear()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "gateway.intake.writer_child",
                str(os.getpid()),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            return f"the intake writer process could not be started: {exc}"
        assert proc.stdin is not None and proc.stdout is not None
        self._proc = proc
        proc.stdin.write(frame(self._config))
        try:
            _, problem = await asyncio.wait_for(_read(proc.stdout), _START_TIMEOUT)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            problem = "the intake writer process did not start; see the log above"
        if problem:
            await _reap(proc)
            return str(problem)
        self._reader = asyncio.ensure_future(self._read_replies(proc))
        self._ready.set()
        return None

    async def run(self, delivery: Delivery, now: datetime) -> Outcome:
        try:
            await asyncio.wait_for(self._settled.wait(), _START_TIMEOUT)
        except TimeoutError:
            return DATABASE_AWAY
        proc = self._proc
        if not self._ready.is_set() or proc is None or proc.stdin is None:
            return DATABASE_AWAY  # down: the sender retries; the supervisor keeps trying
        self._seq += 1
        seq = self._seq
        answer: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending[seq] = answer
        try:
            proc.stdin.write(frame((seq, delivery, now)))
            await proc.stdin.drain()
            return await answer
        except (ConnectionError, BrokenPipeError, RuntimeError):
            return DATABASE_AWAY
        finally:
            self._pending.pop(seq, None)

    async def _read_replies(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        try:
            while True:
                seq, outcome = await _read(proc.stdout)
                answer = self._pending.get(seq)
                if answer is not None and not answer.done():
                    answer.set_result(outcome)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self._ready.clear()
        for answer in self._pending.values():  # the child died: the senders retry
            if not answer.done():
                answer.set_result(DATABASE_AWAY)
        if not self._stopping:
            code = await proc.wait()
            self._set_state(
                RESTARTING,
                f"the intake writer exited with {code}; starting a new one",
                logging.ERROR,
            )
            self._supervisor = asyncio.ensure_future(self._restart())

    async def _restart(self) -> None:
        """Start a new child until one runs: at once, then backing off to 5 s, forever."""
        delay = _BACKOFF_FIRST
        while not self._stopping:
            problem = await self._spawn()
            if problem is None:
                if self._stopping:
                    return
                self.restarts += 1
                self._set_state(RUNNING, "the intake writer is running again")
                return
            self._set_state(
                DOWN,
                f"the intake writer cannot start ({problem}); mail is deferred (451) "
                f"and a new start is tried every {_BACKOFF_CAP:g} s at most",
                logging.ERROR,
            )
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            delay = min(delay * 2, _BACKOFF_CAP)

    async def stop(self, timeout: float = 30.0) -> None:
        """Close the pipe: the child commits what it holds, answers, and exits."""
        self._stopping = True
        self._wake.set()
        if self._supervisor is not None and not self._supervisor.done():
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        proc = self._proc
        if proc is not None:
            await _reap(proc, timeout)
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._set_state(DOWN)


async def _reap(proc: asyncio.subprocess.Process, timeout: float = 5.0) -> None:
    """Close the child's input (it commits what it holds and exits); kill it if it will not."""
    if proc.stdin is not None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def _read(stream: asyncio.StreamReader) -> tuple:
    (length,) = LENGTH.unpack(await stream.readexactly(LENGTH.size))
    return pickle.loads(await stream.readexactly(length))
