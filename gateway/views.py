"""What the CLI (and later the web page) shows: tickets and queues as plain data.

The JSON shapes are the contract of DESIGN §6 — scripts and monitoring read
them — so they are built here, once, and the text output is derived from them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.desk.model import Status
from gateway.store import repo

CLOSED_VALUES = frozenset(s.value for s in Status if s.is_closed)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def ticket_summary(ticket: Any, customer_email: str, locale: str = "en") -> dict[str, Any]:
    status = Status(ticket.status)
    return {
        "number": ticket.id,
        "status": status.value,
        "status_label": status.label(locale),
        "subject": ticket.subject,
        "customer": customer_email,
        "customer_id": ticket.customer_id,
        "notify": ticket.notify,
        "notify_address": ticket.notify_address,
        "locale": ticket.locale,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "awaiting_since": _iso(ticket.awaiting_since),
        "closed_at": _iso(ticket.closed_at),
        "locked": ticket.locked,
        "reopenable": ticket.status in CLOSED_VALUES and ticket.reopenable,
        "follow_up_of": ticket.follow_up_of,
        "duplicate_of": ticket.duplicate_of,
        "assignee_id": ticket.assignee_id,
        "reminded_for": _iso(ticket.reminded_for),
        "escalated_at": _iso(ticket.escalated_at),
    }


def tickets(session: Session, *, status: str | None, customer: str | None) -> list[dict[str, Any]]:
    return [
        ticket_summary(row.Ticket, row.customer_email)
        for row in repo.list_tickets(session, status=status, customer=customer)
    ]


def ticket_detail(session: Session, number: int) -> dict[str, Any] | None:
    found = repo.ticket_with_history(session, number)
    if found is None:
        return None
    head, messages, events, files = found
    out = ticket_summary(head.Ticket, head.customer_email)
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
        for r in repo.raw_mails(session, states)
    ]


def render_ticket_text(t: dict[str, Any]) -> str:
    """The human form of ``ticket show``: header, messages with their traces, history."""
    lines = [
        f"Ticket #{t['number']}: {t['subject']}",
        f"  status:   {t['status']} ({t['status_label']})" + ("  [locked]" if t["locked"] else ""),
        f"  customer: {t['customer']}",
        f"  notify:   {'on, to ' + (t['notify_address'] or '?') if t['notify'] else 'off'}",
        f"  created:  {t['created_at']}   awaiting since: {t['awaiting_since'] or '-'}"
        f"   closed: {t['closed_at'] or '-'}",
    ]
    if t["follow_up_of"]:
        lines.append(f"  linked to #{t['follow_up_of']} (follow-up or a repeat of it)")
    if t["duplicate_of"]:
        lines.append(f"  merged into #{t['duplicate_of']}: its messages are there")
    for m in t.get("messages", []):
        flags = f" [{', '.join(m['flags'])}]" if m["flags"] else ""
        if "duplicate" in m["flags"]:  # collapsed: the same content is shown above
            lines += ["", f"--- message {m['id']} from {m['author']}{flags}: collapsed"]
            lines += [f"    why: {step}" for step in m["trace"][-1:]]
            continue
        lines += ["", f"--- message {m['id']} from {m['author']} {m['author_address']}{flags}"]
        lines += [f"    why: {step}" for step in m["trace"]]
        lines += ["    " + line for line in (m["text"] or "").strip().splitlines()[:40]]
        for a in m["attachments"]:
            lines.append(
                f"    attachment: {a['filename']} ({a['content_type']}, {a['size']} bytes)"
            )
        if m["defects"]:
            lines.append(f"    defects: {'; '.join(m['defects'])}")
    if t.get("events"):
        lines += ["", "History:"]
        lines += [
            f"  {e['at']}  {e['from'] or '(new)'} → {e['to']}  by {e['actor']}: {e['reason']}"
            for e in t["events"]
        ]
    return "\n".join(lines)
