"""SQLite's WAL is copied back by serve, not by the intake writer's commits (issue 16).

The WAL index (``<db>-shm``) says how many frames the log holds (``mxFrame``) and
how many of them are already in the database file (``nBackfill``): read here
as SQLite lays it out, so the tests see what SQLite did, not what we meant.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from gateway.store import checkpoint, db
from gateway.testing import running_gateway
from tests.helpers import mail, send


def _log(database: Path) -> tuple[int, int]:
    """(frames in the log, frames copied into the database file)."""
    index = Path(f"{database}-shm").read_bytes()[:136]
    return struct.unpack_from("=I", index, 16)[0], struct.unpack_from("=I", index, 96)[0]


def _fill(engine, commits: int = 1500) -> None:
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (x BLOB)")
    for _ in range(commits):  # some 4,500 pages: past SQLite's 1,000-page checkpoint
        with engine.begin() as c:
            c.exec_driver_sql("INSERT INTO t VALUES (randomblob(3000))")


def test_an_engine_without_checkpoints_leaves_the_whole_log_to_checkpoint(tmp_path):
    database = tmp_path / "writer.db"
    engine = db.make_engine(f"sqlite:///{database}", checkpoints=False)
    _fill(engine)
    logged, copied = _log(database)
    assert logged > 1000 and copied == 0  # no commit copied anything back
    busy, in_log, done = checkpoint.checkpoint(engine)
    assert (busy, in_log, done) == (0, logged, logged)
    assert _log(database) == (logged, logged)
    engine.dispose()


def test_an_ordinary_engine_still_checkpoints_on_its_own(tmp_path):
    """A command (``helpdesk ingest``, an import) runs without serve: SQLite's own
    checkpoint keeps its log short."""
    database = tmp_path / "command.db"
    engine = db.make_engine(f"sqlite:///{database}")
    _fill(engine)
    logged, _ = _log(database)
    assert logged < 1100
    engine.dispose()


@pytest.mark.writer_process
def test_serve_copies_back_what_the_writer_child_logged(settings, clock):
    if not settings.db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL checkpoints by itself")
    database = Path(settings.db_url.removeprefix("sqlite:///"))
    with running_gateway(settings, clock, operator_copies=False) as gw:
        for n in range(10):
            assert send(gw, mail(subject=f"Заявка {n}", sender=f"c{n}@example.ru"))[0] == 250
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            logged, copied = _log(database)
            if logged and copied == logged:
                break
            time.sleep(0.1)
        assert logged and copied == logged, (logged, copied)
