"""A database outage is two log lines, not a traceback a second (issue 14, item 5)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.helpers import until, wake_dispatcher


def _passes(gw) -> int:
    dispatcher = gw.gateway.dispatcher
    assert dispatcher is not None
    return dispatcher.passes


def test_the_dispatcher_says_once_that_the_database_is_away_and_once_that_it_is_back(
    gateway, caplog, tmp_path: Path
):
    """While the database is away the dispatcher backs off quietly: one line, then one more."""
    url = make_url(gateway.gateway.settings.db_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("the outage is made by taking SQLite's file away")
    caplog.set_level(logging.INFO)
    db = Path(url.database or "")
    kept = tmp_path / "kept"
    kept.mkdir()
    files = [p for p in db.parent.iterdir() if p.name.startswith(db.name)]
    for f in files:
        shutil.move(f, kept / f.name)
    db.mkdir()  # a directory where the file was: every new connection fails
    gateway.gateway.engine.dispose()
    start = _passes(gateway)

    def passes_made(n: int) -> bool:
        wake_dispatcher(gateway)
        return _passes(gateway) >= start + n

    assert until(lambda: passes_made(5))
    db.rmdir()
    for f in files:
        shutil.move(kept / f.name, f)
    gateway.gateway.engine.dispose()
    assert until(lambda: passes_made(7) and "back after" in caplog.text)
    mine = [r.getMessage() for r in caplog.records if r.name == "gateway.notify"]
    assert len(mine) == 2, mine
    assert "the database is unavailable" in mine[0] and "the database is back" in mine[1]
    assert not [r for r in caplog.records if r.exc_info and r.name == "gateway.notify"]
