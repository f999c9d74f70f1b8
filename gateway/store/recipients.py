"""What addressing a notification needs to know about its ticket, in one query.

The ticket's notify address, language, bounce mark, subject and status, the
customer's name, and the two Message-IDs a new mail threads under: the
ticket's first (the customer's request) and our latest notification.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Row, bindparam, select
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
# Each ticket's first Message-ID and our latest notification's: the thread the
# mail joins. Correlated LIMIT 1 lookups walk the ticket_id indexes, so a ticket
# with thousands of messages costs what a new one does.
_ROOT = (
    select(Message.message_id)
    .where(Message.ticket_id == Ticket.id, Message.message_id.is_not(None))
    .order_by(Message.id)
    .limit(1)
    .scalar_subquery()
)
_LATEST = (
    select(Outbox.message_id)
    .where(Outbox.ticket_id == Ticket.id)
    .order_by(Outbox.id.desc())
    .limit(1)
    .scalar_subquery()
)
_MANY = (
    select(*_COLUMNS, _ROOT.label("root_id"), _LATEST.label("previous_id"))
    .join(Customer, Customer.id == Ticket.customer_id)
    .where(Ticket.id.in_(bindparam("numbers", expanding=True)))
)


def ticket_head(session: Session, number: int) -> Row | None:
    """A ticket's subject, status, language and customer's name (mail to operators)."""
    return conn(session).execute(_ONE, {"number": number}).first()


def ticket_heads(session: Session, numbers: Sequence[int]) -> dict[int, Row]:
    """number → head with its notify settings and thread ids, for mail to customers."""
    rows = conn(session).execute(_MANY, {"numbers": sorted(set(numbers))})
    return {r.id: r for r in rows}
