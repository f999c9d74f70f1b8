"""A customer's mail tells both sides at once: the customer's notices and the operators'
copies, read and written together.

A mixin of :class:`gateway.notify.enqueue.Notices`. Told one side after the other,
a new request read its ticket twice, the mail chains of its recipients twice, and
wrote the outbox and the thread ids twice. The intake writer is the gateway's one
serial step, and those were a third of its statements per request (issue 16).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Row
from sqlalchemy.orm import Session

from gateway.desk.model import Decision
from gateway.notify.threads import Threads
from gateway.store import outbox, recipients


class CustomerMail:
    """The methods used here are :class:`~gateway.notify.enqueue.Notices`' and
    :class:`~gateway.notify.team.TeamNotices`' own."""

    decision_notices: Callable[..., list]
    many: Callable[..., list]
    addressed: Callable[..., list]
    letters: Callable[..., tuple[list[int], list[outbox.Letter]]]
    write: Callable[..., list[int]]
    copy_targets: Callable[[Session], list[tuple[str, str]]]
    copies: Callable[..., list[outbox.Letter]]

    def customer_mail(
        self,
        session: Session,
        number: int,
        decision: Decision,
        now: datetime,
        *,
        trigger_id: str | None,
        extra: dict,
        copies: Callable[[], dict] | None,
        copy_kind: str = "operator_message",
        opened: dict[str, list[str]] | None = None,
    ) -> None:
        """What a customer's own mail to ticket ``number`` tells: the notices of
        ``decision`` (not the change they made themselves) and, unless ``copies`` is
        None (automatic mail), every operator's copy, whose facts ``copies`` gives.
        ``opened``: the mail opened the ticket, and this is what each address holds of
        it (``notify.threads.Threads``)."""
        notices = self.decision_notices(number, decision, trigger_id, extra, by_customer=True)
        targets = self.copy_targets(session) if copies is not None else []
        fresh = (number, opened) if opened is not None else None
        if not targets:
            self.many(session, notices, now, opened=fresh)
            return
        assert copies is not None
        heads: dict[int, Row] = recipients.ticket_heads(session, [number])
        ticket = heads.get(number)
        if ticket is None:
            return
        addressed: Sequence = self.addressed(notices, heads)
        customer = [(n.number, a) for _, n, _, a in addressed]
        team = [(number, a) for a, _ in targets]
        together = not {a.lower() for _, a in customer} & {a.lower() for _, a in team}
        threads = Threads(session, customer + team if together else customer, fresh)
        _, letters = self.letters(session, addressed, threads, now)
        if not together:
            # An operator is this ticket's customer too: their copy threads under the
            # notice only if it was sent, which writing the notice first decides.
            self.write(session, letters, now)
            letters, threads = [], Threads(session, team)
        letters += self.copies(number, copy_kind, ticket, copies(), threads, targets)
        self.write(session, letters, now)
