"""The ``keep`` step: the raw bytes, stored under the idempotency key (guarantees 2 and 3).

The key is the Message-ID (or the hash of the bytes without one), unique in
``raw_mails``: the same mail delivered twice — an MTA's retry, a second
recipient, the copy to an operator — finds its key taken and has no second
effect. On PostgreSQL a copy racing in at another instance waits for the
first one's transaction and then finds the key too.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.intake.model import Ctx, Flight
from gateway.outcome import Outcome, OutcomeKind
from gateway.store import raw


def kept(ctx: Ctx, flight: Flight) -> Flight | Outcome:
    if flight.raw_id is not None:  # a quarantined mail run again: its bytes are kept already
        return flight
    d = flight.prep.delivery
    raw_id = raw.store_raw(
        ctx.session,
        idem_key=flight.prep.idem_key,
        received_at=ctx.now,
        source=d.origin.value,
        mail_from=d.mail_from,
        rcpt_tos=d.rcpt_tos,
        data=d.data,
    )
    if raw_id is None:
        return Outcome(OutcomeKind.DUPLICATE, "already stored")
    return replace(flight, raw_id=raw_id)
