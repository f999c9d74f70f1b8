"""Where a ticket's notifications go, set by an operator (``helpdesk ticket notify``) or
by its customer on the page (``#notify`` and ``#notify-to`` are intake's, by mail)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.operations import Refused
from gateway.operations.ports import Tell
from gateway.store import contact, tickets


def looks_like_address(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and local and "." in domain and " " not in value and "\n" not in value)


def set_by_operator(
    session: Session, number: int, *, on: bool | None, address: str | None
) -> dict[str, object]:
    """An operator's change: taken as said (they answer for it), the bounce mark cleared
    when the address changes."""
    if address is not None and ("@" not in address or " " in address):
        raise Refused(f"{address!r} is not an e-mail address")
    if not tickets.ticket_exists(session, number):
        raise Refused(f"there is no ticket #{number}; see `helpdesk tickets`")
    contact.set_notify(session, number, notify=on, address=address)
    return {"number": number, **contact.ticket_notify(session, number)}


def set_by_customer(
    session: Session,
    number: int,
    *,
    on: bool,
    address: str,
    own_address: str,
    tell: Tell | None,
    now: datetime,
) -> str | None:
    """The customer's change from the page; the address needing confirmation, if any.

    The same rules as the mail commands: an address other than the customer's
    own (or the ticket's current one) is used only after a reply from it
    confirms it (``#notify-to``), so nobody can point a ticket's mail at a
    third party by typing an address.
    """
    current = contact.ticket_notify(session, number)
    address = address.strip().lower() or str(current["notify_address"] or own_address)
    if address in (own_address, current["notify_address"]):
        if address == current["notify_address"]:
            contact.set_notify(session, number, notify=on)
        else:
            contact.set_notify(session, number, notify=on, address=address)
        return None
    contact.set_notify(session, number, notify=on, pending_address=address)
    if tell is not None:
        tell.one(
            session,
            number,
            "confirm_address",
            now,
            to_address=address,
            extra={"address": address},
        )
    return address
