"""Mail a person asked for: a sign-in link, the confirmation of a new notify address.

A mixin of :class:`gateway.notify.enqueue.Notices`. Such mail is limited per address
and per requester, each count on its own, and never by the loop limit: nobody can
silence someone else's mail by asking for links, and the page can say when none
was sent (issue 13).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.notify.context import auto_submitted
from gateway.store import outbox

ASKED_FOR = frozenset({"confirm_address", "signin_link"})


class AskedFor:
    """The fields are :class:`~gateway.notify.enqueue.Notices`' own."""

    support: str
    asked: outbox.RateLimit
    new_message_id: Callable[[], str]

    def signin_link(
        self,
        session: Session,
        address: str,
        locale: str,
        context: dict,
        now: datetime,
        *,
        requester: str = "",
    ) -> tuple[int, str | None]:
        """The support page's one-time sign-in link: (row, why it was not sent or None).

        Asked for by a person, so it never counts against the loop limit, and is
        limited per address and per requester apart: nobody can silence someone
        else's mail by asking for links, and the page can say when none was sent.
        """
        hold = self.asked_hold(session, "signin_link", address, requester or address, now)
        row, _ = outbox.enqueue(
            session,
            ticket_id=None,
            kind="signin_link",
            to_address=address,
            locale=locale,
            context={**context, "locale": locale, "support_address": self.support},
            auto_submitted=auto_submitted("signin_link"),
            message_id=self.new_message_id(),
            now=now,
            hold=hold,
            requester=requester or address,
        )
        return row, hold

    def asked_hold(
        self, session: Session, kind: str, address: str, requester: str, now: datetime
    ) -> str | None:
        """Why a mail a person asked for is held back, or None: each count on its own."""
        to, by = outbox.asked_recently(session, kind, address, requester, now, self.asked.window)
        window = f"in the last {int(self.asked.window.total_seconds() // 60)} minutes"
        if to >= self.asked.count:
            return f"not sent: {to} {kind} mails to {address} {window}"
        if by >= self.asked.count:
            return f"not sent: {requester} asked for {by} {kind} mails {window}"
        return None
