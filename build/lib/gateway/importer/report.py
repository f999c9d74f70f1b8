"""What ``helpdesk import`` did, counted message by message: its report (text or ``--json``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.importer.archive import Entry
from gateway.intake.prepare import Prepared
from gateway.outcome import Effect, Outcome, OutcomeKind
from gateway.schedule.sweep import SweepReport


@dataclass
class ImportReport:
    """What one run did; ``as_dict`` is the ``--json`` output."""

    paths: list[str]
    dry_run: bool
    read: int = 0
    already_imported: int = 0  # stored by an earlier run
    copies: int = 0  # the same Message-ID again within the archive (several recipients)
    tickets_created: int = 0
    threaded: int = 0  # customers' messages appended to their ticket
    operator_messages: int = 0
    held: int = 0  # a stranger wrote into someone's ticket
    bounces: int = 0
    duplicates: list[dict] = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)
    ignored: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)
    auto_closed: int = 0
    reopen_lapsed: int = 0
    first_date: datetime | None = None
    last_date: datetime | None = None
    dated_by: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    created: list[int] = field(default_factory=list)  # tickets made by this run
    open_tickets: list[int] = field(default_factory=list)  # of those, still open at the end
    notified: int | None = None  # ``imported`` mails queued (with --notify-open)

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "paths": self.paths,
            "dry_run": self.dry_run,
            "messages_read": self.read,
            "already_imported": self.already_imported,
            "copies_of_one_message": self.copies,
            "tickets_created": self.tickets_created,
            "messages_threaded": self.threaded,
            "operator_messages": self.operator_messages,
            "held_from_strangers": self.held,
            "bounces": self.bounces,
            "duplicates_collapsed": len(self.duplicates),
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "ignored": self.ignored,
            "refused": self.refused,
            "rules_applied": {
                "auto_closed": self.auto_closed,
                "reopen_lapsed": self.reopen_lapsed,
            },
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "dated_by": self.dated_by,
            "seconds": round(self.seconds, 3),
            "messages_per_second": round(self.rate, 1),
            "open_tickets": self.open_tickets,
            **({"notifications_queued": self.notified} if self.notified is not None else {}),
        }


def count(
    report: ImportReport,
    where: str,
    entry: Entry,
    prep: Prepared,
    outcome: Outcome,
    swept: SweepReport | None,
    seen: set[str],
) -> None:
    """Add one replayed message, what it did and what the rules did before it."""
    report.read += 1
    report.first_date = report.first_date or entry.at
    report.last_date = entry.at
    report.dated_by[entry.dated_by] = report.dated_by.get(entry.dated_by, 0) + 1
    if swept is not None:
        report.auto_closed += len(swept.auto_closed)
        report.reopen_lapsed += len(swept.reopen_lapsed)
    first = prep.idem_key not in seen
    seen.add(prep.idem_key)
    if outcome.kind is OutcomeKind.DUPLICATE:
        if first:
            report.already_imported += 1
        else:
            report.copies += 1
    elif outcome.kind is OutcomeKind.QUARANTINED:
        report.quarantined.append({**_about(where, entry, prep), "reason": outcome.detail})
    elif not outcome.accepted:
        reason = outcome.detail or outcome.kind.value
        report.refused.append({**_about(where, entry, prep), "reason": reason})
    elif outcome.effect is Effect.NEW_TICKET:
        report.tickets_created += 1
        if outcome.ticket is not None:
            report.created.append(outcome.ticket)
    elif outcome.effect in (Effect.DUPLICATE, Effect.REPEAT):
        report.duplicates.append(
            {**_about(where, entry, prep), "ticket": outcome.ticket, "kind": outcome.effect.value}
        )
    elif outcome.effect is Effect.THREADED:
        report.threaded += 1
    elif outcome.effect is Effect.OPERATOR:
        report.operator_messages += 1
    elif outcome.effect is Effect.HELD:
        report.held += 1
    elif outcome.effect is Effect.BOUNCE:
        report.bounces += 1
    else:
        report.ignored.append({**_about(where, entry, prep), "reason": outcome.detail})


def _about(where: str, entry: Entry, prep: Prepared) -> dict[str, Any]:
    """Enough to find the message by hand: file and key, Message-ID, sender, subject."""
    mail = prep.parsed
    return {
        "where": where,
        "message_id": mail.message_id if mail is not None else None,
        "from": mail.from_.key if mail is not None and mail.from_ is not None else None,
        "subject": mail.subject if mail is not None else None,
        "date": entry.at.isoformat(),
    }
