"""Value types of the domain: statuses and their labels, ticket state, the
events that reach a ticket, and the decision the machine returns.

The labels live here, once, in both languages: templates, the CLI and the web
page all read them from :data:`STATUS_LABELS` (DESIGN §1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    AWAITING_OPERATOR = "awaiting_operator"
    IN_PROGRESS = "in_progress"
    AWAITING_CUSTOMER = "awaiting_customer"
    CLOSED = "closed"
    CLOSED_NO_REPLY = "closed_no_reply"

    @property
    def is_closed(self) -> bool:
        return self in (Status.CLOSED, Status.CLOSED_NO_REPLY)

    def label(self, locale: str = "ru") -> str:
        """The customer-facing name of the status (DESIGN §1), ``ru`` or ``en``."""
        return STATUS_LABELS[self].get(locale, STATUS_LABELS[self]["en"])

    def operator_label(self, locale: str = "ru") -> str:
        """The name operators see: "Your reply is needed" is the customer's wording, and
        told to an operator it says the opposite of what the ticket waits for (issue 15).
        The same table; a status without an ``op-`` entry reads the same for both sides."""
        labels = STATUS_LABELS[self]
        return labels.get(f"op-{locale}") or self.label(locale)


# "ru"/"en": what customers read; "op-ru"/"op-en": what operators read, where it differs.
STATUS_LABELS: dict[Status, dict[str, str]] = {
    Status.AWAITING_OPERATOR: {"ru": "Ожидает ответа оператора", "en": "Awaiting operator reply"},
    Status.IN_PROGRESS: {"ru": "В работе", "en": "In progress"},
    Status.AWAITING_CUSTOMER: {
        "ru": "Требуется ваш ответ",
        "en": "Your reply is needed",
        "op-ru": "Ждём клиента",
        "op-en": "Waiting for customer",
    },
    Status.CLOSED: {"ru": "Закрыта", "en": "Closed"},
    Status.CLOSED_NO_REPLY: {"ru": "Закрыта без ответа", "en": "Closed, no reply"},
}

OPEN_STATUSES = frozenset(s for s in Status if not s.is_closed)


class AuthorKind(StrEnum):
    """Who wrote a message, as §6's JSON shows it."""

    CUSTOMER = "customer"
    OPERATOR = "operator"
    SYSTEM = "system"
    STRANGER = "stranger"


class Flag(StrEnum):
    """Marks on a stored message that explain how it was treated."""

    AUTO = "auto"  # automatic mail: stored, changes no status and no clock
    NUDGE = "nudge"  # "any update?": stored, leaves awaiting_since alone
    DUPLICATE = "duplicate"  # same content again
    CLOSE = "close"  # carried a customer's #close
    HELD = "held"  # a stranger's mail held for an operator (guarantee 6)
    FOLLOW_UP = "follow_up"  # opened a new ticket linked to a closed one
    LOCKED = "locked"  # reply to an administratively closed ticket
    REUSED_ID = "reused_id"  # its Message-ID was first used by another sender's mail (issue 14.8)


class Disposition(StrEnum):
    """Where the message goes."""

    APPEND = "append"  # joins the ticket it threaded into
    NEW_TICKET = "new_ticket"  # opens a fresh ticket
    FOLLOW_UP = "follow_up"  # opens a new ticket linked to the (closed, locked) one


@dataclass(frozen=True, slots=True)
class Policy:
    """The numbers behind the rules; every one is a setting (DESIGN §1)."""

    reopen_days: int = 30
    auto_close_days: int = 30
    remind_days_before: int = 7  # one reminder this long before auto-close; 0 = none
    escalate_after: timedelta = timedelta(hours=24)  # awaiting an operator longer → digest
    escalate_every: timedelta = timedelta(hours=24)  # a ticket is listed at most this often
    duplicate_similarity: float = 0.75  # near-duplicate threshold (desk.dedup.similarity)


@dataclass(frozen=True, slots=True)
class TicketState:
    """What the machine needs to know of an existing ticket."""

    number: int
    status: Status
    customer_id: int
    awaiting_since: datetime | None
    closed_at: datetime | None
    locked: bool = False  # administratively closed (contract §9.5): never reopens
    reminded_for: datetime | None = None  # the awaiting_since the last reminder was about
    merged_into: int | None = None  # closed as a duplicate of this ticket


@dataclass(frozen=True, slots=True)
class CustomerWrote:
    """A customer's message reached the ticket (or asks for a new one)."""

    at: datetime
    auto: bool = False
    nudge: bool = False
    close: bool = False
    repeat: bool = False  # the same content is already in this ticket
    duplicate: bool = False  # a new request that repeats this (open) ticket's request


@dataclass(frozen=True, slots=True)
class OperatorActed:
    """An operator did something to the ticket.

    ``action`` is one of ``reply``, ``take``, ``status``, ``close``,
    ``admin_close``, ``note``; ``status`` carries the target of ``status``.
    """

    at: datetime
    action: str
    status: Status | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TimerFired:
    """The scheduler looks at the ticket at ``at``."""

    at: datetime


@dataclass(frozen=True, slots=True)
class Merged:
    """The ticket is merged into ``target`` (an operator's ``#merge``, or the dedup sweep):
    it closes, and its conversation continues there."""

    at: datetime
    target: TicketState
    reason: str


@dataclass(frozen=True, slots=True)
class HeldAccepted:
    """An operator accepted a stranger's held mail: it counts as the customer's message."""

    at: datetime


Event = CustomerWrote | OperatorActed | TimerFired | Merged | HeldAccepted


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One row of the audit log: from → to, and why."""

    from_: Status | None
    to: Status
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to the ticket (or the new one) because of one event.

    ``status``, ``awaiting_since``, ``closed_at`` and ``locked`` are the state of
    the ticket the message lands in after the event. ``notices`` names the
    notifications the change calls for (rendered and sent by ``notify``).
    """

    disposition: Disposition
    status: Status
    awaiting_since: datetime | None
    closed_at: datetime | None
    locked: bool = False
    changes: tuple[StatusChange, ...] = ()
    flags: frozenset[Flag] = frozenset()
    trace: tuple[str, ...] = ()
    notices: tuple[str, ...] = field(default=())
    merged_into: int | None = None  # a merge: the ticket its conversation moved to

    @property
    def changed(self) -> bool:
        return bool(self.changes)
