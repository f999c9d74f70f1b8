"""The state machine: ``decide(state, event, policy, now) → Decision``.

Every rule of DESIGN §1 is here and nowhere else; it reads the time only from
``now`` (guarantee 7), so tests move 31 days forward without sleeping. The
function is total over (state, event): an impossible request raises
:class:`RuleViolation` with a sentence for the person who asked.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from gateway.desk import windows
from gateway.desk.decisions import days, keep, move, opened
from gateway.desk.model import (
    CustomerWrote,
    Decision,
    Disposition,
    Event,
    Flag,
    HeldAccepted,
    Merged,
    OperatorActed,
    Policy,
    Status,
    StatusChange,
    TicketState,
    TimerFired,
)

OPERATOR_SETTABLE = frozenset(
    {Status.AWAITING_OPERATOR, Status.IN_PROGRESS, Status.AWAITING_CUSTOMER}
)


class RuleViolation(Exception):
    """The event cannot apply to this ticket; the message says why."""


def decide(state: TicketState | None, event: Event, policy: Policy, now: datetime) -> Decision:
    if isinstance(event, CustomerWrote):
        if state is None:
            return _new_ticket(event, now)
        return _customer(state, event, policy, now)
    if state is None:
        raise RuleViolation("there is no ticket to act on")
    if isinstance(event, OperatorActed):
        return _operator(state, event, now)
    if isinstance(event, TimerFired):
        return _timer(state, policy, now)
    if isinstance(event, Merged):
        return _merged(state, event, now)
    if isinstance(event, HeldAccepted):
        return _held_accepted(state, event, policy, now)
    raise TypeError(f"unknown event {event!r}")  # pragma: no cover


# --- customers ---------------------------------------------------------------------


def _new_ticket(event: CustomerWrote, now: datetime) -> Decision:
    if event.auto:
        # An automatic mail never gets an automatic answer (guarantee 5).
        return opened(
            now,
            Disposition.NEW_TICKET,
            frozenset({Flag.AUTO}),
            "",
            "new ticket from automatic mail; no notice sent",
        )
    flags = frozenset({Flag.NUDGE}) if event.nudge else frozenset()
    return opened(now, Disposition.NEW_TICKET, flags, "created", "new ticket: awaiting_operator")


def _customer(state: TicketState, event: CustomerWrote, policy: Policy, now: datetime) -> Decision:
    if event.auto:
        return keep(
            state,
            "automatic mail: stored, changes neither the status nor any clock",
            flags=frozenset({Flag.AUTO}),
        )
    nudge = frozenset({Flag.NUDGE}) if event.nudge else frozenset()
    waiting_on_us = state.status in (Status.AWAITING_OPERATOR, Status.IN_PROGRESS)
    again = _sent_again(state, event, now, nudge, waiting_on_us=waiting_on_us)
    if again is not None:
        return again
    if event.close and state.status.is_closed:
        return keep(
            state,
            "#close on a ticket that is already closed: nothing to do",
            flags=frozenset({Flag.CLOSE}),
        )
    if state.locked:
        return opened(
            now,
            Disposition.FOLLOW_UP,
            frozenset({Flag.LOCKED, Flag.FOLLOW_UP}) | nudge,
            "locked_follow_up",
            f"ticket #{state.number} was closed administratively and is locked: not reopened; "
            "a follow-up ticket holds this message",
        )
    if state.status.is_closed:
        return _closed(state, event, policy, now, nudge)
    if event.close:
        return move(state, Status.CLOSED, now, "closed by customer", flags=frozenset({Flag.CLOSE}))
    if event.nudge and waiting_on_us:
        return keep(
            state,
            "nudge: kept for operators; the ticket keeps its place in the queue",
            flags=frozenset({Flag.NUDGE}),
        )
    if state.status is Status.AWAITING_OPERATOR:
        # More information must not send the ticket to the back of the queue.
        return keep(state, "customer added to a ticket already awaiting an operator", flags=nudge)
    # A nudge, or content sent again, while we wait for the customer is still the
    # customer's answer: the ticket comes back to operators, its queue clock starting now.
    again = frozenset({Flag.DUPLICATE}) if event.repeat else frozenset()
    return move(state, Status.AWAITING_OPERATOR, now, "customer replied", flags=nudge | again)


def _sent_again(
    state: TicketState,
    event: CustomerWrote,
    now: datetime,
    nudge: frozenset[Flag],
    *,
    waiting_on_us: bool,
) -> Decision | None:
    """The request of an open ticket again, or content the ticket holds: DESIGN §4."""
    if event.duplicate and waiting_on_us:
        return keep(
            state,
            f"the same request as open ticket #{state.number}: appended as a duplicate, "
            "no new ticket; the queue does not change",
            flags=frozenset({Flag.DUPLICATE}) | nudge,
            notices=("duplicate",),
        )
    if event.duplicate and state.status is Status.AWAITING_CUSTOMER:
        # We wait for them and they sent the request again: that is their answer.
        return move(
            state,
            Status.AWAITING_OPERATOR,
            now,
            f"customer sent the request of #{state.number} again",
            flags=frozenset({Flag.DUPLICATE}) | nudge,
            notices=("duplicate",),
        )
    if event.repeat and waiting_on_us and not event.close:  # "#close" again still closes
        return keep(
            state,
            "content already in this ticket: collapsed, not new work for operators",
            flags=frozenset({Flag.DUPLICATE}) | nudge,
        )
    return None


def _closed(
    state: TicketState, event: CustomerWrote, policy: Policy, now: datetime, nudge: frozenset[Flag]
) -> Decision:
    assert state.closed_at is not None
    age = now - state.closed_at
    if windows.within_reopen(state.closed_at, now, policy):
        decision = move(
            state,
            Status.AWAITING_OPERATOR,
            now,
            "reopened by customer",
            notices=("reopened",),
            flags=nudge,
        )
        return replace(
            decision,
            trace=(
                f"reopened: closed {days(age)} days ago, within the "
                f"{policy.reopen_days}-day window",
                *decision.trace,
            ),
        )
    return opened(
        now,
        Disposition.FOLLOW_UP,
        frozenset({Flag.FOLLOW_UP}) | nudge,
        "follow_up",
        f"reopen window lapsed: closed {days(age)} days ago (window {policy.reopen_days} days); "
        f"a new ticket linked to #{state.number}",
    )


# --- operators ------------------------------------------------------------------------


def _operator(state: TicketState, event: OperatorActed, now: datetime) -> Decision:
    action = event.action
    if action == "note":
        return keep(state, "internal note: no change")
    if state.locked:
        raise RuleViolation(
            f"ticket #{state.number} was closed administratively and is locked; "
            "only notes can be added"
        )
    if action in ("close", "admin_close"):
        if action == "admin_close":
            reason = f"closed administratively: {event.reason}".rstrip(": ")
            return move(state, Status.CLOSED, now, reason, locked=True)
        if state.status.is_closed:
            return keep(state, "already closed")
        return move(state, Status.CLOSED, now, "resolved by operator")
    if state.status.is_closed:
        raise RuleViolation(
            f"ticket #{state.number} is {state.status.value}; it reopens when the customer writes"
        )
    if action == "reply":
        if state.status is Status.AWAITING_CUSTOMER:
            # Another answer while we wait: the customer must get it, and the
            # 30 days before auto-close count from the latest question.
            return replace(
                keep(state, "operator replied again; the customer's clock starts over"),
                awaiting_since=now,
                notices=("operator_reply",),
            )
        return move(
            state, Status.AWAITING_CUSTOMER, now, "operator replied", notices=("operator_reply",)
        )
    if action == "take":
        return move(state, Status.IN_PROGRESS, now, "taken by operator")
    if action == "status":
        if event.status not in OPERATOR_SETTABLE:
            raise RuleViolation(
                f"status {event.status} cannot be set directly; use one of "
                + ", ".join(s.value for s in OPERATOR_SETTABLE)
                + " (or close)"
            )
        assert event.status is not None
        return move(state, event.status, now, f"set to {event.status.value} by operator")
    raise RuleViolation(f"unknown action {action!r}")


# --- merges and held mail --------------------------------------------------------------


def _merged(state: TicketState, event: Merged, now: datetime) -> Decision:
    """The ticket closes as a duplicate of ``event.target``, which holds its messages now."""
    target = event.target
    if target.number == state.number:
        raise RuleViolation(f"ticket #{state.number} cannot be merged into itself")
    for ticket in sorted((state, target), key=lambda t: t.number):
        if ticket.merged_into is not None:
            raise RuleViolation(
                f"ticket #{ticket.number} was already merged into #{ticket.merged_into}"
            )
    if state.customer_id != target.customer_id:
        raise RuleViolation(
            f"tickets #{state.number} and #{target.number} belong to different customers; "
            "only one customer's tickets can be merged"
        )
    if target.locked:
        raise RuleViolation(f"ticket #{target.number} is locked (closed administratively)")
    return Decision(
        disposition=Disposition.APPEND,
        status=Status.CLOSED,
        awaiting_since=None,
        closed_at=now,
        locked=state.locked,
        changes=(StatusChange(state.status, Status.CLOSED, event.reason),),
        trace=(f"{state.status.value} → closed: {event.reason}",),
        merged_into=target.number,
    )


def _held_accepted(
    state: TicketState, event: HeldAccepted, policy: Policy, now: datetime
) -> Decision:
    """An accepted held mail is the customer's message, but it never opens a new ticket:
    where the customer's own mail would make a follow-up, the operator is told no."""
    decision = _customer(state, CustomerWrote(at=event.at), policy, now)
    if decision.disposition is not Disposition.APPEND:
        raise RuleViolation(
            f"ticket #{state.number} is closed and cannot reopen; ask the sender to write a new "
            "request, or reject the held mail"
        )
    return decision


# --- the scheduler ----------------------------------------------------------------------


def _timer(state: TicketState, policy: Policy, now: datetime) -> Decision:
    if state.status is not Status.AWAITING_CUSTOMER or state.awaiting_since is None:
        return keep(state, "timer: nothing due")
    waited = now - state.awaiting_since
    if now > windows.auto_close_on(state.awaiting_since, policy):
        return move(
            state,
            Status.CLOSED_NO_REPLY,
            now,
            f"no reply for {days(waited)} days",
            notices=("auto_closed",),
        )
    if windows.reminder_due(state.awaiting_since, state.reminded_for, now, policy):
        return keep(
            state,
            f"reminder: waiting {days(waited)} of {policy.auto_close_days} days",
            notices=("reminder",),
        )
    return keep(state, f"timer: waiting {days(waited)} of {policy.auto_close_days} days")
