"""Where a ticket's notifications go: on or off, the address, one waiting for
confirmation (``#notify-to``), and the mark a hard bounce leaves on it."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gateway.store.sql import OUTBOX, TICKETS


def set_notify(
    session: Session,
    number: int,
    *,
    notify: bool | None = None,
    address: str | None = None,
    pending_address: str | None = None,
) -> None:
    """Change a ticket's notification settings; a new address clears its bounce mark."""
    values: dict[str, object] = {}
    if address is not None:  # a new address turns notices on, unless asked otherwise below
        values.update(notify_address=address.lower(), notify_bounced=None, notify=True)
        values["notify_pending_address"] = None
    if notify is not None:
        values["notify"] = notify
    if pending_address is not None:
        values["notify_pending_address"] = pending_address.lower()
    if values:
        session.execute(update(TICKETS).where(TICKETS.c.id == number).values(**values))


def ticket_notify(session: Session, number: int) -> dict[str, object]:
    row = session.execute(
        select(
            TICKETS.c.notify,
            TICKETS.c.notify_address,
            TICKETS.c.notify_pending_address,
            TICKETS.c.notify_bounced,
        ).where(TICKETS.c.id == number)
    ).one()
    return dict(row._mapping)


def confirm_notify_address(session: Session, number: int, sender: str) -> bool:
    """The pending address becomes the notify address when ``sender`` proves it: the
    address mail goes to now (a ``#notify-to`` by mail, issue 13) or, asked on the support
    page by a signed-in customer, the pending address itself. Which of the two was asked
    is in the signed confirmation address the reply came to."""
    row = session.execute(
        select(TICKETS.c.notify_pending_address, TICKETS.c.notify_address).where(
            TICKETS.c.id == number
        )
    ).first()
    if row is None or not row.notify_pending_address:
        return False
    if sender.lower() not in (row.notify_pending_address, (row.notify_address or "").lower()):
        return False
    set_notify(session, number, address=row.notify_pending_address)
    return True


def mark_bouncing(session: Session, row_id: int, reason: str) -> int | None:
    """A hard bounce of outbox row ``row_id``: stop mailing its ticket's notify address.

    Returns the ticket number when the bounced address is still the ticket's
    notify address (a bounce of an address since replaced changes nothing).
    """
    row = session.execute(
        select(OUTBOX.c.ticket_id, OUTBOX.c.to_address).where(OUTBOX.c.id == row_id)
    ).first()
    if row is None or row.ticket_id is None:
        return None
    changed = session.execute(
        update(TICKETS)
        .where(
            TICKETS.c.id == row.ticket_id, func.lower(TICKETS.c.notify_address) == row.to_address
        )
        .values(notify_bounced=reason)
    )
    return row.ticket_id if changed.rowcount else None  # type: ignore[attr-defined]
