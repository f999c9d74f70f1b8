"""What addressing a notification needs to know about its ticket, in one query.

The ticket's notify address, language, bounce mark, subject and status, the
customer's name; and, per recipient, the Message-IDs of the ticket's mail that
recipient holds, which a new mail threads under (issue 13).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.orm import Session

from gateway.store.sql import conn
from gateway.store.tables import Customer, Message, Outbox, Ticket

_COLUMNS = (
    Ticket.id,
    Ticket.subject,
    Ticket.status,
    Ticket.locale,
    Ticket.notify,
    Ticket.notify_address,
    Ticket.notify_bounced,
    Customer.name.label("customer_name"),
)
_ONE = (
    select(*_COLUMNS)
    .join(Customer, Customer.id == Ticket.customer_id)
    .where(Ticket.id == bindparam("number"))
)
_MANY = (
    select(*_COLUMNS)
    .join(Customer, Customer.id == Ticket.customer_id)
    .where(Ticket.id.in_(bindparam("numbers", expanding=True)))
)


def ticket_head(session: Session, number: int) -> Row | None:
    """A ticket's subject, status, language and customer's name (mail to operators)."""
    return conn(session).execute(_ONE, {"number": number}).first()


def ticket_heads(session: Session, numbers: Sequence[int]) -> dict[int, Row]:
    """number → head with its notify settings, for mail to customers."""
    rows = conn(session).execute(_MANY, {"numbers": sorted(set(numbers))})
    return {r.id: r for r in rows}


# Built once: making these two selects cost four times running them, and every mail
# with three operators asks twice (issue 16).
_OURS = select(
    Outbox.ticket_id, Outbox.to_address, Outbox.message_id, Outbox.created_at, Outbox.id
).where(
    Outbox.ticket_id.in_(bindparam("numbers", expanding=True)),
    Outbox.to_address.in_(bindparam("addresses", expanding=True)),
    Outbox.state.in_(("pending", "sent")),
)
_THEIRS = select(
    Message.ticket_id,
    func.lower(Message.author_address),
    Message.message_id,
    Message.created_at,
    Message.id,
).where(
    Message.ticket_id.in_(bindparam("numbers", expanding=True)),
    func.lower(Message.author_address).in_(bindparam("addresses", expanding=True)),
    Message.message_id.is_not(None),
)


def chains(session: Session, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], list[str]]:
    """(ticket, address) → the Message-IDs of that ticket's mail this address holds, oldest
    first: what we sent there (not what was held back or failed) and what it sent us.

    Threading per recipient (issue 13) names only these: a mail client groups a
    conversation by ids it has, and an id it never saw splits the thread.
    """
    if not pairs:
        return {}
    params = {
        "numbers": sorted({n for n, _ in pairs}),
        "addresses": sorted({a.lower() for _, a in pairs}),
    }
    found: dict[tuple[int, str], list[tuple[object, int, int, str]]] = {}
    db = conn(session)
    for side, query in ((1, _OURS), (0, _THEIRS)):  # at one moment: their mail, then our answer
        for number, address, message_id, at, pk in db.execute(query, params):
            found.setdefault((number, address.lower()), []).append((at, side, pk, message_id))
    return {key: [m for *_, m in sorted(rows)] for key, rows in found.items()}
