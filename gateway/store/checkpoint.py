"""SQLite's WAL copied back into the database file by serve, not by a mail's COMMIT.

In WAL mode SQLite checkpoints on the commit that takes the log past 1,000 pages:
that commit then copies some 4 MB into the database file and fsyncs it, and the
mails in its group, with every mail queued behind them for its 250, wait. Under
issue 16's load that was every few seconds in the intake writer, and the slowest
hundredth of DATA→250 was those waits. The writer child therefore turns the
automatic checkpoint off (``db.make_engine(checkpoints=False)``), and serve runs
one every second from a thread of its own. PASSIVE: it never waits for the writer
or a reader, and copies only what no reader still needs; a later one copies the
rest. Without serve (a command, ``helpdesk ingest``), SQLite checkpoints as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import Engine

log = logging.getLogger("gateway.checkpoint")

EVERY = 1.0  # seconds: the log stays around a second of mail long


def checkpoint(engine: Engine) -> tuple[int, int, int]:
    """One PASSIVE checkpoint on a connection of its own: (busy, frames in the log,
    frames copied into the database file)."""
    raw = engine.raw_connection()
    try:  # autocommit (db._sqlite_pragmas): a checkpoint cannot run inside a transaction
        busy, logged, copied = raw.driver_connection.execute(  # type: ignore[union-attr]
            "PRAGMA wal_checkpoint(PASSIVE)"
        ).fetchone()
        return busy, logged, copied
    finally:
        raw.close()


async def run(engine: Engine, stop: asyncio.Event, every: float = EVERY) -> None:
    """Until ``stop``: a checkpoint, then ``every`` seconds' rest. A failure (the file
    away: the dispatcher and intake say so) is tried again at the next turn."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(checkpoint, engine)
        except Exception as exc:
            log.debug("checkpoint failed: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
