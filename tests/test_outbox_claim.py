"""The dispatcher's poll stays cheap however much was sent before (issue 16).

It runs four times a second inside a write transaction. Ordered by id alone, SQLite
with ANALYZE's statistics (``PRAGMA optimize`` gathers them too) scanned the whole
outbox in id order: 12–37 ms at 100,000 sent rows, every poll.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, text

from gateway.store import db, leases, outbox


def test_the_poll_reads_the_due_index_not_the_sent_rows_after_analyze(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    db.upgrade(engine)
    sessions = db.session_factory(engine)
    now = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    letters = [
        outbox.Letter(
            ticket_id=None,
            kind="digest_answer",
            to_address=f"op{i % 3}@example.com",
            locale="ru",
            context={},
            auto_submitted="auto-replied",
            message_id=f"<{i}.helpdesk@example.com>",
            limited=False,
        )
        for i in range(3000)
    ]
    with db.transaction(sessions) as session:
        ids = [row for row, _ in outbox.enqueue_many(session, letters, now)]
        session.execute(
            text("UPDATE outbox SET state = 'sent' WHERE id <= :last"), {"last": ids[-4]}
        )
        session.execute(  # the last three: one due later than the others, which were retried
            text("UPDATE outbox SET next_attempt_at = :later WHERE id = :id"),
            {"later": now + timedelta(seconds=30), "id": ids[-3]},
        )
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")

    seen: list[tuple[str, object]] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    with db.transaction(sessions) as session:
        due = leases.lease_due(session, now + timedelta(minutes=1), timedelta(minutes=5), 2)
        claimed = leases.leased(session, due)
    event.remove(engine, "before_cursor_execute", remember)

    assert [r.id for r in claimed] == [ids[-2], ids[-1]]  # a batch of two: the earliest due
    statement, parameters = next((s, p) for s, p in seen if "LIMIT" in s)
    with engine.connect() as conn:
        plan = " ".join(
            str(row[-1])
            for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        )
    assert "ix_outbox_due" in plan and "SCAN outbox" not in plan, plan
    engine.dispose()


def test_reading_the_leased_rows_leaves_the_write_lock_to_intake(tmp_path: Path) -> None:
    """Every other SQLite transaction begins IMMEDIATE, taking the write lock mails wait
    on for their 250; the dispatcher reads its leased rows (a few hundred, with their
    contexts) in one that takes none (issue 16)."""
    path = tmp_path / "h.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    sessions = db.session_factory(engine)
    now = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    with db.transaction(sessions) as session:
        outbox.enqueue(
            session,
            now=now,
            ticket_id=None,
            kind="digest_answer",
            to_address="anna@example.com",
            locale="ru",
            context={},
            auto_submitted="auto-replied",
            message_id="<1.helpdesk@example.com>",
            limited=False,
        )
        ids = leases.lease_due(session, now, timedelta(minutes=5))
    intake = sqlite3.connect(path, timeout=0.5, isolation_level=None)
    with db.reading(sessions) as session:
        (row,) = leases.leased(session, ids)
        intake.execute("BEGIN IMMEDIATE")  # would wait, then fail, if the read held the lock
        intake.execute("UPDATE outbox SET last_error = 'written meanwhile'")
        intake.execute("COMMIT")
    assert row.to_address == "anna@example.com" and row.attempts == 1
    intake.close()
    engine.dispose()
