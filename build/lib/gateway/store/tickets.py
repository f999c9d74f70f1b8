"""Tickets: their state as the machine sees it, and the one way a decision is written.

Every change of a ticket's status is a :class:`~gateway.desk.model.Decision` of
``desk.machine.decide``; :func:`apply_decision` writes it with its audit rows,
whoever caused it (a mail, an operator, a merge). The scheduler writes its
batches through ``store.timers``, conditionally on the state it decided from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Row, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from gateway.desk.model import OPEN_STATUSES, Decision, Status, StatusChange, TicketState
from gateway.store.sql import EVENTS, MESSAGES, THREAD_IDS, TICKETS, conn

OPEN_VALUES = tuple(s.value for s in OPEN_STATUSES)

_TICKET_STATE = select(
    TICKETS.c.id,
    TICKETS.c.status,
    TICKETS.c.customer_id,
    TICKETS.c.awaiting_since,
    TICKETS.c.closed_at,
    TICKETS.c.locked,
    TICKETS.c.reminded_for,
    TICKETS.c.duplicate_of,
).where(TICKETS.c.id == bindparam("number"))
_TICKET_STATE_LOCKED = _TICKET_STATE.with_for_update()


def ticket_state(session: Session, number: int, *, for_update: bool = False) -> TicketState | None:
    stmt = _TICKET_STATE_LOCKED if for_update else _TICKET_STATE
    row = conn(session).execute(stmt, {"number": number}).first()
    return None if row is None else state_of(row)


def state_of(row: Row) -> TicketState:
    """A tickets row (with the columns of ``ticket_state``) as the machine sees it."""
    return TicketState(
        number=row.id,
        status=Status(row.status),
        customer_id=row.customer_id,
        awaiting_since=row.awaiting_since,
        closed_at=row.closed_at,
        locked=row.locked,
        reminded_for=row.reminded_for,
        merged_into=row.duplicate_of,
    )


def ticket_subject(session: Session, number: int) -> str:
    return session.scalar(select(TICKETS.c.subject).where(TICKETS.c.id == number)) or ""


_TICKET_EXISTS = select(TICKETS.c.id).where(TICKETS.c.id == bindparam("number"))


def ticket_exists(session: Session, number: int) -> bool:
    return conn(session).execute(_TICKET_EXISTS, {"number": number}).first() is not None


def open_numbers(session: Session, numbers: Sequence[int]) -> list[int]:
    """Which of these tickets are open, in the order given."""
    found: set[int] = set()
    for i in range(0, len(numbers), 500):
        chunk = numbers[i : i + 500]
        found.update(
            session.scalars(
                select(TICKETS.c.id).where(
                    TICKETS.c.id.in_(chunk), TICKETS.c.status.in_(OPEN_VALUES)
                )
            )
        )
    return [n for n in numbers if n in found]


_CREATE_TICKET = insert(TICKETS).returning(TICKETS.c.id)


def create_ticket(
    session: Session,
    *,
    subject: str,
    customer_id: int,
    decision: Decision,
    notify_address: str | None,
    locale: str,
    now: datetime,
    follow_up_of: int | None = None,
    request: tuple[str, str] | None = None,
    notify: bool = True,
) -> int:
    """A new ticket; ``request`` is its (digest, normalized text) for the duplicate catcher;
    ``notify`` False keeps the address for later but sends nothing (the customer asked)."""
    digest, normalized = request if request is not None else (None, None)
    return (
        conn(session)
        .execute(
            _CREATE_TICKET,
            {
                "subject": subject,
                "customer_id": customer_id,
                "status": decision.status.value,
                "notify": notify and notify_address is not None,
                "notify_address": notify_address,
                "locale": locale,
                "created_at": now,
                "updated_at": now,
                "awaiting_since": decision.awaiting_since,
                "closed_at": decision.closed_at,
                "locked": decision.locked,
                "follow_up_of": follow_up_of,
                "request_digest": digest,
                "request_norm": normalized,
            },
        )
        .scalar_one()
    )


_UPDATE_TICKET = (
    update(TICKETS)
    .where(TICKETS.c.id == bindparam("number"))
    .values(
        status=bindparam("v_status"),
        awaiting_since=bindparam("v_awaiting_since"),
        closed_at=bindparam("v_closed_at"),
        locked=bindparam("v_locked"),
        # a locked or merged ticket never reopens; any other is reopenable until the sweep
        # marks its window lapsed (a listing's shortcut: desk.windows decides)
        reopenable=bindparam("v_reopenable"),
        duplicate_of=func.coalesce(bindparam("v_merged_into"), TICKETS.c.duplicate_of),
        updated_at=bindparam("v_now"),
    )
)


def apply_decision(
    session: Session,
    number: int,
    was: TicketState,
    decision: Decision,
    *,
    actor: str,
    now: datetime,
    message_pk: int | None = None,
) -> None:
    """Write what ``decide`` said about an existing ticket: its new state, when anything
    moved, and one audit row per status change (the history is never rewritten)."""
    if decision.changed or decision.awaiting_since != was.awaiting_since:
        conn(session).execute(
            _UPDATE_TICKET,
            {
                "number": number,
                "v_status": decision.status.value,
                "v_awaiting_since": decision.awaiting_since,
                "v_closed_at": decision.closed_at,
                "v_locked": decision.locked,
                "v_reopenable": not (decision.locked or decision.merged_into is not None),
                "v_merged_into": decision.merged_into,
                "v_now": now,
            },
        )
    add_events(session, number, decision.changes, actor=actor, at=now, message_pk=message_pk)


def add_events(
    session: Session,
    ticket: int,
    changes: Iterable[StatusChange],
    *,
    actor: str,
    at: datetime,
    message_pk: int | None,
) -> None:
    add_events_many(
        session, [(ticket, c) for c in changes], actor=actor, at=at, message_pk=message_pk
    )


def add_events_many(
    session: Session,
    changes: Sequence[tuple[int, StatusChange]],
    *,
    actor: str,
    at: datetime,
    message_pk: int | None = None,
) -> None:
    """Audit rows, for one ticket or many at once (the scheduler's batches)."""
    rows = [
        {
            "ticket_id": ticket,
            "at": at,
            "actor": actor,
            "from_status": c.from_.value if c.from_ else None,
            "to_status": c.to.value,
            "reason": c.reason,
            "message_pk": message_pk,
        }
        for ticket, c in changes
    ]
    if rows:
        conn(session).execute(insert(EVENTS), rows)


def move_conversation(session: Session, source: int, target: int) -> int:
    """A merge's data half: ``source``'s messages and thread ids now belong to ``target``,
    so replies to its old mails thread there. Returns how many messages moved."""
    moved = session.execute(
        update(MESSAGES).where(MESSAGES.c.ticket_id == source).values(ticket_id=target)
    ).rowcount  # type: ignore[attr-defined]
    session.execute(
        update(THREAD_IDS).where(THREAD_IDS.c.ticket_id == source).values(ticket_id=target)
    )
    return int(moved or 0)


_DEDUP_CANDIDATES = (
    select(
        TICKETS.c.id,
        TICKETS.c.status,
        TICKETS.c.request_digest,
        TICKETS.c.request_norm,
    )
    .where(
        TICKETS.c.customer_id == bindparam("customer"),
        TICKETS.c.request_digest.is_not(None),
        TICKETS.c.duplicate_of.is_(None),
        or_(
            TICKETS.c.status.in_(OPEN_VALUES),
            TICKETS.c.closed_at >= bindparam("closed_since"),
        ),
    )
    # newest first through ix_tickets_customer_id: the scan stops at `most` rows
    .order_by(TICKETS.c.id.desc())
    .limit(bindparam("most"))
)


def dedup_candidates(
    session: Session, customer_id: int, closed_since: datetime, *, most: int = 20
) -> list[Row]:
    """The customer's newest open tickets and those closed since ``closed_since``.

    Read newest first through ``ix_tickets_customer_id`` and stopped at
    ``most``: the cost is a few index steps, however large the table grows,
    and even for a customer who has sent thousands of requests (issue 5).
    """
    params = {"customer": customer_id, "closed_since": closed_since, "most": most}
    return list(conn(session).execute(_DEDUP_CANDIDATES, params))


def set_assignee(session: Session, number: int, operator_id: int | None) -> None:
    session.execute(update(TICKETS).where(TICKETS.c.id == number).values(assignee_id=operator_id))
