"""What became of one delivered mail, as the SMTP edge and the CLI report it.

Typed by outcome (Zulip's lesson): the pipeline says *what happened*, and one
place each — ``smtp.replies`` and ``cli`` — says how that sounds on the wire or
as an exit code. This module imports nothing of ours, so every layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OutcomeKind(StrEnum):
    STORED = "stored"  # committed: 250 / exit 0
    DUPLICATE = "duplicate"  # this Message-ID was already stored: 250, no second effect
    QUARANTINED = "quarantined"  # raw bytes kept, could not be parsed: 250
    UNKNOWN_RECIPIENT = "unknown_recipient"  # 550 5.1.1: we are never a relay
    UNKNOWN_SENDER = "unknown_sender"  # 550 5.7.1 when unknown senders are refused
    TOO_BIG = "too_big"  # 552 5.3.4
    DEFERRED = "deferred"  # 451 4.3.0: nothing stored, try again later


class Effect(StrEnum):
    """What a stored mail did to the tickets: for reports such as ``helpdesk import``'s."""

    NONE = ""
    NEW_TICKET = "new_ticket"  # opened a ticket (or a follow-up of a closed one)
    THREADED = "threaded"  # a customer's message appended to its ticket
    DUPLICATE = "duplicate"  # a new request an open ticket already held: appended there
    REPEAT = "repeat"  # content already in the ticket, collapsed
    OPERATOR = "operator"  # an operator's reply, note or commands
    HELD = "held"  # a stranger's mail, held for an operator
    IGNORED = "ignored"  # kept, but names no ticket (automatic mail, stray operator mail)
    BOUNCE = "bounce"  # a delivery report about our own notification


ACCEPTED = frozenset({OutcomeKind.STORED, OutcomeKind.DUPLICATE, OutcomeKind.QUARANTINED})


@dataclass(frozen=True, slots=True)
class Outcome:
    """The kind, and a short human detail ("ticket #12", the refusal's reason)."""

    kind: OutcomeKind
    detail: str = ""
    ticket: int | None = None
    address: str = ""  # the address a refusal is about
    effect: Effect = Effect.NONE

    @property
    def accepted(self) -> bool:
        return self.kind in ACCEPTED


DATABASE_AWAY = Outcome(OutcomeKind.DEFERRED, "the database is not available")


class Origin(StrEnum):
    """How a mail reached us; stored as ``raw_mails.source``."""

    SMTP = "smtp"  # the listener as MX, or behind an MTA
    LMTP = "lmtp"  # behind an MTA, one answer per recipient
    SUBMISSION = "submission"  # an operator's mail client, logged in
    PIPE = "pipe"  # ``helpdesk ingest`` from an MTA's pipe transport
    IMPORT = "import"  # ``helpdesk import``: the team's archive, replayed
    WEB = "web"  # the support page, writing the mail the customer would have written


class Trust(StrEnum):
    """What the edge vouches for about the sender. Intake believes this, never a header."""

    CLAIM = "claim"  # nothing: the From header is only a claim (SMTP, LMTP, pipe)
    OPERATOR_LOGIN = "operator_login"  # SMTP AUTH after STARTTLS: ``login`` is the operator
    ARCHIVE = "archive"  # the team's own archive: its From is what it was then
    CUSTOMER_SESSION = "customer_session"  # signed in on the page as ``login``


class Wish(StrEnum):
    """What a sender asked for that a mail cannot say (the support page's choices)."""

    NEW_TICKET = "new_ticket"  # shown the open ticket it resembles, chose a new one anyway
    NO_EMAIL = "no_email"  # no e-mail about the ticket this opens, not even "created"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One mail as the edge received it: envelope and the bytes, untouched, and what the
    edge knows of its sender."""

    mail_from: str | None  # "" is the null sender <>; None: not known (a pipe without --sender)
    rcpt_tos: tuple[str, ...]
    data: bytes
    origin: Origin = Origin.SMTP
    trust: Trust = Trust.CLAIM
    login: str | None = None  # who the edge authenticated (operator or customer), lower case
    wishes: frozenset[Wish] = frozenset()


class Tally:
    """How many mails this process answered, by outcome: what ``GET /metrics`` reports
    (issue 14, item 17). ``app`` counts at the edges it builds; nothing else writes it.
    Counters only grow, so a scraper sees rates across scrapes; they start at 0 with the
    process, as Prometheus expects of a ``_total``."""

    def __init__(self) -> None:
        self.counts: dict[OutcomeKind, int] = dict.fromkeys(OutcomeKind, 0)

    def add(self, kind: OutcomeKind) -> None:
        self.counts[kind] += 1

    def snapshot(self) -> dict[OutcomeKind, int]:
        return dict(self.counts)
