"""Who is told what: a change's notices become outbox rows, in the transaction of the change.

The state machine names what the customer should hear (``created``,
``status``, ``operator_reply`` …); this module decides whether and where each
goes — notify on, an address that does not bounce, the loop limit — freezes
what the template will need (``notify.context``), chooses the threading
headers, and writes the row (``store.outbox``, guarantee 4). Mail to the
operators (a customer's message, a held stranger, the digest) is addressed
here too, so every recipient rule lives in this one module.

:class:`Notices` is handed in by ``app`` to whatever changes tickets; ``None``
in its place means "change, tell nobody" (a dry run, ``helpdesk import``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Row
from sqlalchemy.orm import Session

from gateway.desk.model import Decision
from gateway.mail.compose import own_message_id
from gateway.mail.subject import format_token, thread_subject
from gateway.notify import audience
from gateway.notify.asked import ASKED_FOR, AskedFor
from gateway.notify.context import auto_submitted, ticket_context
from gateway.notify.customer_mail import CustomerMail
from gateway.notify.team import TeamNotices
from gateway.notify.threads import Threads
from gateway.store import messages, outbox, recipients


@dataclass(frozen=True)
class Notice:
    """One notification to write about a ticket."""

    number: int
    kind: str
    extra: dict | None = None
    trigger_id: str | None = None
    to_address: str | None = None  # instead of the ticket's notify address
    limited: bool = True  # False for mail to an operator: ours, never rate-limited


@dataclass(frozen=True)
class Notices(TeamNotices, CustomerMail, AskedFor):
    """The rules of telling people, as plain values (picklable for the intake writer),
    and the calls that apply them."""

    support: str
    domain: str
    secret: bytes = field(repr=False)
    token_format: str = "[#{number}]"
    reopen_days: int = 30
    limit: outbox.RateLimit = field(default_factory=outbox.RateLimit)
    team_address: str = ""  # operators' shared address; empty = every operator's own
    operator_copies: bool = True  # every customer message mailed to the operators
    team_locale: str = "ru"
    # Mail a person asks for: per address and per requester, apart from the loop limit.
    asked: outbox.RateLimit = field(default_factory=lambda: outbox.RateLimit(5, timedelta(hours=1)))

    def new_message_id(self) -> str:
        return own_message_id(self.domain)

    def re_subject(self, subject: str) -> str:
        """Their subject answered: exactly one ``Re:``, and no ticket token of ours in it
        (a stranger's reply to it must not be held again; issue 13)."""
        bare = thread_subject(subject, self.token_format)
        return f"Re: {bare}" if bare else "Re:"

    # --- the customer ---------------------------------------------------------------

    def decision(
        self,
        session: Session,
        number: int,
        decision: Decision,
        now: datetime,
        *,
        trigger_id: str | None = None,
        extra: dict | None = None,
        by_customer: bool = False,
    ) -> list[int]:
        """Outbox rows for the notices a decision names; the ids of those written.

        ``by_customer``: the customer's own mail made the change, so they are not told
        of it (``notify.audience``), save a confirmation of their own ``#close``.
        """
        notices = self.decision_notices(number, decision, trigger_id, extra, by_customer)
        return [row for row in self.many(session, notices, now) if row is not None]

    def decision_notices(
        self,
        number: int,
        decision: Decision,
        trigger_id: str | None,
        extra: dict | None,
        by_customer: bool,
    ) -> list[Notice]:
        """The notices of :meth:`decision`, not yet addressed."""
        notices = []
        for kind in decision.notices:
            context = dict(extra or {})
            change = decision.changes[-1] if decision.changes else None
            new_status = change.to.value if change else None
            if not audience.for_customer(kind, by_customer=by_customer, new_status=new_status):
                continue
            if kind == "status" and change is not None:
                context.setdefault("old_status", change.from_.value if change.from_ else "")
                context.setdefault("new_status", change.to.value)
                context.setdefault("reason", change.reason)
                context.setdefault("by_customer", by_customer)
                context.setdefault("locked", decision.locked)
            notices.append(Notice(number, kind, context, trigger_id))
        return notices

    def one(
        self,
        session: Session,
        number: int,
        kind: str,
        now: datetime,
        *,
        trigger_id: str | None = None,
        extra: dict | None = None,
        to_address: str | None = None,
        limited: bool = True,
    ) -> int | None:
        """One notification of ``kind`` about ticket ``number``; None when notify is off."""
        notice = Notice(number, kind, extra, trigger_id, to_address, limited)
        return self.many(session, [notice], now)[0]

    def many(
        self,
        session: Session,
        notices: Sequence[Notice],
        now: datetime,
        *,
        opened: tuple[int, dict[str, list[str]]] | None = None,
    ) -> list[int | None]:
        """Outbox rows for many notices in a few statements (the scheduler closes thousands).

        Returns each notice's row id, or None where the ticket's notifications are off.
        ``opened``: a ticket just opened, as :class:`~gateway.notify.threads.Threads` takes it.
        """
        if not notices:
            return []
        heads = recipients.ticket_heads(session, [n.number for n in notices])
        targets = self.addressed(notices, heads)
        pairs = [(n.number, address) for _, n, _, address in targets]
        threads = Threads(session, pairs, opened)
        placed, letters = self.letters(session, targets, threads, now)
        written = self.write(session, letters, now)
        out: list[int | None] = [None] * len(notices)
        for i, row_id in zip(placed, written, strict=True):
            out[i] = row_id
        return out

    def addressed(
        self, notices: Sequence[Notice], heads: dict[int, Row]
    ) -> list[tuple[int, Notice, Row, str]]:
        """(index, notice, ticket, address) of each notice that goes somewhere: its
        ticket's notify address when it names none, unless notify is off."""
        targets = []
        for i, n in enumerate(notices):
            ticket = heads.get(n.number)
            if ticket is None:
                continue
            address = n.to_address or ticket.notify_address
            if not address or (n.to_address is None and not ticket.notify):
                continue
            targets.append((i, n, ticket, address))
        return targets

    def letters(
        self,
        session: Session,
        targets: Sequence[tuple[int, Notice, Row, str]],
        threads: Threads,
        now: datetime,
    ) -> tuple[list[int], list[outbox.Letter]]:
        """The outbox letters of addressed notices, threaded, held back where they must be;
        with the index of the notice each one is."""
        letters: list[outbox.Letter] = []
        placed: list[int] = []
        for i, n, ticket, address in targets:
            locale = ticket.locale or "ru"
            message_id = self.new_message_id()
            parent, references = threads.place(n.number, address, message_id)
            hold, requester = None, None
            if n.kind in ASKED_FOR:  # asked for by the ticket's customer, not a loop
                requester = f"ticket:{n.number}"
                hold = self.asked_hold(session, n.kind, address, requester, now)
            bouncing = address.lower() == (ticket.notify_address or "").lower()
            if ticket.notify_bounced and bouncing:  # the ticket's address, also when named
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
                    context=self._context(ticket, n.kind, locale, self._until(n, now)),
                    auto_submitted=auto_submitted(n.kind),
                    message_id=message_id,
                    in_reply_to=parent,
                    references=references,
                    hold=hold,
                    limited=n.limited and n.kind not in ASKED_FOR,
                    requester=requester,
                )
            )
            placed.append(i)
        return placed, letters

    def write(self, session: Session, letters: Sequence[outbox.Letter], now: datetime) -> list[int]:
        """Letters into the outbox under the loop limit (those marked ``limited``), their
        Message-IDs remembered as their tickets': the row ids, in order."""
        written = outbox.enqueue_many(session, letters, now, self.limit)
        messages.remember_thread_ids(
            session, [(x.message_id, x.ticket_id) for x in letters if x.ticket_id is not None]
        )
        return [row for row, _ in written]

    def stranger(
        self,
        session: Session,
        number: int,
        address: str,
        their_subject: str,
        now: datetime,
        *,
        trigger_id: str | None = None,
    ) -> int | None:
        """Tell someone whose mail was held that an operator will look at it.

        Nothing of the ticket goes into this mail — not its subject, status or
        customer: it is someone else's (guarantee 6). Their own subject is reused.
        """
        context = {
            "subject": self.re_subject(their_subject),
            "token": format_token(number, self.token_format),
            "support_address": self.support,
            "locale": self.team_locale,
        }
        row, _ = outbox.enqueue(
            session,
            ticket_id=number,
            kind="held_notice",
            to_address=address,
            locale=self.team_locale,
            context=context,
            auto_submitted=auto_submitted("held_notice"),
            message_id=self.new_message_id(),
            in_reply_to=trigger_id,  # under their own mail, which they hold
            references=[trigger_id] if trigger_id else [],
            now=now,
            limit=self.limit,
        )
        return row

    # --- shared ---------------------------------------------------------------------

    def _until(self, notice: Notice, now: datetime) -> dict | None:
        """A closing mail says until when a reply reopens the ticket (issue 13)."""
        closing = notice.kind == "auto_closed" or (notice.extra or {}).get("new_status") in (
            "closed",
            "closed_no_reply",
        )
        if not closing:
            return notice.extra
        until = (now + timedelta(days=self.reopen_days)).date().isoformat()
        return {"reopen_until": until, **(notice.extra or {})}

    def _context(self, ticket: object, kind: str, locale: str, extra: dict | None) -> dict:
        return ticket_context(
            ticket,  # type: ignore[arg-type]
            kind,
            support=self.support,
            token_format=self.token_format,
            window_days=self.reopen_days,
            locale=locale,
            extra=extra,
        )
