"""A decision's notices become outbox rows, in the transaction of the change.

The state machine names what the customer should hear (``created``,
``status``, ``operator_reply`` …); this module decides whether and where it
goes — notify on, an address that does not bounce — and freezes what the
template will need into the row's context, so the mail tells what was true
when the change happened. Threading headers are chosen here too: the
customer's mail client must show the notification in the ticket's thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from gateway.desk.model import Decision, Status
from gateway.mail.subject import format_token
from gateway.store import outbox, repo
from gateway.store.tables import Customer, Message, Outbox, Ticket

# RFC 3834: an answer to a customer's mail is "auto-replied"; what a timer or
# an operator's action causes is "auto-generated"; an operator's own words are not automatic.
AUTO_SUBMITTED = {
    "created": "auto-replied",
    "reopened": "auto-replied",
    "follow_up": "auto-replied",
    "locked_follow_up": "auto-replied",
    "duplicate": "auto-replied",
    "confirm_address": "auto-replied",
    "status": "auto-generated",
    "auto_closed": "auto-generated",
    "reminder": "auto-generated",
    "operator_reply": "no",
}


@dataclass(frozen=True)
class NoticeRules:
    """What notices need from the settings, as plain values (picklable for the writer)."""

    support: str
    domain: str
    secret: bytes = field(repr=False)
    token_format: str = "[#{number}]"
    reopen_days: int = 30
    limit: outbox.RateLimit = field(default_factory=outbox.RateLimit)


def enqueue_notices(
    session: Session,
    number: int,
    decision: Decision,
    rules: NoticeRules,
    now: datetime,
    *,
    trigger_id: str | None = None,
    extra: dict | None = None,
) -> list[int]:
    """Outbox rows for the decision's notices; the ids of those written."""
    written: list[int] = []
    for kind in decision.notices:
        context = dict(extra or {})
        if kind == "status" and decision.changes:
            change = decision.changes[-1]
            context.setdefault("old_status", change.from_.value if change.from_ else "")
            context.setdefault("new_status", change.to.value)
            context.setdefault("reason", change.reason)
        row = notify(session, number, kind, rules, now, trigger_id=trigger_id, extra=context)
        if row is not None:
            written.append(row)
    return written


def notify(
    session: Session,
    number: int,
    kind: str,
    rules: NoticeRules,
    now: datetime,
    *,
    trigger_id: str | None = None,
    extra: dict | None = None,
    to_address: str | None = None,
) -> int | None:
    """One notification of ``kind`` about ticket ``number``; None when notify is off."""
    conn = session.connection()
    ticket = conn.execute(_TICKET, {"number": number}).first()
    if ticket is None:
        return None
    customer_name = ticket.customer_name
    address = to_address or ticket.notify_address
    if not address or (to_address is None and not ticket.notify):
        return None
    locale = ticket.locale or "ru"
    status = Status(ticket.status)
    context = {
        "ticket": {
            "number": ticket.id,
            "subject": ticket.subject,
            "token": format_token(ticket.id, rules.token_format),
            "status": status.value,
            "status_label": status.label(locale),
        },
        "customer_name": customer_name or "",
        "support_address": rules.support,
        "locale": locale,
        "window_days": rules.reopen_days,
        **(extra or {}),
    }
    for key in ("old_status", "new_status"):
        if context.get(key):
            context[f"{key}_label"] = Status(context[key]).label(locale)
    if kind == "created":
        context.setdefault("text", "")  # the dispatcher adds matching FAQ entries
    if kind == "status":
        context.setdefault("reason", "")
    root, previous = _thread_of(session, number)
    in_reply_to = trigger_id or previous or root
    references = list(dict.fromkeys(r for r in (root, previous, trigger_id) if r))
    message_id = outbox.new_message_id(rules.domain)
    hold = None
    if ticket.notify_bounced and to_address is None:
        hold = (
            f"not sent: {address} bounced ({ticket.notify_bounced}); "
            "change the ticket's notify address to resume"
        )
    row_id, _ = outbox.enqueue(
        session,
        ticket_id=number,
        kind=kind,
        to_address=address,
        locale=locale,
        context=context,
        auto_submitted=AUTO_SUBMITTED.get(kind, "auto-generated"),
        message_id=message_id,
        now=now,
        in_reply_to=in_reply_to,
        references=references,
        limit=rules.limit,
        hold=hold,
    )
    repo.remember_thread_id(session, message_id, number)
    return row_id


_TICKET = (
    select(
        Ticket.id,
        Ticket.subject,
        Ticket.status,
        Ticket.locale,
        Ticket.notify,
        Ticket.notify_address,
        Ticket.notify_bounced,
        Customer.name.label("customer_name"),
    )
    .join(Customer, Customer.id == Ticket.customer_id)
    .where(Ticket.id == bindparam("number"))
)
_ROOT = (
    select(Message.message_id)
    .where(Message.ticket_id == bindparam("number"), Message.message_id.is_not(None))
    .order_by(Message.id)
    .limit(1)
)
_PREVIOUS = (
    select(Outbox.message_id)
    .where(Outbox.ticket_id == bindparam("number"))
    .order_by(Outbox.id.desc())
    .limit(1)
)


def _thread_of(session: Session, number: int) -> tuple[str | None, str | None]:
    """(the first Message-ID of the ticket, our latest notification's Message-ID)."""
    conn = session.connection()
    root = conn.execute(_ROOT, {"number": number}).scalar()
    previous = conn.execute(_PREVIOUS, {"number": number}).scalar()
    return root, previous
