"""The transactional outbox (guarantee 4): write, claim, mark.

A row is written in the same transaction as the change that caused it, so a
notification exists exactly when its change does. The dispatcher *claims* due
rows by pushing their ``next_attempt_at`` a lease into the future (with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several instances never claim the
same row), sends, then marks them sent. A crash between sending and marking
leaves the row pending; when the lease runs out it is sent again with the same
Message-ID — at worst a duplicate that mail clients fold, never a lost mail.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.orm import Session

from gateway.store.tables import Outbox, Ticket

OUTBOX = Outbox.__table__
PENDING, SENT, FAILED, SUPPRESSED = "pending", "sent", "failed", "suppressed"


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` automatic mails to one address per ``window`` (guarantee 5)."""

    count: int = 10
    window: timedelta = timedelta(minutes=180)


# Held-back mails count too: a flood stays held until it pauses for a whole window.
# LIMIT keeps the work bounded however long the flood has run. Statements are
# built once: intake writes a row for nearly every mail.
_RECENT_AUTOMATIC = select(func.count()).select_from(
    select(OUTBOX.c.id)
    .where(
        OUTBOX.c.to_address == bindparam("address"),
        OUTBOX.c.created_at > bindparam("since"),
        OUTBOX.c.auto_submitted != "no",
    )
    .limit(bindparam("cap"))
    .subquery()
)
_INSERT = OUTBOX.insert().returning(OUTBOX.c.id)


def new_message_id(domain: str) -> str:
    return make_msgid(domain=domain)


def enqueue(
    session: Session,
    *,
    ticket_id: int | None,
    kind: str,
    to_address: str,
    locale: str,
    context: dict,
    auto_submitted: str,
    message_id: str,
    now: datetime,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    limit: RateLimit | None = None,
    hold: str | None = None,
) -> tuple[int, str]:
    """Write one notification; (row id, state). One held back — ``hold`` says why, or it
    is automatic and over the limit — is kept as ``suppressed`` with the reason, so an
    operator can see what was not sent."""
    state, error = (SUPPRESSED, hold) if hold else (PENDING, None)
    conn = session.connection()
    if hold is None and auto_submitted != "no" and limit is not None:
        recent = conn.execute(
            _RECENT_AUTOMATIC,
            {"address": to_address.lower(), "since": now - limit.window, "cap": limit.count},
        ).scalar()
        if (recent or 0) >= limit.count:
            state = SUPPRESSED
            minutes = int(limit.window.total_seconds() // 60)
            error = (
                f"rate limit: {limit.count} automatic mails to {to_address} "
                f"in the last {minutes} minutes already"
            )
    row_id = conn.execute(
        _INSERT,
        {
            "ticket_id": ticket_id,
            "kind": kind,
            "to_address": to_address.lower(),
            "locale": locale,
            "message_id": message_id,
            "in_reply_to": in_reply_to,
            "references": " ".join(references),
            "context": json.dumps(context, ensure_ascii=False),
            "auto_submitted": auto_submitted,
            "state": state,
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": error,
            "created_at": now,
            "sent_at": None,
        },
    ).scalar_one()
    return row_id, state


def claim(session: Session, now: datetime, lease: timedelta, batch: int = 100) -> list[Row]:
    """Due rows, leased to the caller: nobody else sends them until the lease ends."""
    due = (
        select(OUTBOX.c.id)
        .where(OUTBOX.c.state == PENDING, OUTBOX.c.next_attempt_at <= now)
        .order_by(OUTBOX.c.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(due))
    if not ids:
        return []
    session.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id.in_(ids))
        .values(next_attempt_at=now + lease, attempts=OUTBOX.c.attempts + 1)
    )
    rows = session.execute(
        select(OUTBOX, Ticket.notify_address, Ticket.notify_bounced)
        .outerjoin(Ticket, Ticket.id == OUTBOX.c.ticket_id)
        .where(OUTBOX.c.id.in_(ids))
        .order_by(OUTBOX.c.id)
    ).all()
    return list(rows)


def mark_sent(session: Session, row_id: int, now: datetime) -> None:
    session.execute(
        update(OUTBOX).where(OUTBOX.c.id == row_id).values(state=SENT, sent_at=now, last_error=None)
    )


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


def retry(session: Session, row_id: int, now: datetime) -> Row | None:
    """A failed or suppressed row goes back to pending, its attempts counted afresh."""
    found = session.execute(select(OUTBOX).where(OUTBOX.c.id == row_id)).first()
    if found is None or found.state in (PENDING, SENT):
        return found
    session.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == row_id)
        .values(state=PENDING, attempts=0, next_attempt_at=now, last_error=None)
    )
    return session.execute(select(OUTBOX).where(OUTBOX.c.id == row_id)).first()


def rows(session: Session, *, failed_only: bool = False, limit: int = 200) -> Sequence[Row]:
    query = select(OUTBOX).order_by(OUTBOX.c.id.desc()).limit(limit)
    if failed_only:
        query = query.where(OUTBOX.c.state.in_((FAILED, SUPPRESSED)))
    return session.execute(query).all()


def mark_bouncing(session: Session, row_id: int, reason: str) -> int | None:
    """A hard bounce of row ``row_id``: stop mailing its ticket's notify address.

    Returns the ticket number when the bounced address is still the ticket's
    notify address (a bounce of an address since replaced changes nothing).
    """
    row = session.execute(
        select(OUTBOX.c.ticket_id, OUTBOX.c.to_address).where(OUTBOX.c.id == row_id)
    ).first()
    if row is None or row.ticket_id is None:
        return None
    changed = session.execute(
        update(Ticket)
        .where(Ticket.id == row.ticket_id, func.lower(Ticket.notify_address) == row.to_address)
        .values(notify_bounced=reason)
    )
    return row.ticket_id if changed.rowcount else None  # type: ignore[attr-defined]


def ticket_of(session: Session, row_id: int) -> int | None:
    return session.scalar(select(OUTBOX.c.ticket_id).where(OUTBOX.c.id == row_id))
