"""The ``keep`` step: the raw bytes, stored under the idempotency key (guarantees 2 and 3).

The key is the Message-ID (or the hash of the bytes without one), unique in
``raw_mails``: the same mail delivered twice — an MTA's retry, a second
recipient, the copy to an operator — finds its key taken and has no second
effect. On PostgreSQL a copy racing in at another instance waits for the
first one's transaction and then finds the key too.

A Message-ID is the sender's promise, not ours: another sender's mail that
carries one already stored (a broken client, or someone pre-empting a mail
they expect) is not "the same mail" (issue 14.8). When the key is taken and
the stored mail's From differs, this one is kept under the key qualified by its
sender, flagged ``reused_id``, and goes on like any mail; its own retries find
that key.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from gateway.intake.model import Ctx, Flight
from gateway.intake.prepare import MAX_KEY
from gateway.mail.parse import from_address
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
    reused = False
    if raw_id is None:
        key = _qualified_key(ctx, flight)
        if key is None:
            return Outcome(OutcomeKind.DUPLICATE, "already stored")
        raw_id = raw.store_raw(
            ctx.session,
            idem_key=key,
            received_at=ctx.now,
            source=d.origin.value,
            mail_from=d.mail_from,
            rcpt_tos=d.rcpt_tos,
            data=d.data,
        )
        if raw_id is None:  # this sender's own copy again
            return Outcome(OutcomeKind.DUPLICATE, "already stored")
        reused = True
    trace = flight.trace
    if reused:
        trace = flight.noted("its Message-ID was used first by another sender's mail: kept apart")
    return replace(flight, raw_id=raw_id, reused_id=reused, trace=trace)


def _qualified_key(ctx: Ctx, flight: Flight) -> str | None:
    """The key for a Message-ID another sender used first; None when the stored mail is
    this sender's own (a retry, a second recipient: no second effect)."""
    key = flight.prep.idem_key
    if not key.startswith(("mid:", "midh:")):
        return None  # keyed by its bytes: the very same bytes
    stored = raw.head_of(ctx.session, key)
    if stored is None:
        return None
    envelope, head = stored
    parsed = flight.prep.parsed
    mine = parsed.from_.address.lower() if parsed is not None and parsed.from_ else None
    theirs = from_address(head)
    if mine == theirs and (mine is not None or envelope == flight.prep.delivery.mail_from):
        return None
    who = mine or (flight.prep.delivery.mail_from or "").lower()
    qualified = f"{key}|from:{who}"
    if len(qualified) > MAX_KEY:
        digest = hashlib.sha256(qualified.encode("utf-8", "surrogateescape")).hexdigest()
        qualified = "midf:" + digest
    return qualified
