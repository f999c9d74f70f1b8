"""The queries of the support page (issue 7): a customer's tickets, the operators'
queue, one attachment, and the used-marker of one-time sign-in links.

Every customer-facing read names the customer in its WHERE clause, so a page
asking for someone else's ticket gets nothing back, not a row to filter later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, case, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.desk.model import OPEN_STATUSES
from gateway.store.tables import (
    Attachment,
    Customer,
    Message,
    Operator,
    Ticket,
    WebSignin,
)

OPEN_VALUES = [s.value for s in OPEN_STATUSES]


def use_signin(session: Session, nonce: str, customer_id: int, now: datetime) -> bool:
    """Mark a sign-in link used; False when it was used before (single use)."""
    try:
        with session.begin_nested():
            session.execute(
                insert(WebSignin).values(nonce=nonce, customer_id=customer_id, used_at=now)
            )
    except IntegrityError:
        return False
    return True


def signin_used(session: Session, nonce: str) -> bool:
    return session.get(WebSignin, nonce) is not None


def ticket_numbers(session: Session, customer_id: int) -> set[int]:
    return set(session.scalars(select(Ticket.id).where(Ticket.customer_id == customer_id)))


def customer_by_id(session: Session, customer_id: int) -> Row | None:
    return session.execute(
        select(Customer.id, Customer.email, Customer.name, Customer.verified).where(
            Customer.id == customer_id
        )
    ).first()


def customer_tickets(session: Session, customer_id: int) -> Sequence[Row]:
    """The customer's tickets: open ones first, then the most recently changed."""
    is_open = case((Ticket.status.in_(OPEN_VALUES), 0), else_=1)
    return session.execute(
        select(Ticket.id, Ticket.subject, Ticket.status, Ticket.updated_at, Ticket.duplicate_of)
        .where(Ticket.customer_id == customer_id)
        .order_by(is_open, Ticket.updated_at.desc(), Ticket.id.desc())
    ).all()


def owns_ticket(session: Session, customer_id: int, number: int) -> bool:
    return (
        session.scalar(
            select(Ticket.id).where(Ticket.id == number, Ticket.customer_id == customer_id)
        )
        is not None
    )


def attachment(session: Session, attachment_id: int, *, customer_id: int | None) -> Row | None:
    """One file, with the ticket it belongs to; a customer's only from their own ticket
    and not from a message they cannot see (a stranger's held mail, an internal note)."""
    stmt = (
        select(
            Attachment.filename,
            Attachment.content_type,
            Attachment.data,
            Message.ticket_id,
        )
        .join(Message, Message.id == Attachment.message_pk)
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(Attachment.id == attachment_id)
    )
    if customer_id is not None:
        stmt = stmt.where(
            Ticket.customer_id == customer_id,
            Message.author_kind.in_(["customer", "operator"]),
            ~Message.flags.contains("note"),
        )
    return session.execute(stmt).first()


def assignee_name(session: Session, number: int) -> str | None:
    return session.scalar(
        select(Operator.name)
        .join(Ticket, Ticket.assignee_id == Operator.id)
        .where(Ticket.id == number)
    )
