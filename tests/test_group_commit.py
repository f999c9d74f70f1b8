"""Group commit keeps its promise on a real database: one bad mail is shunted alone,
and nothing is reported stored from a transaction the database threw away."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from gateway.store import db, raw
from gateway.store.group_commit import commit_group
from gateway.store.sql import RAW, AbortedTransaction, conn

NOW = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    db.upgrade(engine)
    yield engine
    engine.dispose()


def _keep(session: Session, key: str) -> int | None:
    return raw.store_raw(
        session,
        idem_key=key,
        received_at=NOW,
        source="smtp",
        mail_from="client@example.ru",
        rcpt_tos=["support@example.com"],
        data=key.encode(),
    )


def _work(session: Session, key: str) -> str:
    """Keep the mail; a mail named "bad" then breaks on a row the database refuses."""
    _keep(session, key)
    if key.startswith("bad"):
        conn(session).execute(  # the same unique key again, without ON CONFLICT
            insert(RAW),
            {
                "idem_key": key,
                "received_at": NOW,
                "source": "smtp",
                "rcpt_tos": "[]",
                "size": 0,
                "data": b"",
                "state": "processed",
                "attempts": 1,
            },
        )
    return f"stored {key}"


def _shunt(session: Session, key: str, exc: Exception) -> str:
    _keep(session, "shunted:" + key)
    return f"shunted {key}"


def _keys(engine: Engine) -> list[str]:
    with engine.connect() as c:
        return sorted(c.scalars(select(RAW.c.idem_key)))


def test_a_bad_mail_in_a_group_is_shunted_alone(engine: Engine) -> None:
    """A mail whose rows the database refuses goes to quarantine without its half-written
    rows, and the mails around it in the same group are committed as answered. (Before
    the fix no SAVEPOINT was ever emitted: PostgreSQL aborted the whole group yet reported
    its first mail stored; SQLite committed the bad mail's half.)"""
    sessions: sessionmaker[Session] = db.session_factory(engine)

    results = commit_group(sessions, ["a", "bad-b", "c"], _work, _shunt)

    assert results == ["stored a", "shunted bad-b", "stored c"]
    assert _keys(engine) == ["a", "c", "shunted:bad-b"]


def test_a_commit_the_database_aborted_is_never_reported_stored(
    database_url: str, engine: Engine
) -> None:
    """PostgreSQL turns COMMIT after a swallowed error into a silent ROLLBACK. The group
    must then fail as a whole (the senders get 451 and retry), never answer "stored"."""
    if not database_url.startswith("postgresql"):
        pytest.skip("only PostgreSQL aborts a transaction on an error")
    sessions: sessionmaker[Session] = db.session_factory(engine)

    def swallowing(session: Session, key: str) -> str:
        _keep(session, key)
        with contextlib.suppress(Exception):  # a bug that hides an error from its owner
            conn(session).execute(text("SELECT 1/0"))
        return f"stored {key}"

    with pytest.raises(AbortedTransaction), sessions() as session, session.begin():
        swallowing(session, "x")
    assert _keys(engine) == []
