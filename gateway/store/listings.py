"""Reads for people, not for rules: ticket lists, a ticket with its history, held mails.

What ``views`` turns into the JSON and text of DESIGN §6 (and the page's
tables). Nothing here decides anything; intake and the jobs read through the
narrower, indexed queries of ``tickets``, ``messages`` and ``timers``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, and_, case, func, or_, select
from sqlalchemy.orm import Session

from gateway.store.tables import Attachment, Customer, Event, Message, Operator, RawMail, Ticket


def list_tickets(
    session: Session, *, status: str | None = None, customer: str | None = None
) -> Sequence[Row]:
    stmt = (
        select(Ticket, Customer.email.label("customer_email"))
        .join(Customer, Customer.id == Ticket.customer_id)
        .order_by(Ticket.id)
    )
    if status:
        stmt = stmt.where(Ticket.status == status)
    if customer:
        if customer.isdigit():
            stmt = stmt.where(Customer.id == int(customer))
        else:
            stmt = stmt.where(Customer.email == customer.lower())
    return session.execute(stmt).all()


def ticket_with_history(
    session: Session, number: int
) -> tuple[Row, list[Message], list[Event], dict[int, list[Row]]] | None:
    """The ticket's row, its messages and events in order, and each message's files."""
    head = session.execute(
        select(Ticket, Customer.email.label("customer_email"))
        .join(Customer, Customer.id == Ticket.customer_id)
        .where(Ticket.id == number)
    ).first()
    if head is None:
        return None
    messages = list(
        session.execute(select(Message).where(Message.ticket_id == number).order_by(Message.id))
        .scalars()
        .all()
    )
    events = list(
        session.execute(select(Event).where(Event.ticket_id == number).order_by(Event.id))
        .scalars()
        .all()
    )
    files: dict[int, list[Row]] = {}
    if messages:
        for row in session.execute(
            select(
                Attachment.id,
                Attachment.message_pk,
                Attachment.filename,
                Attachment.content_type,
                Attachment.size,
                Attachment.sha256,
            ).where(Attachment.message_pk.in_([m.id for m in messages]))
        ):
            files.setdefault(row.message_pk, []).append(row)
    return head, messages, events, files


def held_messages(session: Session) -> Sequence[Message]:
    """Strangers' mails waiting for an operator's decision, oldest first."""
    return (
        session.execute(
            select(Message)
            .where(Message.author_kind == "stranger", Message.flags.contains("held"))
            .order_by(Message.id)
        )
        .scalars()
        .all()
    )


def count_rows(session: Session, table: Any) -> int:
    return session.execute(select(func.count()).select_from(table)).scalar_one()


# --- the operators' queue (issue 15) -------------------------------------------------------

OPEN = ("awaiting_operator", "in_progress", "awaiting_customer")
CLOSED = ("closed", "closed_no_reply")
# view → the statuses it shows; "mine" and "unassigned" are open tickets of one kind.
VIEWS: dict[str, tuple[str, ...]] = {
    "needs_us": ("awaiting_operator", "in_progress"),
    "waiting": ("awaiting_customer",),
    "closed": CLOSED,
    "all": OPEN + CLOSED,
    "mine": OPEN,
    "unassigned": OPEN,
}
SORTS = ("waiting", "updated", "number")
COUNT_CAP = 10_000  # counts above this show as "10000+": a count never reads 100,000 rows


@dataclass(frozen=True)
class QueueQuery:
    """What the queue page asks: a view, a sort, filters, and the keyset cursor."""

    view: str = "needs_us"
    sort: str = "waiting"
    customer_id: int | None = None
    assignee: int | str | None = None  # operator id, "none", or None for anyone
    me: int | None = None
    after: str = ""  # the cursor of the last row of the previous page
    limit: int = 50


def _where(q: QueueQuery, view: str) -> list[Any]:
    cond: list[Any] = [Ticket.status.in_(VIEWS[view])]
    if view == "mine":
        cond.append(Ticket.assignee_id == (q.me if q.me is not None else -1))
    elif view == "unassigned":
        cond.append(Ticket.assignee_id.is_(None))
    if q.customer_id is not None:
        cond.append(Ticket.customer_id == q.customer_id)
    if q.assignee == "none":
        cond.append(Ticket.assignee_id.is_(None))
    elif isinstance(q.assignee, int):
        cond.append(Ticket.assignee_id == q.assignee)
    return cond


def _keyset(sort: str, after: str) -> tuple[list[Any], list[Any]]:
    """ORDER BY and the WHERE that continues after ``after`` (never OFFSET: page 50 costs
    what page 1 does). A cursor is "<value>|<id>", the value empty for NULL."""
    if sort == "number":
        order: list[Any] = [Ticket.id.desc()]
    elif sort == "updated":
        order = [Ticket.updated_at.desc(), Ticket.id.desc()]
    else:
        order = [Ticket.awaiting_since.is_(None), Ticket.awaiting_since, Ticket.id]
    value, _, ident = after.rpartition("|")
    if not ident.isdigit():
        return order, []
    last = int(ident)
    if sort == "number":
        return order, [Ticket.id < last]
    try:
        moment = datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None
    except ValueError:
        return order, []
    if sort == "updated":
        if moment is None:
            return order, [Ticket.id < last]
        return order, [
            or_(
                Ticket.updated_at < moment,
                and_(Ticket.updated_at == moment, Ticket.id < last),
            )
        ]
    if moment is None:
        return order, [Ticket.awaiting_since.is_(None), Ticket.id > last]
    return order, [
        or_(
            Ticket.awaiting_since > moment,
            and_(Ticket.awaiting_since == moment, Ticket.id > last),
            Ticket.awaiting_since.is_(None),
        )
    ]


def cursor_of(row: Row, sort: str) -> str:
    """The cursor that continues after ``row`` in ``sort`` order."""
    if sort == "number":
        return f"|{row.id}"
    value = row.updated_at if sort == "updated" else row.awaiting_since
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat() if value else ""
    return f"{text}|{row.id}"


def queue_page(session: Session, q: QueueQuery) -> list[Row]:
    """One page of the queue (``limit`` + 1 rows: the extra one says a next page exists).

    The page's numbers are chosen first, from the tickets table alone; only then are
    their customers, assignees and nudges looked up. Joined in one statement, a sorted
    view (the 1,500 tickets that need us at 100,000, by waiting time) had every row's
    nudge count computed before the sort kept 51 of them."""
    order, after = _keyset(q.sort if q.sort in SORTS else "waiting", q.after)
    page = (
        select(Ticket.id)
        .where(*_where(q, q.view if q.view in VIEWS else "needs_us"), *after)
        .order_by(*order)
        .limit(q.limit + 1)
        .subquery()
    )
    nudges = (
        select(func.count())
        .where(Message.ticket_id == Ticket.id, Message.flags.contains("nudge"))
        .scalar_subquery()
    )
    stmt = (
        select(
            Ticket.id,
            Ticket.subject,
            Ticket.status,
            Ticket.awaiting_since,
            Ticket.updated_at,
            Ticket.customer_id,
            Customer.email.label("customer"),
            Operator.name.label("assignee"),
            nudges.label("nudges"),
        )
        .join(page, page.c.id == Ticket.id)
        .join(Customer, Customer.id == Ticket.customer_id)
        .outerjoin(Operator, Operator.id == Ticket.assignee_id)
        .order_by(*order)
    )
    return list(session.execute(stmt).all())


def queue_counts(session: Session, q: QueueQuery) -> dict[str, int]:
    """How many tickets each view holds under the same filters: the open views from one
    grouped scan of the open tickets, the closed ones counted up to COUNT_CAP + 1 (a
    count never reads 100,000 rows; the page shows "10000+")."""
    base = QueueQuery(customer_id=q.customer_id, assignee=q.assignee, me=q.me)
    me = q.me if q.me is not None else -1
    # Grouped by status alone, the rows come in the status index's order; grouping by
    # the assignee tests too made the database sort every open ticket first.
    unassigned = func.sum(case((Ticket.assignee_id.is_(None), 1), else_=0))
    mine = func.sum(case((Ticket.assignee_id == me, 1), else_=0))
    rows = session.execute(
        select(Ticket.status, unassigned, mine, func.count())
        .where(*_where(base, "mine")[:1], *_where(base, "all")[1:])
        .group_by(Ticket.status)
    ).all()
    counts = dict.fromkeys(VIEWS, 0)
    for status, nobody, of_mine, n in rows:
        counts["needs_us" if status in VIEWS["needs_us"] else "waiting"] += n
        counts["unassigned"] += nobody or 0
        counts["mine"] += of_mine or 0
    capped = select(Ticket.id).where(*_where(base, "closed")).limit(COUNT_CAP + 1).subquery()
    counts["closed"] = session.scalar(select(func.count()).select_from(capped)) or 0
    counts["all"] = counts["needs_us"] + counts["waiting"] + counts["closed"]
    return counts


def inbox_counts(session: Session) -> dict[str, int]:
    """The header's numbers: held strangers' mails and quarantined raw mails."""
    held = session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.author_kind == "stranger", Message.flags.contains("held"))
    )
    quarantined = session.scalar(
        select(func.count()).select_from(RawMail).where(RawMail.state == "quarantined")
    )
    return {"held": held or 0, "quarantine": quarantined or 0}


def tickets_brief(session: Session, numbers: Sequence[int]) -> dict[int, Row]:
    """Number, subject, status, customer and last change of some tickets (search results)."""
    if not numbers:
        return {}
    rows = session.execute(
        select(
            Ticket.id,
            Ticket.subject,
            Ticket.status,
            Ticket.updated_at,
            Customer.email.label("customer"),
        )
        .join(Customer, Customer.id == Ticket.customer_id)
        .where(Ticket.id.in_(list(numbers)))
    ).all()
    return {r.id: r for r in rows}


def message_texts(session: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Message.id, Message.text).where(Message.id.in_(list(ids))))
    return {r.id: r.text for r in rows}


def merged_from(session: Session, number: int) -> list[Row]:
    """Tickets merged into ``number`` and when: the target's side of a merge (issue 15)."""
    return list(
        session.execute(
            select(Ticket.id, Ticket.closed_at)
            .where(Ticket.duplicate_of == number)
            .order_by(Ticket.closed_at, Ticket.id)
        ).all()
    )
