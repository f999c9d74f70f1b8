"""One mail, atomically: the intake pipeline of DESIGN §2, as a table of steps.

Read :data:`STEPS` top to bottom: that is what happens to a mail. Each step
takes the mail in flight (:class:`~gateway.intake.model.Flight`) and returns
it with what it found, or an :class:`~gateway.outcome.Outcome` that ends its
way (a bounce is recorded, a stranger held, an operator's reply applied …).
Every step adds lines to the message's decision trace, which
``helpdesk ticket show`` prints so an operator can tell why a mail landed
where it did.

``prepare`` (parse, key) is CPU only and may run in another process; the steps
run inside the caller's transaction and never commit: the caller commits once
per mail, or once per group with a savepoint per mail, and only then answers
250 (guarantee 1).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from gateway.intake import (
    addressed,
    apply,
    customer,
    keep,
    operator,
    quarantine,
    seen,
    sender,
    system,
    thread,
    trust,
)
from gateway.intake.model import Ctx, Flight, IntakeRules
from gateway.intake.prepare import Prepared, prepare
from gateway.operations import Refused
from gateway.outcome import Delivery, Origin, Outcome, OutcomeKind, Trust
from gateway.store import db, messages, raw

Step = Callable[[Ctx, Flight], "Flight | Outcome"]


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    run: Step
    does: str


STEPS: tuple[Stage, ...] = (
    Stage("parse", quarantine.unparsed, "unreadable bytes are kept raw, in quarantine"),
    Stage("classify", sender.classified, "human or automatic; who the From names; refusals"),
    Stage("keep", keep.kept, "raw bytes stored by Message-ID: a second copy has no effect"),
    Stage("addressed", addressed.addressed, "our signed reply, bounce or confirm address"),
    Stage("bounce", system.bounce, "a DSN about our mail: that address stops getting mail"),
    Stage("confirm", system.confirm, "a reply from a #notify-to address confirms it"),
    Stage("digest", system.digest, "a reply to the operators' digest: answered, no ticket"),
    Stage("trust", trust.trusted, "an operator proven by the archive, AUTH or DKIM"),
    Stage("thread", thread.threaded, "signed address, References, subject token, else new"),
    Stage("operator", operator.from_operator, "a proven operator's reply, then commands"),
    Stage("automatic", customer.automatic, "automatic mail naming no ticket: kept, no ticket"),
    Stage("guard", customer.guard, "a stranger in someone's ticket: held, never appended"),
    Stage("identify", customer.identify, "an unknown sender: an unverified guest customer"),
    Stage("dedup", seen.deduplicated, "the same content again, or the same request again"),
    Stage("intent", customer.intent, "#close, #notify, nudges: from the new words only"),
    Stage("decide", customer.decided, "desk.machine.decide: status, clocks, flags, notices"),
    Stage("apply", apply.applied, "ticket, message, files, thread ids, audit rows"),
    Stage("notify", apply.notified, "outbox rows: the customer, the operators, repeats"),
)


def run(ctx: Ctx, flight: Flight) -> Outcome:
    """The steps in order, until one answers; ``answer`` says what the mail did."""
    for stage in STEPS:
        result = stage.run(ctx, flight)
        if isinstance(result, Outcome):
            return result
        flight = result
    return apply.answered(ctx, flight)


def ingest(session: Session, prep: Prepared, rules: IntakeRules, now: datetime) -> Outcome:
    """Store one mail and everything it causes, in the caller's transaction."""
    return run(Ctx(session, rules, now), Flight(prep))


def retry_quarantined(
    sessions: sessionmaker[Session], raw_id: int, rules: IntakeRules, now: datetime
) -> Outcome:
    """``helpdesk quarantine retry`` and the page's button: :func:`retry` in a transaction
    of its own; no such quarantined mail is a refusal that says where to look."""
    with db.transaction(sessions) as session:
        return retry(session, raw_id, rules, now)


def retry(session: Session, raw_id: int, rules: IntakeRules, now: datetime) -> Outcome:
    """Run a quarantined mail through the steps again (after a parser fix)."""
    row = raw.raw_mail(session, raw_id)
    if row is None:
        raise Refused(f"there is no raw mail {raw_id}; see `helpdesk quarantine list`")
    if row.state != "quarantined":
        raise Refused(f"raw mail {raw_id} is {row.state}, not quarantined")
    origin = Origin(row.source)
    delivery = Delivery(
        row.mail_from,
        tuple(json.loads(row.rcpt_tos)),
        row.data,
        origin,
        Trust.ARCHIVE if origin is Origin.IMPORT else Trust.CLAIM,
    )
    prep = prepare(delivery)
    row.attempts += 1
    if prep.parsed is None:
        row.error = f"cannot parse: {prep.parse_error}"
        return Outcome(OutcomeKind.QUARANTINED, row.error)
    mid = prep.parsed.message_id
    if mid and messages.tickets_for_message_ids(session, [mid]):
        row.state, row.error = "duplicate", f"{mid} was stored meanwhile"
        return Outcome(OutcomeKind.DUPLICATE, row.error)
    row.state, row.error = "processed", None
    return run(Ctx(session, rules, now), Flight(prep, raw_id=raw_id))


__all__ = [
    "STEPS",
    "IntakeRules",
    "Prepared",
    "ingest",
    "prepare",
    "retry",
    "retry_quarantined",
    "run",
]
