"""A decision's notices become outbox rows, in the transaction of the change.

The state machine names what the customer should hear (``created``,
``status``, ``operator_reply`` …); this module decides whether and where it
goes — notify on, an address that does not bounce — and freezes what the
template will need into the row's context, so the mail tells what was true
when the change happened. Threading headers are chosen here too: the
customer's mail client must show the notification in the ticket's thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from gateway.desk.model import Decision, Status
from gateway.mail.subject import format_token
from gateway.store import outbox, repo
from gateway.store.tables import Customer, Message, Operator, Outbox, Ticket

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
    "possible_repeat": "auto-generated",
    "escalation": "auto-generated",
    "operator_message": "auto-generated",
    "command_error": "auto-replied",
    "stranger_held": "auto-generated",
    "held_notice": "auto-replied",
    "imported": "auto-generated",  # ``helpdesk import --notify-open``: news of no mail of theirs
    "signin_link": "auto-generated",  # asked for on the support page, not by mail
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
    team_address: str = ""  # operators' shared address; empty = every operator's own
    operator_copies: bool = True  # every customer message mailed to the operators
    team_locale: str = "ru"


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


@dataclass(frozen=True)
class Notice:
    """One notification to write about a ticket."""

    number: int
    kind: str
    extra: dict | None = None
    trigger_id: str | None = None
    to_address: str | None = None  # instead of the ticket's notify address
    limited: bool = True  # False for mail to an operator: ours, never rate-limited


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
    limited: bool = True,
) -> int | None:
    """One notification of ``kind`` about ticket ``number``; None when notify is off."""
    notice = Notice(number, kind, extra, trigger_id, to_address, limited)
    return notify_many(session, [notice], rules, now)[0]


def notify_many(
    session: Session, notices: Sequence[Notice], rules: NoticeRules, now: datetime
) -> list[int | None]:
    """Outbox rows for many notices in a few statements (the scheduler closes thousands).

    Returns each notice's row id, or None where the ticket's notifications are off.
    """
    if not notices:
        return []
    conn = session.connection()
    numbers = sorted({n.number for n in notices})
    tickets = {t.id: t for t in conn.execute(_TICKETS, {"numbers": numbers})}
    letters: list[outbox.Letter] = []
    placed: list[int] = []
    for i, n in enumerate(notices):
        ticket = tickets.get(n.number)
        if ticket is None:
            continue
        address = n.to_address or ticket.notify_address
        if not address or (n.to_address is None and not ticket.notify):
            continue
        locale = ticket.locale or "ru"
        root, prev = ticket.root_id, ticket.previous_id
        hold = None
        if ticket.notify_bounced and n.to_address is None:
            hold = (
                f"not sent: {address} bounced ({ticket.notify_bounced}); "
                "change the ticket's notify address to resume"
            )
        letters.append(
            outbox.Letter(
                ticket_id=n.number,
                kind=n.kind,
                to_address=address,
                locale=locale,
                context=_context(ticket, n.kind, rules, locale, n.extra),
                auto_submitted=AUTO_SUBMITTED.get(n.kind, "auto-generated"),
                message_id=outbox.new_message_id(rules.domain),
                in_reply_to=n.trigger_id or prev or root,
                references=list(dict.fromkeys(r for r in (root, prev, n.trigger_id) if r)),
                hold=hold,
                limited=n.limited,
            )
        )
        placed.append(i)
    written = outbox.enqueue_many(session, letters, now, rules.limit)
    repo.remember_thread_ids(
        session, [(x.message_id, x.ticket_id) for x in letters if x.ticket_id is not None]
    )
    out: list[int | None] = [None] * len(notices)
    for i, (row_id, _) in zip(placed, written, strict=True):
        out[i] = row_id
    return out


def _context(ticket: Row, kind: str, rules: NoticeRules, locale: str, extra: dict | None) -> dict:
    """What a template needs about the ticket, frozen now and localized."""
    status = Status(ticket.status)
    context = {
        "ticket": {
            "number": ticket.id,
            "subject": ticket.subject,
            "token": format_token(ticket.id, rules.token_format),
            "status": status.value,
            "status_label": status.label(locale),
        },
        "customer_name": ticket.customer_name or "",
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
    return context


def team_addresses(session: Session, rules: NoticeRules) -> list[str]:
    """Where mail for operators goes: the team address, else every operator."""
    if rules.team_address:
        return [rules.team_address]
    return list(session.scalars(select(Operator.email).order_by(Operator.id)))


def notify_team(
    session: Session,
    number: int,
    kind: str,
    rules: NoticeRules,
    now: datetime,
    *,
    extra: dict | None = None,
) -> list[int]:
    """A mail to the operators about ticket ``number``; never rate-limited (they are ours)."""
    ticket = session.connection().execute(_TICKET, {"number": number}).first()
    if ticket is None:
        return []
    context = _context(ticket, kind, rules, rules.team_locale, extra)
    return [
        _enqueue_plain(session, number, kind, address, rules, now, context)
        for address in team_addresses(session, rules)
    ]


def notify_operators(
    session: Session,
    number: int,
    kind: str,
    rules: NoticeRules,
    now: datetime,
    *,
    extra: Callable[[], dict],
    trigger_id: str | None = None,
) -> list[int]:
    """A customer's message to every operator, each with a reply address of their own.

    The Reply-To is signed together with the operator's address (``o`` kind),
    so a reply threads into the ticket as that operator and no one else; the
    team address, when set, gets a copy with the plain ticket reply address.
    ``extra`` is called only when someone is to be told: intake asks on every mail.
    """
    if not rules.operator_copies:
        return []
    conn = session.connection()
    recipients = [(o, "o") for o in conn.execute(_OPERATOR_ADDRESSES).scalars()]
    if rules.team_address:
        recipients.append((rules.team_address, "t"))
    ticket = conn.execute(_TICKET, {"number": number}).first() if recipients else None
    if ticket is None:
        return []
    context = _context(ticket, kind, rules, rules.team_locale, extra())
    letters = [
        outbox.Letter(
            ticket_id=number,
            kind=kind,
            to_address=address,
            locale=rules.team_locale,
            context={**context, "reply_kind": reply_kind},
            auto_submitted=AUTO_SUBMITTED.get(kind, "auto-generated"),
            message_id=outbox.new_message_id(rules.domain),
            in_reply_to=trigger_id,
            references=[trigger_id] if trigger_id else [],
        )
        for address, reply_kind in recipients
    ]
    written = outbox.enqueue_many(session, letters, now)  # ours: never rate-limited
    repo.remember_thread_ids(session, [(x.message_id, number) for x in letters])
    return [row for row, _ in written]


def notify_stranger(
    session: Session,
    number: int,
    address: str,
    their_subject: str,
    rules: NoticeRules,
    now: datetime,
) -> int | None:
    """Tell someone whose mail was held that an operator will look at it.

    Nothing of the ticket goes into this mail — not its subject, status or
    customer: it is someone else's (guarantee 6). Their own subject is reused.
    """
    context = {
        "subject": f"Re: {their_subject}".strip() if their_subject else "Re:",
        "token": format_token(number, rules.token_format),
        "support_address": rules.support,
        "locale": rules.team_locale,
    }
    row, _ = outbox.enqueue(
        session,
        ticket_id=number,
        kind="held_notice",
        to_address=address,
        locale=rules.team_locale,
        context=context,
        auto_submitted=AUTO_SUBMITTED["held_notice"],
        message_id=outbox.new_message_id(rules.domain),
        now=now,
        limit=rules.limit,
    )
    return row


def notify_team_digest(
    session: Session, kind: str, rules: NoticeRules, now: datetime, context: dict
) -> list[int]:
    """A mail to the operators about no one ticket (the unanswered digest)."""
    context = {"locale": rules.team_locale, "support_address": rules.support, **context}
    return [
        _enqueue_plain(session, None, kind, address, rules, now, context)
        for address in team_addresses(session, rules)
    ]


def _enqueue_plain(
    session: Session,
    number: int | None,
    kind: str,
    address: str,
    rules: NoticeRules,
    now: datetime,
    context: dict,
) -> int:
    message_id = outbox.new_message_id(rules.domain)
    row_id, _ = outbox.enqueue(
        session,
        ticket_id=number,
        kind=kind,
        to_address=address,
        locale=rules.team_locale,
        context=context,
        auto_submitted=AUTO_SUBMITTED.get(kind, "auto-generated"),
        message_id=message_id,
        now=now,
    )
    if number is not None:
        repo.remember_thread_id(session, message_id, number)
    return row_id


_OPERATOR_ADDRESSES = select(Operator.email).order_by(Operator.id)
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
_TICKET = (
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
_TICKETS = (
    select(*_COLUMNS, _ROOT.label("root_id"), _LATEST.label("previous_id"))
    .join(Customer, Customer.id == Ticket.customer_id)
    .where(Ticket.id.in_(bindparam("numbers", expanding=True)))
)
