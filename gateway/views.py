"""Every JSON shape of DESIGN §6, built once: tickets, a ticket's history, held mail,
the quarantine, the outbox, customers and operators.

Scripts and monitoring read these shapes, so the CLI's ``--json``, its text
(``cli.render``) and the support page's tables all start from them.
Whether a closed ticket can still be reopened is asked of ``desk.windows``
with the moment it is shown at, as intake would decide it then.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from gateway.desk import windows
from gateway.desk.model import Policy, Status
from gateway.store import listings, outbox, people, raw


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def ticket_summary(
    ticket: Any, customer_email: str, policy: Policy, now: datetime, locale: str = "en"
) -> dict[str, Any]:
    status = Status(ticket.status)
    reopenable = windows.reopenable(
        status,
        ticket.closed_at,
        locked=ticket.locked,
        merged=ticket.duplicate_of is not None,
        now=now,
        policy=policy,
    )
    return {
        "number": ticket.id,
        "status": status.value,
        "status_label": status.label(locale),
        "subject": ticket.subject,
        "customer": customer_email,
        "customer_id": ticket.customer_id,
        "notify": ticket.notify,
        "notify_address": ticket.notify_address,
        "notify_bounced": ticket.notify_bounced,  # why mail to it stopped (issue 13)
        "locale": ticket.locale,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "awaiting_since": _iso(ticket.awaiting_since),
        "closed_at": _iso(ticket.closed_at),
        "locked": ticket.locked,
        "reopenable": reopenable,
        "follow_up_of": ticket.follow_up_of,
        "duplicate_of": ticket.duplicate_of,
        "assignee_id": ticket.assignee_id,
        "reminded_for": _iso(ticket.reminded_for),
        "escalated_at": _iso(ticket.escalated_at),
    }


def tickets(
    session: Session, *, status: str | None, customer: str | None, policy: Policy, now: datetime
) -> list[dict[str, Any]]:
    return [
        ticket_summary(row.Ticket, row.customer_email, policy, now)
        for row in listings.list_tickets(session, status=status, customer=customer)
    ]


def ticket_detail(
    session: Session, number: int, *, policy: Policy, now: datetime
) -> dict[str, Any] | None:
    found = listings.ticket_with_history(session, number)
    if found is None:
        return None
    head, messages, events, files = found
    out = ticket_summary(head.Ticket, head.customer_email, policy, now)
    out["messages"] = [
        {
            "id": m.id,
            "author": m.author_kind,
            "author_address": m.author_address,
            "message_id": m.message_id,
            "subject": m.subject,
            "text": m.text,
            "flags": m.flags.split() if m.flags else [],
            "attachments": [
                {
                    "id": f.id,
                    "filename": f.filename,
                    "content_type": f.content_type,
                    "size": f.size,
                    "sha256": f.sha256,
                }
                for f in files.get(m.id, [])
            ],
            "trace": json.loads(m.trace),
            "defects": json.loads(m.defects),
            "sent_at": _iso(m.sent_at),
            "created_at": _iso(m.created_at),
        }
        for m in messages
    ]
    # An operator's answer that never reached the customer (issue 13): said, not hidden.
    out["undelivered"] = [
        {"id": r.id, "kind": r.kind, "to": r.to_address, "state": r.state, "why": r.last_error}
        for r in outbox.undelivered(session, number, ("operator_reply",))
    ]
    out["events"] = [
        {
            "at": _iso(e.at),
            "actor": e.actor,
            "from": e.from_status,
            "to": e.to_status,
            "reason": e.reason,
        }
        for e in events
    ]
    return out


def quarantine(session: Session, *, everything: bool) -> list[dict[str, Any]]:
    states = ("quarantined", "ignored") if everything else ("quarantined",)
    return [
        {
            "id": r.id,
            "received_at": _iso(r.received_at),
            "mail_from": r.mail_from,
            "rcpt_tos": json.loads(r.rcpt_tos),
            "size": r.size,
            "state": r.state,
            "reason": r.error,
            "attempts": r.attempts,
        }
        for r in raw.raw_mails(session, states)
    ]


def held(session: Session) -> list[dict[str, Any]]:
    """Strangers' mails waiting for an operator, oldest first (``helpdesk held list``)."""
    return [
        {
            "id": m.id,
            "ticket": m.ticket_id,
            "from": m.author_address,
            "subject": m.subject,
            "text": m.text,
            "created_at": _iso(m.created_at),
        }
        for m in listings.held_messages(session)
    ]


def outbox_row(r: Row) -> dict[str, Any]:
    return {
        "id": r.id,
        "ticket": r.ticket_id,
        "kind": r.kind,
        "to": r.to_address,
        "state": r.state,
        "attempts": r.attempts,
        "message_id": r.message_id,
        "last_error": r.last_error,
        "created_at": _iso(r.created_at),
        "next_attempt_at": _iso(r.next_attempt_at),
        "sent_at": _iso(r.sent_at),
    }


def outbox_rows(session: Session, *, failed_only: bool) -> list[dict[str, Any]]:
    """The newest notifications, or only the failed and suppressed (``helpdesk outbox``)."""
    return [outbox_row(r) for r in outbox.rows(session, failed_only=failed_only)]


def customers(session: Session) -> list[dict[str, Any]]:
    return [
        {
            "id": c.id,
            "email": c.email,
            "name": c.name,
            "verified": c.verified,
            "created_at": _iso(c.created_at),
        }
        for c in people.customers(session)
    ]


def operators(session: Session) -> list[dict[str, Any]]:
    return [
        {
            "id": o.id,
            "name": o.name,
            "email": o.email,
            "password": o.password_hash is not None,
            "created_at": _iso(o.created_at),
        }
        for o in people.operators(session)
    ]
