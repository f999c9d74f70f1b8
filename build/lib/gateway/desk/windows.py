"""Every time window of DESIGN §1, in one place, read from a ``now`` passed in.

    ==============  ==========================================================
    reopen          a closed ticket reopens by customer mail for ``reopen_days``
                    after closing; later mail makes a linked follow-up
    auto-close      ``awaiting_customer`` longer than ``auto_close_days`` →
                    ``closed_no_reply``
    remind          ``remind_days_before`` that, one reminder per waiting period
    escalate        ``awaiting_operator`` longer than ``escalate_after`` → the
                    operators' digest, each ticket at most once per ``escalate_every``
    possible repeat a new request much like a ticket closed within the reopen
                    window is linked to it
    ==============  ==========================================================

The machine judges one ticket with these; the store selects candidates with
the same moments (:func:`cutoffs`) through its indexes, so a sweep reads the
due tickets, not the table; ``helpdesk import`` asks :func:`timer_due` when a
job will first find work. A page or ``ticket show`` asks :func:`reopen_until`,
so what they say a customer can do is what intake will do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.desk.model import Policy, Status

DAY = timedelta(days=1)


def reopen_until(closed_at: datetime, policy: Policy) -> datetime:
    """The last moment a customer's mail reopens a ticket closed at ``closed_at``."""
    return closed_at + timedelta(days=policy.reopen_days)


def within_reopen(closed_at: datetime, now: datetime, policy: Policy) -> bool:
    return now <= reopen_until(closed_at, policy)


def reopenable(
    status: Status,
    closed_at: datetime | None,
    *,
    locked: bool,
    merged: bool,
    now: datetime,
    policy: Policy,
) -> bool:
    """Would a customer's mail reopen this ticket now? (Not when open: nothing to reopen.)"""
    if not status.is_closed or locked or merged or closed_at is None:
        return False
    return within_reopen(closed_at, now, policy)


def repeat_since(now: datetime, policy: Policy) -> datetime:
    """Tickets closed after this are compared with a new request (a possible repeat)."""
    return now - timedelta(days=policy.reopen_days)


def remind_after(policy: Policy) -> timedelta | None:
    """How long a ticket waits for the customer before the reminder; None = never."""
    if policy.remind_days_before <= 0 or policy.remind_days_before >= policy.auto_close_days:
        return None
    return timedelta(days=policy.auto_close_days - policy.remind_days_before)


def auto_close_on(awaiting_since: datetime, policy: Policy) -> datetime:
    """When a ticket waiting for the customer since ``awaiting_since`` closes unanswered."""
    return awaiting_since + timedelta(days=policy.auto_close_days)


def days_left(awaiting_since: datetime, now: datetime, policy: Policy) -> int:
    """Whole days (at least one) until the auto-close: what the reminder says."""
    return max(1, math.ceil((auto_close_on(awaiting_since, policy) - now) / DAY))


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """The moments that make a ticket due, as of ``now``.

    The store selects candidates with these in SQL (through the
    ``status, awaiting_since`` and ``reopenable, closed_at`` indexes); the
    machine then judges each one with the same numbers.
    """

    close_waiting_before: datetime  # awaiting_customer since before this → auto-close
    remind_waiting_before: datetime | None  # … since before this → the reminder
    reopen_closed_before: datetime  # closed before this → no longer reopenable
    escalate_waiting_before: datetime  # awaiting_operator since before this → digest
    escalated_before: datetime  # … unless listed in a digest after this


def cutoffs(policy: Policy, now: datetime) -> Cutoffs:
    remind = remind_after(policy)
    return Cutoffs(
        close_waiting_before=now - timedelta(days=policy.auto_close_days),
        remind_waiting_before=None if remind is None else now - remind,
        reopen_closed_before=now - timedelta(days=policy.reopen_days),
        escalate_waiting_before=now - policy.escalate_after,
        escalated_before=now - policy.escalate_every,
    )


@dataclass(frozen=True, slots=True)
class TimerDue:
    """When the auto-close and the reopen window's lapse first find work, given the
    moments they count from (the inverse of ``cutoffs``); None: never, as things stand."""

    auto_close: datetime | None
    reopen_lapse: datetime | None


def timer_due(policy: Policy, *, waiting: datetime | None, closed: datetime | None) -> TimerDue:
    return TimerDue(
        auto_close=None if waiting is None else auto_close_on(waiting, policy),
        reopen_lapse=None if closed is None else reopen_until(closed, policy),
    )


def reminder_due(
    awaiting_since: datetime, reminded_for: datetime | None, now: datetime, policy: Policy
) -> bool:
    """One reminder per waiting period, ``remind_days_before`` the auto-close."""
    due = cutoffs(policy, now)
    return (
        due.remind_waiting_before is not None
        and awaiting_since <= due.remind_waiting_before
        and reminded_for != awaiting_since
    )


def escalation_due(
    status: Status,
    awaiting_since: datetime | None,
    escalated_at: datetime | None,
    policy: Policy,
    now: datetime,
) -> bool:
    """Has the ticket waited for an operator too long, and not been listed lately?

    Nudges leave ``awaiting_since`` alone, so "any update?" neither delays nor
    hastens this; the repeat interval keeps one forgotten ticket from filling
    the operators' mailbox.
    """
    if status is not Status.AWAITING_OPERATOR or awaiting_since is None:
        return False
    due = cutoffs(policy, now)
    if awaiting_since >= due.escalate_waiting_before:
        return False
    return escalated_at is None or escalated_at <= due.escalated_before
