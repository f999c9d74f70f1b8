"""The intake writer's child process: read deliveries from the pipe, commit in groups.

Started by :class:`gateway.intake.writer.WriterProcess` as
``python -m gateway.intake.writer_child PARENT_PID``; the protocol is in that
module's docstring. It dies with its parent (``gateway.lifeline``), and exits
by itself when the pipe closes.
"""

from __future__ import annotations

import gc
import logging
import os
import pickle
import signal
import sys
from datetime import datetime
from typing import BinaryIO

from gateway.intake import ingest
from gateway.intake.budget import prepare_all
from gateway.intake.prepare import Prepared
from gateway.intake.quarantine import shunt as shunt_mail
from gateway.intake.writer import LENGTH, WriterConfig, frame
from gateway.lifeline import die_with_parent
from gateway.outcome import DATABASE_AWAY, Outcome

log = logging.getLogger("gateway.writer")


def _child() -> int:
    # Ctrl-C in a terminal reaches the whole process group: the parent stops this child
    # in order (issue 14, item 18); a KeyboardInterrupt here would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if len(sys.argv) > 1:  # the parent's pid: die with it even in the middle of a commit
        die_with_parent(int(sys.argv[1]))
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

    engine = db.make_engine(
        config.database_url,
        sqlite_synchronous=config.sqlite_synchronous,
        cache_mb=db.WRITER_CACHE_MB,
        checkpoints=False,  # serve copies the WAL back, off our commits (store.checkpoint)
    )
    try:
        db.require_migrated(engine)
    except Exception as exc:
        replies.write(frame(("ready", f"the intake writer cannot use the database: {exc}")))
        replies.flush()
        return 1
    sessions = db.session_factory(engine)
    rules = config.rules

    def work(session: object, item: tuple[int, Prepared, datetime]) -> Outcome:
        _, prepared, now = item
        return ingest(session, prepared, rules, now)  # type: ignore[arg-type]

    def shunt(session: object, item: tuple[int, Prepared, datetime], exc: Exception) -> Outcome:
        _, prepared, now = item
        return shunt_mail(session, prepared.delivery, exc, now)  # type: ignore[arg-type]

    # Intake allocates many short-lived objects and few cycles: a full collection
    # every few hundred mails is plenty, and the start-up heap need not be scanned.
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
    replies.write(frame(("ready", None)))
    replies.flush()
    while received := incoming.next_group():
        # Parsed before the transaction, each under the budget: a group that is run again
        # (a savepoint per mail) does not parse twice, and no lock waits on a parse.
        prepared = prepare_all(
            [d for _, d, _ in received], config.cpu_budget, config.memory_budget_mb
        )
        group = [(seq, p, now) for (seq, _, now), p in zip(received, prepared, strict=True)]
        del received
        try:
            results: list[Outcome | BaseException] = commit_group(sessions, group, work, shunt)
        except Exception:
            results = [DATABASE_AWAY] * len(group)
        for (seq, _, _), result in zip(group, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("deferring a mail: %s", result)
                result = DATABASE_AWAY
            replies.write(frame((seq, result)))
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
        while len(self._buf) - at >= LENGTH.size:
            (length,) = LENGTH.unpack_from(self._buf, at)
            end = at + LENGTH.size + length
            if end > len(self._buf):
                break
            frames.append(pickle.loads(self._buf[at + LENGTH.size : end]))
            at = end
        del self._buf[:at]
        return frames


if __name__ == "__main__":
    sys.exit(_child())
