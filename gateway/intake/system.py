"""Mail to our own machinery rather than to a ticket: bounces and address confirmations.

``bounce``: a delivery report to the VERP address of outbox row N. A
permanent failure marks the ticket's notify address as bouncing, and nothing
more is sent there until it changes; it is never answered (guarantee 5).

``confirm``: a reply from the address a ``#notify-to`` named, to the
confirmation address signed for it: from now on notifications go there.

``digest``: an operator's reply to the unanswered digest names no one ticket:
it is kept, never made a ticket, and the operator gets an answer saying how to
act on a ticket instead (issue 13).
"""

from __future__ import annotations

from dataclasses import replace

from gateway.desk.model import AuthorKind, Flag
from gateway.intake.message import record
from gateway.intake.model import Ctx, Flight
from gateway.mail.bounce import hard_failure
from gateway.outcome import Effect, Outcome, OutcomeKind
from gateway.store import contact, outbox, raw


def bounce(ctx: Ctx, flight: Flight) -> Flight | Outcome:
    """A DSN about our own notification: stop mailing a dead address; never answer it."""
    row_id = flight.addressed.bounce_of
    if row_id is None:
        return flight
    assert flight.raw_id is not None
    reason = hard_failure(flight.prep.delivery.data)
    number = contact.mark_bouncing(ctx.session, row_id, reason) if reason else None
    ticket = number or outbox.ticket_of(ctx.session, row_id)
    if ticket is None:
        raw.set_raw_state(
            ctx.session, flight.raw_id, "ignored", "bounce of an unknown notification"
        )
        return Outcome(OutcomeKind.STORED, "bounce kept, no ticket", effect=Effect.IGNORED)
    line = (
        f"hard bounce ({reason}): notifications of #{ticket} stop until the address changes"
        if number
        else "temporary or stale bounce: nothing changes"
    )
    sender = (flight.prep.delivery.mail_from or "mailer-daemon").lower()
    noted = replace(flight, trace=flight.noted(line))
    record(ctx, noted, ticket, AuthorKind.SYSTEM, sender, None, {Flag.AUTO})
    return Outcome(OutcomeKind.STORED, f"bounce for ticket #{ticket}", ticket, effect=Effect.BOUNCE)


def confirm(ctx: Ctx, flight: Flight) -> Flight | Outcome:
    """A reply from the address ``#notify-to`` named: from now on notices go there."""
    number = flight.addressed.confirms
    if number is None:
        return flight
    sender = flight.sender
    if contact.confirm_notify_address(ctx.session, number, sender):
        line = f"notify address of #{number} is now {sender}"
    else:
        line = f"{sender} is not the address waiting for confirmation on #{number}"
    noted = replace(flight, trace=flight.noted(line))
    record(ctx, noted, number, AuthorKind.CUSTOMER, sender, None, {Flag.AUTO})
    return Outcome(OutcomeKind.STORED, f"ticket #{number}", number, effect=Effect.THREADED)


def digest(ctx: Ctx, flight: Flight) -> Flight | Outcome:
    """A reply to the operators' digest: kept, answered once, never a ticket (issue 13)."""
    if not flight.addressed.digest:
        return flight
    assert flight.raw_id is not None
    reason = "a reply to the operators' digest: not a ticket; the operator is told how to act"
    raw.set_raw_state(ctx.session, flight.raw_id, "ignored", reason)
    notices = ctx.rules.notices
    if notices is not None and not flight.automatic:  # never an answer to automatic mail
        notices.digest_answer(ctx.session, flight.sender, flight.mail.subject, ctx.now)
    return Outcome(OutcomeKind.STORED, "reply to the digest: answered", effect=Effect.IGNORED)
