"""The customer's side of the steps: who may write here, what they ask, what it means.

automatic  automatic mail that names no ticket is kept, without one
guard      someone else's mail in a ticket is held, never appended (guarantee 6)
identify   an unknown sender becomes an unverified guest customer
intent     ``#close``, ``#notify``, ``#notify-to`` and nudges, from the new words only
decide     ``desk.machine.decide`` with what the steps found
"""

from __future__ import annotations

from dataclasses import replace

from gateway.desk.machine import decide
from gateway.desk.model import AuthorKind, CustomerWrote, Flag
from gateway.desk.thread import author_kind
from gateway.intake.message import record
from gateway.intake.model import Ctx, Flight, Wanted
from gateway.intake.thread import locked_ticket
from gateway.mail.intent import find_nudge, parse_commands
from gateway.operations.contact import looks_like_address
from gateway.outcome import Effect, Outcome, OutcomeKind
from gateway.store import people, raw

ECHO_CHARS = 2000  # of a customer's text, quoted back in a notice


def automatic(ctx: Ctx, flight: Flight) -> Flight | Outcome:
    """An auto-reply or bounce that threads into no ticket: kept, and nothing more."""
    if flight.number is not None or not flight.automatic:
        return flight
    assert flight.raw_id is not None and flight.verdict is not None
    reason = f"{flight.verdict.reason}; threads into no ticket"
    raw.set_raw_state(ctx.session, flight.raw_id, "ignored", reason)
    return Outcome(OutcomeKind.STORED, "automatic mail kept, no ticket", effect=Effect.IGNORED)


def guard(ctx: Ctx, flight: Flight) -> Flight | Outcome:
    """The ticket, locked; a stranger's mail in it is held for an operator, and both the
    operators and the sender are told (the sender learns nothing of the ticket)."""
    trace = list(flight.trace)
    state = locked_ticket(ctx, flight.number, trace) if flight.number else None
    kind = author_kind(
        sender_is_operator=False,  # operators prove themselves in the trust step
        sender_customer_id=flight.customer.id if flight.customer else None,
        ticket_customer_id=state.customer_id if state else None,
    )
    if kind is not AuthorKind.STRANGER:
        return replace(flight, state=state, trace=tuple(trace))
    assert state is not None
    address, mail, notices = flight.sender, flight.mail, ctx.rules.notices
    trace.append(f"held: {address} is not the customer of ticket #{state.number}")
    flags = {Flag.HELD} | ({Flag.AUTO} if flight.automatic else set())
    held = replace(flight, state=state, trace=tuple(trace))
    held_pk = record(ctx, held, state.number, AuthorKind.STRANGER, address, None, flags)
    if notices is not None and not flight.automatic:
        notices.stranger(
            ctx.session, state.number, address, mail.subject, ctx.now, trigger_id=mail.message_id
        )
        notices.team(
            ctx.session,
            state.number,
            "stranger_held",
            ctx.now,
            extra={
                "stranger": address,
                "text": mail.text[:ECHO_CHARS],
                "held_id": held_pk,
                "customer": people.customer_email(ctx.session, state.customer_id),
            },
        )
    return Outcome(
        OutcomeKind.STORED,
        f"held for an operator in ticket #{state.number}",
        state.number,
        effect=Effect.HELD,
    )


def identify(ctx: Ctx, flight: Flight) -> Flight:
    if flight.customer is not None:
        return flight
    customer = people.add_customer(
        ctx.session, flight.sender, flight.name, verified=False, now=ctx.now
    )
    line = f"unknown sender {flight.sender}: recorded as unverified guest customer {customer.id}"
    return replace(flight, customer=customer, trace=flight.noted(line))


def intent(ctx: Ctx, flight: Flight) -> Flight:
    """Read commands and nudges from the customer's new words, never from quoted history:
    the event for the state machine, and the notification settings asked for."""
    event = CustomerWrote(at=ctx.now, auto=flight.automatic)
    if flight.automatic or flight.state is None:  # commands and nudges act on a ticket
        return replace(flight, event=event)
    found, errors = parse_commands(flight.fresh)
    trace = [f"command #{c.name} on line {c.line}" for c in found]
    trace += [f"ignored line {e.line} {e.raw!r}: {e.reason}" for e in errors]
    close = any(c.name == "close" for c in found)
    wanted = Wanted()
    for c in found:
        arg = c.arg.strip().lower()
        if c.name == "notify" and arg in ("on", "off", "вкл", "выкл"):
            wanted = replace(wanted, notify=arg in ("on", "вкл"))
        elif c.name == "notify-to" and looks_like_address(arg):
            wanted = replace(wanted, notify_to=arg)
        elif c.name in ("notify", "notify-to"):
            trace.append(
                f"ignored line {c.line} {c.raw!r}: use #notify on|off or #notify-to ADDRESS"
            )
        elif c.name != "close":
            trace.append(f"command #{c.name} is for operators; ignored")
    nudge = None if close else find_nudge(flight.fresh)
    if nudge:
        trace.append(f"flag nudge: matched {nudge!r}")
    seen = flight.seen
    event = replace(
        event,
        nudge=bool(nudge),
        close=close,
        repeat=seen.repeat,
        duplicate=seen.duplicate_of is not None,
    )
    return replace(flight, event=event, wanted=wanted, trace=flight.noted(*trace))


def decided(ctx: Ctx, flight: Flight) -> Flight:
    assert flight.event is not None
    decision = decide(flight.state, flight.event, ctx.rules.policy, ctx.now)
    return replace(flight, decision=decision, trace=flight.noted(*decision.trace))
