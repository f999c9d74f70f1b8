"""What the scheduler reads and writes: due tickets claimed in batches, decisions applied.

Every job can run in several ``helpdesk serve`` processes at once against one
PostgreSQL (DESIGN §5): a batch is selected ``FOR UPDATE SKIP LOCKED``, so two
instances take disjoint tickets, and every write is also conditional on the
state it was decided from, so a row changed meanwhile is left alone. On
SQLite the single write lock (``BEGIN IMMEDIATE``) gives the same. Candidates
are found through ``ix_tickets_status_awaiting`` and
``ix_tickets_reopenable_closed``: a sweep reads the due tickets, not the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from gateway.desk.model import OPEN_STATUSES, Decision, Status, TicketState
from gateway.store import tickets
from gateway.store.tables import Customer, Message, Ticket

T = Ticket.__table__
M = Message.__table__
AC = Status.AWAITING_CUSTOMER.value
AO = Status.AWAITING_OPERATOR.value

_STATE = (T.c.id, T.c.status, T.c.customer_id, T.c.awaiting_since, T.c.closed_at, T.c.locked)


def _claim(session: Session, stmt, batch: int) -> Sequence[Row]:  # type: ignore[no-untyped-def]
    return session.execute(stmt.limit(batch).with_for_update(skip_locked=True, of=T)).all()


def waiting_for_customer(
    session: Session,
    before: datetime,
    batch: int,
    *,
    since: datetime | None = None,
    unreminded: bool = False,
) -> list[TicketState]:
    """Tickets in ``awaiting_customer`` since before ``before`` (and not before ``since``)."""
    stmt = (
        select(*_STATE, T.c.reminded_for, T.c.duplicate_of)
        .where(T.c.status == AC, T.c.awaiting_since < before)
        .order_by(T.c.awaiting_since)
    )
    if since is not None:
        stmt = stmt.where(T.c.awaiting_since >= since)
    if unreminded:
        stmt = stmt.where(or_(T.c.reminded_for.is_(None), T.c.reminded_for != T.c.awaiting_since))
    return [tickets.state_of(r) for r in _claim(session, stmt, batch)]


_APPLY = (
    update(T)
    .where(T.c.id == bindparam("number"), T.c.status == bindparam("was"))
    .values(
        status=bindparam("v_status"),
        awaiting_since=bindparam("v_awaiting_since"),
        closed_at=bindparam("v_closed_at"),
        reopenable=True,
        updated_at=bindparam("v_now"),
    )
)
_REMINDED = (
    update(T)
    .where(T.c.id == bindparam("number"))
    .values(reminded_for=T.c.awaiting_since, updated_at=bindparam("v_now"))
)


def apply_timer(
    session: Session, decided: Sequence[tuple[TicketState, Decision]], now: datetime
) -> None:
    """Write a batch of the timer's decisions: moves with their events, reminder marks."""
    moves = [(s, d) for s, d in decided if d.changed]
    if moves:
        session.connection().execute(
            _APPLY,
            [
                {
                    "number": s.number,
                    "was": s.status.value,
                    "v_status": d.status.value,
                    "v_awaiting_since": d.awaiting_since,
                    "v_closed_at": d.closed_at,
                    "v_now": now,
                }
                for s, d in moves
            ],
        )
        tickets.add_events_many(
            session,
            [(s.number, c) for s, d in moves for c in d.changes],
            actor="system:scheduler",
            at=now,
        )
    reminded = [s.number for s, d in decided if "reminder" in d.notices]
    if reminded:
        session.connection().execute(_REMINDED, [{"number": n, "v_now": now} for n in reminded])


def lapse_reopen_window(session: Session, closed_before: datetime, batch: int) -> list[int]:
    """Mark tickets closed before ``closed_before`` as no longer reopenable; their numbers."""
    stmt = (
        select(T.c.id)
        .where(T.c.reopenable.is_(True), T.c.closed_at < closed_before)
        .order_by(T.c.closed_at)
    )
    numbers = [r.id for r in _claim(session, stmt, batch)]
    if numbers:
        session.execute(
            update(T).where(T.c.id.in_(numbers), T.c.reopenable.is_(True)).values(reopenable=False)
        )
    return numbers


_WAITING = select(T.c.awaiting_since).where(T.c.status == AC).order_by(T.c.awaiting_since)
_OLDEST = {
    "waiting": _WAITING.limit(1),
    "closed": select(T.c.closed_at)
    .where(T.c.reopenable.is_(True), T.c.closed_at.is_not(None))
    .order_by(T.c.closed_at)
    .limit(1),
}


