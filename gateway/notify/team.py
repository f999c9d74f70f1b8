"""Who is told what, the operators' side: copies of customers' mail, held strangers,
possible repeats, the digest and the answer to a reply to it (``notify.audience``).

A mixin of :class:`gateway.notify.enqueue.Notices`, apart so each module stays
readable; every mail here goes to an operator or the team address, is never
rate-limited (they are ours) and threads per ticket in each operator's mailbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row
from sqlalchemy.orm import Session

from gateway.notify.context import auto_submitted
from gateway.notify.threads import Threads
from gateway.store import messages, outbox, people, recipients


class TeamNotices:
    """The operators' mail. The fields, ``new_message_id``, ``re_subject`` and ``_context``
    are :class:`~gateway.notify.enqueue.Notices`' own."""

    support: str
    team_address: str
    operator_copies: bool
    team_locale: str

    def team_addresses(self, session: Session) -> list[str]:
        """Where mail for operators goes: the team address, else every operator."""
        if self.team_address:
            return [self.team_address]
        return people.operator_addresses(session)

    def team(
        self, session: Session, number: int, kind: str, now: datetime, *, extra: dict | None = None
    ) -> list[int]:
        """A mail to the operators about ticket ``number``; never rate-limited (they are ours)."""
        ticket = recipients.ticket_head(session, number)
        if ticket is None:
            return []
        context = self._context(ticket, kind, self.team_locale, extra)
        return [
            self._plain(session, number, kind, address, now, context)
            for address in self.team_addresses(session)
        ]

    def copy_targets(self, session: Session) -> list[tuple[str, str]]:
        """Who gets a copy of a customer's message: (address, reply address kind)."""
        if not self.operator_copies:
            return []
        targets = [(o, "o") for o in people.operator_addresses(session)]
        if self.team_address:  # a shared mailbox proves no operator: its replies stay notes
            targets.append((self.team_address, "n"))
        return targets

    def copies(
        self,
        number: int,
        kind: str,
        ticket: Row,
        extra: dict,
        threads: Threads,
        targets: Sequence[tuple[str, str]],
    ) -> list[outbox.Letter]:
        """A customer's message to every operator, each with a reply address of their own.

        The Reply-To is signed together with the operator's address (``o`` kind),
        so a reply threads into the ticket as that operator and no one else; the
        team address, when set, gets a copy with the plain ticket reply address.
        One context for all, each copy threaded in its recipient's own chain.
        """
        context = self._context(ticket, kind, self.team_locale, extra)
        letters = []
        for address, reply_kind in targets:
            message_id = self.new_message_id()
            parent, references = threads.place(number, address, message_id)
            letters.append(
                outbox.Letter(
                    ticket_id=number,
                    kind=kind,
                    to_address=address,
                    locale=self.team_locale,
                    context={**context, "reply_kind": reply_kind},
                    auto_submitted=auto_submitted(kind),
                    message_id=message_id,
                    in_reply_to=parent,  # the operator never got the customer's own mail
                    references=references,
                    limited=False,  # ours: never rate-limited
                )
            )
        return letters

    def digest_answer(self, session: Session, address: str, subject: str, now: datetime) -> int:
        """Answer an operator's reply to the digest: it is no ticket; say how to act on one."""
        context = {
            "locale": self.team_locale,
            "support_address": self.support,
            "subject": self.re_subject(subject),
        }
        return self._plain(session, None, "digest_answer", address, now, context)

    def digest(self, session: Session, kind: str, now: datetime, context: dict) -> list[int]:
        """A mail to the operators about no one ticket (the unanswered digest)."""
        context = {"locale": self.team_locale, "support_address": self.support, **context}
        return [
            self._plain(session, None, kind, address, now, context)
            for address in self.team_addresses(session)
        ]

    def _plain(
        self,
        session: Session,
        number: int | None,
        kind: str,
        address: str,
        now: datetime,
        context: dict,
    ) -> int:
        message_id = self.new_message_id()
        parent, references = None, []
        if number is not None:  # one thread per ticket in each operator's mailbox
            parent, references = Threads(session, [(number, address)]).place(
                number, address, message_id
            )
        row_id, _ = outbox.enqueue(
            session,
            ticket_id=number,
            kind=kind,
            to_address=address,
            locale=self.team_locale,
            context=context,
            auto_submitted=auto_submitted(kind),
            message_id=message_id,
            in_reply_to=parent,
            references=references,
            now=now,
        )
        if number is not None:
            messages.remember_thread_id(session, message_id, number)
        return row_id
