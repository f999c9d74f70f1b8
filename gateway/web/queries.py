"""The pages' reads and small writes, blocking (called from a worker thread).

Each returns plain values for a template. Customer reads go through
``store.portal``, whose queries name the customer, and the customer's view of a
ticket drops what is not theirs to see: internal notes, strangers' held mails,
operators' rejected commands, the decision traces.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from gateway import views
from gateway.desk import dedup, windows
from gateway.desk.model import Policy, Status
from gateway.mail.subject import thread_subject
from gateway.store import contact, listings, people, portal, tickets
from gateway.web import timeline, words
from gateway.web.backend import WebConfig
from gateway.web.i18n import translator

HIDDEN_FLAGS = frozenset({"note", "held", "rejected", "auto"})
PREVIEW_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def when_text(value: datetime | str | None) -> str:
    """One way to write a moment: UTC, to the minute."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def when(value: datetime | str | None) -> Markup | str:
    """A moment on a page: ``<time datetime>`` in UTC, which the page's script rewrites in
    the browser's own zone; without script it still reads right (issue 15)."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return Markup('<time datetime="%s">%s</time>') % (value.isoformat(), when_text(value))


def size_label(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def previewed(a: dict[str, Any]) -> bool:
    """Shown as an image: a raster type (the bytes are checked again when served)."""
    return str(a["content_type"]).lower() in PREVIEW_TYPES


@dataclass(frozen=True)
class Customer:
    id: int
    email: str
    name: str


def customer(session: Session, customer_id: int) -> Customer | None:
    row = people.customer_by_id(session, customer_id)
    return Customer(row.id, row.email, row.name) if row else None


def my_tickets(session: Session, customer_id: int, locale: str) -> list[dict[str, Any]]:
    return [
        {
            "number": r.id,
            "subject": r.subject,
            "status": r.status,
            "status_label": Status(r.status).label(locale),
            "open": not Status(r.status).is_closed,
            "updated": when(r.updated_at),
        }
        for r in portal.customer_tickets(session, customer_id)
    ]


def customer_ticket(
    session: Session, customer_id: int, number: int, locale: str, policy: Policy, now: datetime
) -> dict[str, Any] | None:
    """The ticket as its customer sees it; None when it is not theirs (or does not exist)."""
    if not portal.owns_ticket(session, customer_id, number):
        return None
    detail = views.ticket_detail(session, number, policy=policy, now=now)
    assert detail is not None
    notify_row = contact.ticket_notify(session, number)
    shown = []
    for m in detail["messages"]:
        flags = set(m["flags"])
        if m["author"] not in ("customer", "operator") or flags & HIDDEN_FLAGS:
            continue
        if m["author"] == "operator" and not (m["text"] or "").strip():
            continue
        if timeline.is_close_command(m):
            continue
        shown.append(
            {
                "kind": "message",
                "created_at": m["created_at"],
                "author": m["author"],
                "when": when(m["created_at"]),
                "text": (m["text"] or "").strip(),
                "nudge": "nudge" in flags,
                "collapsed": "duplicate" in flags and m["author"] == "customer",
                "attachments": [
                    {**a, "size_label": size_label(a["size"]), "preview": previewed(a)}
                    for a in m["attachments"]
                ],
            }
        )
    status = Status(detail["status"])
    return {
        "ticket": {
            **detail,
            "status_label": status.label(locale),
            "created": when(detail["created_at"]),
            "updated": when(detail["updated_at"]),
            "pending_address": notify_row["notify_pending_address"],
            "bounced": bool(notify_row["notify_bounced"]),
        },
        "messages": timeline.merge(
            shown,
            detail["events"],
            listings.merged_from(session, number),
            side="customer",
            locked=bool(detail["locked"]),
            auto_days=policy.auto_close_days,
            t=translator(locale),
        ),
    }


def ticket_state(detail: dict[str, Any], config: WebConfig, now: datetime) -> tuple[str, str]:
    """("open" | "reopenable" | "merged" | "final", until): what the customer can still do.

    A merged ticket's conversation continues in the ticket it was merged into;
    a locked one, or one closed longer than the reopen window, only by a new
    ticket linked to it (what a mail to it would make, too).
    """
    status = Status(detail["status"])
    if not status.is_closed:
        return "open", ""
    closed = detail["closed_at"]
    if detail["duplicate_of"]:
        return "merged", ""
    if detail["locked"] or closed is None:
        return "final", ""
    until = windows.reopen_until(datetime.fromisoformat(closed), config.policy)
    return ("reopenable", when_text(until)) if now <= until else ("final", "")


def open_duplicate(
    session: Session, customer_id: int, subject: str, text: str, config: WebConfig, now: datetime
) -> dict[str, Any] | None:
    """One of the customer's open tickets that intake would take this request into.

    The same normalization, candidates and threshold as intake's duplicate
    check (``desk.dedup``, ``store.tickets.dedup_candidates``), so the page asks exactly
    when mail would have been joined.
    """
    request = dedup.request_text(thread_subject(subject) or subject, text.strip())
    if not request:
        return None
    since = windows.repeat_since(now, config.policy)
    candidates = [
        dedup.Candidate(r.id, True, r.request_digest, r.request_norm)
        for r in tickets.dedup_candidates(session, customer_id, since)
        if not Status(r.status).is_closed
    ]
    match = dedup.best_match(request, candidates, config.policy.duplicate_similarity)
    if match is None:
        return None
    state = tickets.ticket_state(session, match.number)
    assert state is not None
    return {
        "number": match.number,
        "subject": tickets.ticket_subject(session, match.number),
        "status": state.status.value,
        "status_label": state.status.label(config.locale),
    }


def send_signin_link(
    session: Session,
    address: str,
    link: str,
    locale: str,
    config: WebConfig,
    now: datetime,
    requester: str = "",
) -> str | None:
    """Queue the sign-in mail (the outbox: retried; limited per address and per requester,
    issue 13); why it was not sent, or None. The link is in the row; whoever can read the
    database has it anyway."""
    if config.notices is None:
        return None
    minutes = int(config.signin_lifetime.total_seconds() // 60)
    subject = {"ru": "Вход в техподдержку", "en": "Sign in to support"}[locale]
    context = {"subject": subject, "link": link, "minutes": minutes}
    _, held = config.notices.signin_link(
        session, address, locale, context, now, requester=requester
    )
    return held


def operator_ticket(
    session: Session, number: int, locale: str, policy: Policy, now: datetime
) -> dict[str, Any] | None:
    detail = views.ticket_detail(session, number, policy=policy, now=now)
    if detail is None:
        return None
    for m in detail["messages"]:
        m["when"] = when(m["created_at"])
        m["trace"] = [words.sentence(line, locale) for line in m["trace"]]
        m["flag_labels"] = [words.flag(f, locale) for f in m["flags"]]
        for a in m["attachments"]:
            a["size_label"] = size_label(a["size"])
            a["preview"] = previewed(a)
    for e in detail["events"]:
        e["when"] = when(e["at"])
        e["from_label"] = words.status(e["from"], locale) if e["from"] else ""
        e["to_label"] = words.status(e["to"], locale)
        e["actor_label"] = words.actor(e["actor"], locale)
        e["reason_label"] = words.sentence(e["reason"], locale)
    detail["status_label"] = Status(detail["status"]).operator_label(locale)
    detail["waiting"] = when(detail["awaiting_since"])
    conversation = [m for m in detail["messages"] if not timeline.is_close_command(m)]
    return {
        "ticket": detail,
        "messages": timeline.merge(
            conversation,
            detail["events"],
            listings.merged_from(session, number),
            side="operator",
            locked=bool(detail["locked"]),
            auto_days=policy.auto_close_days,
            t=translator(locale),
        ),
        "events": detail["events"],
        "assignee": portal.assignee_name(session, number),
        "person": people.customer_by_id(session, detail["customer_id"]),
        "others": [
            {
                "number": r.id,
                "subject": r.subject,
                "status": r.status,
                "status_label": Status(r.status).operator_label(locale),
            }
            for r in portal.customer_tickets(session, detail["customer_id"])[:11]
            if r.id != number
        ][:10],
        "can": possible(detail),
        "waiting_label": Status.AWAITING_CUSTOMER.operator_label(locale),
        "in_progress_label": Status.IN_PROGRESS.operator_label(locale),
        "assignee_id": detail["assignee_id"],
        "operators": [
            {"id": o.id, "name": o.name, "email": o.email} for o in people.operators(session)
        ],
    }


def possible(detail: dict[str, Any]) -> dict[str, bool]:
    """What the ticket's page offers: what the machine would allow (desk.machine), so a
    locked ticket shows only notes and a closed one no reply, take or close."""
    closed = Status(detail["status"]).is_closed
    locked = bool(detail["locked"])
    merged = detail["duplicate_of"] is not None
    return {
        "reply": not closed,
        "take": not closed,
        "assign": not locked and not merged,
        "status": not closed,
        "close": not closed,
        "merge": not closed,
        "admin_close": not locked and not merged,
    }


def held(session: Session) -> list[dict[str, Any]]:
    return [{**m, "when": when(m["created_at"])} for m in views.held(session)]


def quarantine(session: Session) -> list[dict[str, Any]]:
    rows = views.quarantine(session, everything=False)
    return [
        {**r, "when": when(r["received_at"]), "size_label": size_label(r["size"])} for r in rows
    ]
