"""Reads for people, not for rules: ticket lists, a ticket with its history, held mails.

What ``views`` turns into the JSON and text of DESIGN §6 (and the page's
tables). Nothing here decides anything; intake and the jobs read through the
narrower, indexed queries of ``tickets``, ``messages`` and ``timers``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from gateway.store.tables import Attachment, Customer, Event, Message, Ticket


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
