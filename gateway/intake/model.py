"""The typed values intake's steps hand each other (DESIGN §7: no dict bag).

A :class:`Flight` is one mail on its way through the steps: each step reads
what earlier ones settled and returns a copy with its own findings added
(``dataclasses.replace``), or an :class:`~gateway.outcome.Outcome` that ends
the mail's way. :class:`Ctx` is what every step may use and none may change:
the transaction, the rules and the moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.desk.model import CustomerWrote, Decision, Policy, TicketState
from gateway.intake.prepare import Prepared
from gateway.mail.classify import Classification
from gateway.mail.parsed import ParsedMail
from gateway.notify.enqueue import Notices
from gateway.store.people import Person

UNKNOWN_GUEST = "guest"
UNKNOWN_REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class IntakeRules:
    """The settings intake reads, handed in by ``app`` (only it reads config)."""

    support: str
    domain: str
    secret: bytes = field(repr=False)  # reads our signed reply and bounce addresses
    token_format: str = "[#{number}]"
    policy: Policy = field(default_factory=Policy)
    unknown_senders: str = UNKNOWN_GUEST
    register_hint: str = ""
    locale: str = "ru"
    own_id_domains: frozenset[str] = frozenset()
    notices: Notices | None = None  # None: tell nobody (a dry run, an import)
    operator_dkim: bool = True  # trust a DKIM-signed operator reply to their own address
    dkim_keys: tuple[tuple[str, str], ...] | None = None  # pinned keys; None = DNS

    def serves(self, address: str) -> bool:
        """True for the support address and its +subaddresses (reply addresses)."""
        local, _, domain = address.strip().lower().rpartition("@")
        s_local, _, s_domain = self.support.rpartition("@")
        return domain == s_domain and (local == s_local or local.startswith(s_local + "+"))


@dataclass(frozen=True, slots=True)
class Ctx:
    """What every step may use: the caller's transaction, the rules, the moment."""

    session: Session
    rules: IntakeRules
    now: datetime


@dataclass(frozen=True, slots=True)
class Addressed:
    """What the envelope recipients say: a signed reply, bounce or confirmation address."""

    reply_to: int | None = None
    operator_reply: bool = False  # reply_to came by an operator's own signed address
    note_only: bool = False  # ... their note address: a reply is internal, never the customer's
    digest: bool = False  # a reply to the operators' digest: answered, never a ticket
    bounce_of: int | None = None
    confirms: int | None = None


@dataclass(frozen=True, slots=True)
class Seen:
    """What the duplicate catcher found (DESIGN §4)."""

    digest: str | None = None  # of this message's normalized new text
    request: tuple[str, str] | None = None  # (digest, normalized) when it opens a ticket
    repeat: bool = False  # the same content is already in the ticket it threads into
    duplicate_of: int | None = None  # an open ticket that already holds this request
    related_to: int | None = None  # a recently closed ticket much like it
    score: float | None = None  # how like it, for the operators' possible-repeat mail


@dataclass(frozen=True, slots=True)
class Wanted:
    """Notification settings the customer asked for on the first lines (``#notify``)."""

    notify: bool | None = None
    notify_to: str | None = None


@dataclass(frozen=True, slots=True)
class Flight:
    """One mail between the steps; each field is set by the step named beside it."""

    prep: Prepared
    trace: tuple[str, ...] = ()  # every step: why the mail went where it went
    verdict: Classification | None = None  # classify
    sender: str = ""  # classify: the From address, else the envelope sender
    name: str = ""  # classify: the From display name
    customer: Person | None = None  # classify, identify: the customer of that address
    operator: Person | None = None  # classify: an operator of that address (a claim)
    raw_id: int | None = None  # keep: the stored bytes
    reused_id: bool = False  # keep: another sender's mail had this Message-ID first
    addressed: Addressed = Addressed()  # addressed
    trusted: Person | None = None  # trust: the operator the mail proves to be
    number: int | None = None  # thread: the ticket it names
    state: TicketState | None = None  # guard: that ticket, locked (a merge followed)
    fresh: str = ""  # dedup: the new words (quotes and signature cut)
    seen: Seen = Seen()  # dedup
    event: CustomerWrote | None = None  # intent
    wanted: Wanted = Wanted()  # intent
    decision: Decision | None = None  # decide
    landed: int | None = None  # apply: the ticket the message is in
    message_pk: int | None = None  # apply

    @property
    def mail(self) -> ParsedMail:
        """The parsed mail: every step after ``parse`` may rely on it."""
        assert self.prep.parsed is not None
        return self.prep.parsed

    @property
    def automatic(self) -> bool:
        return self.verdict is not None and self.verdict.automatic

    def noted(self, *lines: str) -> tuple[str, ...]:
        return (*self.trace, *lines)
