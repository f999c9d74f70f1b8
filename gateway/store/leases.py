"""The dispatcher's side of the outbox: lease due rows, read them, mark what became of each.

A row is *leased* by pushing its ``next_attempt_at`` a lease into the future (with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several instances never lease the same
row), sent, then marked. A crash between sending and marking leaves the row pending;
when the lease runs out it is sent again with the same Message-ID (guarantee 4).
Writing the rows is :mod:`gateway.store.outbox`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.orm import Session

from gateway.store.outbox import FAILED, OUTBOX, PENDING, SENT
from gateway.store.tables import Attachment


def lease_due(session: Session, now: datetime, lease: timedelta, batch: int = 100) -> list[int]:
    """The ids of due rows, leased to the caller: nobody else sends them until the lease ends.

    The dispatcher reads the leased rows (:func:`leased`) in a transaction of their
    own, which on SQLite takes no lock: reading a few hundred rows with their
    contexts inside the write transaction held the lock mails wait on for their 250
    (issue 16).
    """
    # Earliest due first, in the order of ix_outbox_due (state, next_attempt_at, then the
    # row id every index ends with), so the index alone answers it and LIMIT stops early.
    # By id alone, SQLite with ANALYZE's statistics scanned the whole outbox in id order
    # instead (12-37 ms at 100,000 rows, inside a write transaction, every poll).
    due = (
        select(OUTBOX.c.id)
        .where(OUTBOX.c.state == PENDING, OUTBOX.c.next_attempt_at <= now)
        .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(due))
    if ids:
        session.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(ids))
            .values(next_attempt_at=now + lease, attempts=OUTBOX.c.attempts + 1)
        )
    return ids


def leased(session: Session, ids: Sequence[int]) -> list[Row]:
    """The rows :func:`lease_due` leased: what building their mails needs, by id.

    Only those columns: a worker reads every row it sends, and converting the
    timestamps that building never looks at, with a join for nothing, was a third of
    reading a chunk of 100 (issue 16)."""
    if not ids:
        return []
    c = OUTBOX.c
    rows = session.execute(
        select(
            c.id,
            c.kind,
            c.locale,
            c.context,
            c.to_address,
            c.message_id,
            c.in_reply_to,
            c.references,
            c.auto_submitted,
            c.created_at,
            c.attempts,
        )
        .where(c.id.in_(ids))
        .order_by(c.id)
    ).all()
    return list(rows)


def heads(session: Session, ids: Sequence[int]) -> list[Row]:
    """Each leased row's id, attempts and address, by id: what marking it needs. Not the
    context: whoever builds the mail reads that (:func:`leased`)."""
    if not ids:
        return []
    query = (
        select(OUTBOX.c.id, OUTBOX.c.attempts, OUTBOX.c.to_address)
        .where(OUTBOX.c.id.in_(ids))
        .order_by(OUTBOX.c.id)
    )
    return list(session.execute(query).all())


def attachments_for(
    session: Session, wanted: dict[int, list[int]]
) -> dict[int, tuple[tuple[str, str, bytes], ...]]:
    """For each outbox row id, the stored files it carries (by attachment id)."""
    ids = sorted({i for group in wanted.values() for i in group})
    found = {
        a.id: (a.filename, a.content_type, a.data)
        for a in session.execute(
            select(
                Attachment.id, Attachment.filename, Attachment.content_type, Attachment.data
            ).where(Attachment.id.in_(ids))
        )
    }
    return {row: tuple(found[i] for i in group if i in found) for row, group in wanted.items()}


def count_due(session: Session, now: datetime) -> int:
    """Pending rows whose time has come: what the dispatcher would claim now."""
    return session.execute(
        select(func.count())
        .select_from(OUTBOX)
        .where(OUTBOX.c.state == PENDING, OUTBOX.c.next_attempt_at <= now)
    ).scalar_one()


_MARK_SENT = (
    update(OUTBOX)
    .where(OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(state=SENT, sent_at=bindparam("now"), last_error=None)
)


def mark_sent(session: Session, row_ids: Sequence[int], now: datetime) -> None:
    """A batch's sent rows in one statement.

    One UPDATE per row (built anew each time) held SQLite's write lock for about
    a tenth of a second per batch of 300, and every mail arriving meanwhile waited
    for it before its 250: the DATA→250 p99 at half load was 160 ms (issue 16).
    """
    if row_ids:
        session.connection().execute(_MARK_SENT, {"ids": list(row_ids), "now": now})


def mark_retry(session: Session, row_id: int, at: datetime, error: str) -> None:
    session.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == row_id, OUTBOX.c.state == PENDING)
        .values(next_attempt_at=at, last_error=error)
    )


def mark_failed(session: Session, row_id: int, error: str) -> None:
    session.execute(
        update(OUTBOX).where(OUTBOX.c.id == row_id).values(state=FAILED, last_error=error)
    )
