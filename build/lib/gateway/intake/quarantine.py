"""Mail the pipeline cannot read, or failed on: its bytes kept with the reason (guarantee 2).

An unparseable mail is stored and answered 250 (``parse`` step); a mail a
later step raised on is *shunted* here by the writer (Mailman's shunt queue)
with the exception as its reason, so one bad mail never stops intake.
Operators list both with ``helpdesk quarantine list`` and run them again with
``retry`` once the parser is fixed (:func:`gateway.intake.retry`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.intake.model import Ctx, Flight
from gateway.outcome import Delivery, Outcome, OutcomeKind
from gateway.store import raw


def unparsed(ctx: Ctx, flight: Flight) -> Flight | Outcome:
    """The ``parse`` step's verdict: unreadable bytes are kept raw, in quarantine."""
    prep = flight.prep
    if prep.parsed is not None:
        return flight
    reason = f"cannot parse: {prep.parse_error}"
    return _kept(ctx.session, prep.delivery, prep.idem_key, reason, ctx.now, "already stored")


def shunt(session: Session, delivery: Delivery, exc: Exception, now: datetime) -> Outcome:
    """Quarantine a mail because a step raised ``exc`` (Mailman's shunt queue)."""
    return quarantine(session, delivery, f"intake failed: {exc.__class__.__name__}: {exc}", now)


def quarantine(session: Session, delivery: Delivery, reason: str, now: datetime) -> Outcome:
    """Shunt a mail the pipeline failed on: its bytes and the reason, for a later retry."""
    key = "shunt:" + hashlib.sha256(delivery.data).hexdigest()
    return _kept(session, delivery, key, reason, now, "already in quarantine")


def _kept(
    session: Session, delivery: Delivery, key: str, reason: str, now: datetime, again: str
) -> Outcome:
    """The bytes in quarantine under ``key``; ``again`` is what a second copy is told."""
    raw_id = raw.store_raw(
        session,
        idem_key=key,
        received_at=now,
        source=delivery.origin.value,
        mail_from=delivery.mail_from,
        rcpt_tos=delivery.rcpt_tos,
        data=delivery.data,
        state="quarantined",
        error=reason,
    )
    if raw_id is None:
        return Outcome(OutcomeKind.DUPLICATE, again)
    return Outcome(OutcomeKind.QUARANTINED, f"{reason}; kept in quarantine as raw mail {raw_id}")
