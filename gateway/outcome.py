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


@dataclass(frozen=True, slots=True)
class Delivery:
    """One mail as the edge received it: envelope and the bytes, untouched."""

    mail_from: str | None  # "" is the null sender <>; None: not known (a pipe without --sender)
    rcpt_tos: tuple[str, ...]
    data: bytes
    source: str = "smtp"  # smtp | lmtp | submission | pipe | import
    # The operator's address when the mail came in over authenticated submission
    # (SMTP AUTH after STARTTLS, issue 4); None for every other way in. Only
    # this, never a From header, makes a mail an authenticated operator's.
    auth_user: str | None = None
    # The customer, signed in on the support page, was shown the open ticket this request
    # resembles and chose "a new ticket anyway": intake does not join it there.
    distinct: bool = False
    # False: the sender asked for no e-mail about the ticket this opens (the page's
    # checkbox), so not even its "created" mail is queued.
    notify: bool = True
