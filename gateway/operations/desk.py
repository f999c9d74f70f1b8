"""The verbs as the terminal and the page call them: each one transaction, its own clock.

A thin façade over ``operations.tickets``, ``contact`` and ``people``: the
CLI (through ``app``'s wiring) and the support page hold one :class:`Desk`
and call it directly, so a button and a command are the same call. Every
refusal is :class:`~gateway.operations.Refused` with the sentence to show.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Row
from sqlalchemy.orm import Session, sessionmaker

from gateway.desk.model import Policy, Status
from gateway.operations import Refused, contact, people, tickets
from gateway.operations.passwords import hash_password
from gateway.operations.ports import Tell
from gateway.store import db, outbox

T = TypeVar("T")


@dataclass(frozen=True)
class Desk:
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]
    policy: Policy
    tell: Tell | None = None

    def _do(self, verb: Callable[[Session], T]) -> T:
        with db.transaction(self.sessions) as session:
            return verb(session)

    # --- a ticket -------------------------------------------------------------------

    def act(
        self,
        number: int,
        operator: str,
        action: str,
        *,
        status: str | None = None,
        reason: str = "",
        text: str = "",
        files: Sequence[tuple[str, str, bytes]] = (),
    ) -> dict:
        """reply, take, status, close, admin_close or note, as ``helpdesk ticket VERB``;
        ``files`` (name, type, bytes): the page's uploads, kept with the reply or note."""
        target = None
        if status is not None:
            try:
                target = Status(status)
            except ValueError:
                raise Refused(
                    f"unknown status {status!r}; "
                    "use in_progress, awaiting_customer or awaiting_operator"
                ) from None
        now = self.clock()
        return self._do(
            lambda s: tickets.act(
                s,
                number,
                operator,
                action,
                now,
                self.policy,
                status=target,
                reason=reason,
                text=text,
                tell=self.tell,
                source=tickets.MailSource(files=tuple(files), how="on the support page")
                if files
                else None,
            )
        )

    def merge(self, number: int, into: int, operator: str) -> dict:
        now = self.clock()
        return self._do(
            lambda s: tickets.merge(s, number, into, operator, now, self.policy, self.tell)
        )

    def assign(self, number: int, assignee: str, operator: str) -> dict:
        now = self.clock()
        return self._do(lambda s: tickets.assign(s, number, operator, assignee, now))

    def decide_held(self, message_pk: int, operator: str, *, accept: bool) -> dict:
        now = self.clock()
        return self._do(
            lambda s: tickets.decide_held(
                s, message_pk, operator, accept=accept, now=now, policy=self.policy
            )
        )

    def set_ticket_notify(self, number: int, *, on: bool | None, address: str | None) -> dict:
        return self._do(lambda s: contact.set_by_operator(s, number, on=on, address=address))

    def set_customer_notify(
        self, number: int, *, on: bool, address: str, own_address: str
    ) -> str | None:
        """The customer's settings from the page; the address waiting for confirmation."""
        now = self.clock()
        return self._do(
            lambda s: contact.set_by_customer(
                s, number, on=on, address=address, own_address=own_address, tell=self.tell, now=now
            )
        )

    # --- people ---------------------------------------------------------------------

    def add_customer(self, email: str, name: str, *, verified: bool = True) -> dict:
        now = self.clock()
        return self._do(lambda s: people.add_customer(s, email, name, verified=verified, now=now))

    def add_operator(self, name: str, email: str, password: str | None) -> dict:
        hashed = hash_password(password) if password else None
        now = self.clock()
        return self._do(lambda s: people.add_operator(s, name, email, hashed, now))

    def authenticate(self, login: str, password: str) -> str | None:
        """Blocking (a query and scrypt): call it from a worker thread on an event loop."""
        with self.sessions() as session:
            return people.authenticate(session, login, password)

    # --- the outbox -----------------------------------------------------------------

    def retry_outbox(self, row_id: int) -> Row:
        now = self.clock()
        row = self._do(lambda s: outbox.retry(s, row_id, now))
        if row is None:
            raise Refused(f"there is no notification {row_id}; see `helpdesk outbox`")
        return row
