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
import gc
import logging
import os
import pickle
import struct
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from gateway.intake import IntakeRules, ingest, prepare
from gateway.intake.quarantine import shunt as shunt_mail
from gateway.outcome import DATABASE_AWAY, Delivery, Outcome

log = logging.getLogger("gateway.writer")

_LENGTH = struct.Struct("!I")
_START_TIMEOUT = 60.0


@dataclass(frozen=True)
class WriterConfig:
    """Everything the child needs, as plain values (it reads no configuration)."""

    database_url: str
    sqlite_synchronous: str
    rules: IntakeRules


class WriterUnavailable(Exception):
    """The child could not start; the message says why (usually the database)."""


def _frame(obj: object) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


# --- the parent side ---------------------------------------------------------------


class WriterProcess:
    """Hands deliveries to the child and resolves each with the child's answer."""

    def __init__(self, config: WriterConfig) -> None:
        self._config = config
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Outcome]] = {}
        self._seq = 0
        self._ready = asyncio.Event()
        self._stopping = False

    @property
    def pid(self) -> int | None:
        """The child's process id, for monitoring and for tests that kill it."""
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        problem = await self._spawn()
        if problem:
            await self.stop()
            raise WriterUnavailable(problem)

    async def _spawn(self) -> str | None:
        self._ready.clear()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway.intake.writer",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stdout is not None
        self._proc = proc
        proc.stdin.write(_frame(self._config))
        try:
            _, problem = await asyncio.wait_for(_read(proc.stdout), _START_TIMEOUT)
        except (asyncio.IncompleteReadError, TimeoutError):
            return "the intake writer process did not start; see the log above"
        if problem:
            return str(problem)
        self._reader = asyncio.ensure_future(self._read_replies(proc))
        self._ready.set()
        return None

    async def run(self, delivery: Delivery, now: datetime) -> Outcome:
        try:
            await asyncio.wait_for(self._ready.wait(), 30)
        except TimeoutError:
            return DATABASE_AWAY
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        self._seq += 1
        seq = self._seq
        answer: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending[seq] = answer
        try:
            proc.stdin.write(_frame((seq, delivery, now)))
            await proc.stdin.drain()
            return await answer
        except (ConnectionError, BrokenPipeError):
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
            log.error("the intake writer exited with %s; starting a new one", code)
            await asyncio.sleep(1)
            if not self._stopping and await self._spawn():
                log.error("the intake writer cannot start again; mail is deferred (451)")

    async def stop(self, timeout: float = 30.0) -> None:
        """Close the pipe: the child commits what it holds, answers, and exits."""
        self._stopping = True
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


async def _read(stream: asyncio.StreamReader) -> tuple:
    (length,) = _LENGTH.unpack(await stream.readexactly(_LENGTH.size))
    return pickle.loads(await stream.readexactly(length))


# --- the child side ----------------------------------------------------------------


def _child() -> int:
    # fd 1 carries answers only: anything printed by accident goes to stderr.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    incoming = _Frames(sys.stdin.buffer)
    first = incoming.next_group()
    if not first:
        return 0
    config: WriterConfig = first[0]
    from gateway.store import db
    from gateway.store.group_commit import commit_group

    engine = db.make_engine(config.database_url, sqlite_synchronous=config.sqlite_synchronous)
    try:
        db.require_migrated(engine)
    except Exception as exc:
        replies.write(_frame(("ready", f"the intake writer cannot use the database: {exc}")))
        replies.flush()
        return 1
    sessions = db.session_factory(engine)
    rules = config.rules

    def work(session: object, item: tuple[int, Delivery, datetime]) -> Outcome:
        _, delivery, now = item
        return ingest(session, prepare(delivery), rules, now)  # type: ignore[arg-type]

    def shunt(session: object, item: tuple[int, Delivery, datetime], exc: Exception) -> Outcome:
        _, delivery, now = item
        return shunt_mail(session, delivery, exc, now)  # type: ignore[arg-type]

    # Intake allocates many short-lived objects and few cycles: a full collection
    # every few hundred mails is plenty, and the start-up heap need not be scanned.
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
    replies.write(_frame(("ready", None)))
    replies.flush()
    while group := incoming.next_group():
        try:
            results: list[Outcome | BaseException] = commit_group(sessions, group, work, shunt)
        except Exception:
            results = [DATABASE_AWAY] * len(group)
        for (seq, _, _), result in zip(group, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("deferring a mail: %s", result)
                result = DATABASE_AWAY
            replies.write(_frame((seq, result)))
        replies.flush()
    engine.dispose()
    return 0


class _Frames:
    """Whole frames as they arrive: everything already in the pipe is one group."""

    def __init__(self, stream: BinaryIO) -> None:
        self._fd = stream.fileno()
        self._buf = bytearray()

    def next_group(self) -> list:
        while True:
            group = self._complete()
            if group:
                return group
            chunk = os.read(self._fd, 1 << 20)
            if not chunk:
                return []
            self._buf += chunk

    def _complete(self) -> list:
        frames, at = [], 0
        while len(self._buf) - at >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._buf, at)
            end = at + _LENGTH.size + length
            if end > len(self._buf):
                break
            frames.append(pickle.loads(self._buf[at + _LENGTH.size : end]))
            at = end
        del self._buf[:at]
        return frames


if __name__ == "__main__":
    sys.exit(_child())