def oldest(session: Session, which: Sequence[str] = tuple(_OLDEST)) -> dict[str, datetime | None]:
    """The moments the timer jobs count from, for the ticket that will be due first:
    ``waiting`` (the longest awaiting_customer: auto-close) and ``closed`` (the longest
    closed and still reopenable: the window's lapse). An index-ordered read of one row each;
    ``helpdesk import`` asks this to run a job only when something is due.
    """
    conn = session.connection()
    return {name: conn.execute(_OLDEST[name]).scalar() for name in which}


@dataclass(frozen=True)
class Unanswered:
    number: int
    subject: str
    customer: str
    status: Status
    awaiting_since: datetime
    escalated_at: datetime | None
    nudges: int = 0


def unanswered(
    session: Session, waiting_before: datetime, escalated_before: datetime, batch: int
) -> list[Unanswered]:
    """Tickets awaiting an operator since before ``waiting_before``, not listed lately.

    Oldest first: the digest puts the longest wait on top.
    """
    stmt = (
        select(
            T.c.id,
            T.c.subject,
            T.c.status,
            T.c.awaiting_since,
            T.c.escalated_at,
            Customer.email,
        )
        .join(Customer, Customer.id == T.c.customer_id)
        .where(
            T.c.status == AO,
            T.c.awaiting_since < waiting_before,
            or_(T.c.escalated_at.is_(None), T.c.escalated_at <= escalated_before),
        )
        .order_by(T.c.awaiting_since, T.c.id)
    )
    rows = _claim(session, stmt, batch)
    if not rows:
        return []
    nudges = dict(
        session.execute(
            select(M.c.ticket_id, func.count())
            .where(M.c.ticket_id.in_([r.id for r in rows]), M.c.flags.contains("nudge"))
            .group_by(M.c.ticket_id)
        )
        .tuples()
        .all()
    )
    return [
        Unanswered(
            r.id,
            r.subject,
            r.email,
            Status(r.status),
            r.awaiting_since,
            r.escalated_at,
            nudges.get(r.id, 0),
        )
        for r in rows
    ]


def mark_escalated(session: Session, numbers: Sequence[int], now: datetime) -> None:
    if numbers:
        session.execute(update(T).where(T.c.id.in_(list(numbers))).values(escalated_at=now))


def recent_requests(session: Session, since: datetime) -> list[Row]:
    """(number, customer) of the open tickets with a request fingerprint made since ``since``.

    Read through ``ix_tickets_created``; the texts are fetched only for the
    customers who have two or more (:func:`requests_of`).
    """
    return list(
        session.execute(
            select(T.c.id, T.c.customer_id)
            .where(
                T.c.created_at >= since,
                T.c.request_digest.is_not(None),
                T.c.duplicate_of.is_(None),
                T.c.status.in_([s.value for s in OPEN_STATUSES]),
            )
            .order_by(T.c.id)
        )
    )


def recent_requests_of_customers(session: Session, since: datetime, fresh: datetime) -> list[Row]:
    """Like :func:`recent_requests`, for the customers with a ticket made since ``fresh``
    only (issue 14.7): both sides read through ``ix_tickets_created``."""
    owners = select(T.c.customer_id).where(T.c.created_at >= fresh).distinct()
    return list(
        session.execute(
            select(T.c.id, T.c.customer_id)
            .where(
                T.c.customer_id.in_(owners.scalar_subquery()),
                T.c.created_at >= since,
                T.c.request_digest.is_not(None),
                T.c.duplicate_of.is_(None),
                T.c.status.in_([s.value for s in OPEN_STATUSES]),
            )
            .order_by(T.c.id)
        )
    )


def requests_of(session: Session, numbers: Sequence[int]) -> dict[int, tuple[str, str]]:
    """number → (request digest, normalized request)."""
    if not numbers:
        return {}
    rows = session.execute(
        select(T.c.id, T.c.request_digest, T.c.request_norm).where(T.c.id.in_(list(numbers)))
    )
    return {r.id: (r.request_digest, r.request_norm or "") for r in rows}


def lock_pair(session: Session, earlier: int, later: int) -> dict[int, Row]:
    """Lock both tickets, lower number first (two instances never deadlock)."""
    rows = session.execute(
        select(*_STATE, T.c.reminded_for, T.c.duplicate_of)
        .where(T.c.id.in_((earlier, later)))
        .order_by(T.c.id)
        .with_for_update()
    ).all()
    return {r.id: r for r in rows}
