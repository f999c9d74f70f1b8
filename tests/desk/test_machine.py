"""The ticket state machine against DESIGN §1: statuses, transitions and the 30-day rules.

Pure domain: no database, no clock of its own — every test passes ``now`` (guarantee 7).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gateway.desk.machine import RuleViolation, decide
from gateway.desk.model import (
    OPEN_STATUSES,
    CustomerWrote,
    Decision,
    Disposition,
    Event,
    Flag,
    OperatorActed,
    Policy,
    Status,
    StatusChange,
    TicketState,
    TimerFired,
)
from gateway.desk.windows import cutoffs, escalation_due

AO = Status.AWAITING_OPERATOR
IP = Status.IN_PROGRESS
AC = Status.AWAITING_CUSTOMER
CL = Status.CLOSED
CNR = Status.CLOSED_NO_REPLY

POLICY = Policy()
NOW = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)
# The clocks of the ticket before the event: clearly in the past, and different from NOW.
SINCE = NOW - timedelta(days=3, hours=5)
CLOSED_AT = NOW - timedelta(days=2)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)


def ticket(
    status: Status, *, locked: bool = False, closed_at: datetime | None = None
) -> TicketState:
    """A ticket as the store loads it: open ones carry awaiting_since, closed ones closed_at."""
    if status.is_closed:
        return TicketState(
            number=7,
            status=status,
            customer_id=42,
            awaiting_since=None,
            closed_at=closed_at or CLOSED_AT,
            locked=locked,
        )
    return TicketState(
        number=7, status=status, customer_id=42, awaiting_since=SINCE, closed_at=None, locked=locked
    )


def op(action: str, status: Status | None = None, reason: str = "") -> OperatorActed:
    return OperatorActed(at=NOW, action=action, status=status, reason=reason)


def wrote(**kw: bool) -> CustomerWrote:
    return CustomerWrote(at=NOW, **kw)


def assert_unchanged(decision: Decision, state: TicketState) -> None:
    """Nothing moved: same ticket, same status, both clocks and the lock as they were."""
    assert decision.disposition is Disposition.APPEND
    assert decision.status is state.status
    assert decision.awaiting_since == state.awaiting_since
    assert decision.closed_at == state.closed_at
    assert decision.locked is state.locked
    assert decision.changes == ()
    assert not decision.changed
    assert decision.notices == ()


def assert_moved(decision: Decision, state: TicketState, to: Status) -> None:
    """One audited transition from → to on the same ticket, with the clock of the new status."""
    assert decision.disposition is Disposition.APPEND
    assert decision.status is to
    assert decision.changed
    assert [(c.from_, c.to) for c in decision.changes] == [(state.status, to)]
    assert decision.changes[0].reason
    if to.is_closed:
        assert decision.closed_at == NOW
        assert decision.awaiting_since is None
    else:
        assert decision.awaiting_since == NOW
        assert decision.closed_at is None


def assert_new_ticket(decision: Decision, disposition: Disposition) -> None:
    """A fresh ticket awaiting an operator, its queue clock starting now, creation audited."""
    assert decision.disposition is disposition
    assert decision.status is AO
    assert decision.awaiting_since == NOW
    assert decision.closed_at is None
    assert decision.locked is False
    assert decision.changes == (StatusChange(None, AO, "ticket created"),)


# --- the five statuses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "ru", "en", "closed"),
    [
        pytest.param(AO, "Ожидает ответа оператора", "Awaiting operator reply", False, id="ao"),
        pytest.param(IP, "В работе", "In progress", False, id="in_progress"),
        pytest.param(AC, "Требуется ваш ответ", "Your reply is needed", False, id="ac"),
        pytest.param(CL, "Закрыта", "Closed", True, id="closed"),
        pytest.param(CNR, "Закрыта без ответа", "Closed, no reply", True, id="closed_no_reply"),
    ],
)
def test_status_codes_labels_and_closedness(status: Status, ru: str, en: str, closed: bool) -> None:
    """Each status reads as its Russian or English label and knows whether it is closed."""
    assert status.label("ru") == ru
    assert status.label() == ru  # Russian is the default locale
    assert status.label("en") == en
    assert status.label("de") == en  # unknown locale falls back to English
    assert status.is_closed is closed
    assert (status in OPEN_STATUSES) is not closed


def test_there_are_exactly_the_five_statuses_of_design() -> None:
    """A ticket has exactly the five statuses of DESIGN §1, spelled as scripts see them."""
    assert {s.value for s in Status} == {
        "awaiting_operator",
        "in_progress",
        "awaiting_customer",
        "closed",
        "closed_no_reply",
    }


# --- creation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "flags", "notices"),
    [
        pytest.param(wrote(), frozenset(), ("created",), id="plain"),
        pytest.param(wrote(nudge=True), frozenset({Flag.NUDGE}), ("created",), id="nudge"),
        # Guarantee 5: an automatic mail never gets an automatic answer.
        pytest.param(wrote(auto=True), frozenset({Flag.AUTO}), (), id="auto-no-notice"),
    ],
)
def test_first_message_creates_a_ticket_awaiting_an_operator(
    event: CustomerWrote, flags: frozenset[Flag], notices: tuple[str, ...]
) -> None:
    """A first mail opens a ticket awaiting an operator; an automatic one gets no notice."""
    decision = decide(None, event, POLICY, NOW)
    assert_new_ticket(decision, Disposition.NEW_TICKET)
    assert decision.flags == flags
    assert decision.notices == notices


# --- every allowed transition ---------------------------------------------------------------


def ac_since(waited: timedelta) -> TicketState:
    """A ticket that has been awaiting the customer for ``waited``."""
    return TicketState(7, AC, 42, awaiting_since=NOW - waited, closed_at=None)


ALLOWED = [
    # operator answers: asks to verify the fix, or asks for information
    pytest.param(ticket(AO), op("reply"), AC, ("operator_reply",), id="ao-reply->ac"),
    pytest.param(ticket(IP), op("reply"), AC, ("operator_reply",), id="ip-reply->ac"),
    # operator found the cause and is fixing it
    pytest.param(ticket(AO), op("take"), IP, ("status",), id="ao-take->ip"),
    pytest.param(ticket(AC), op("take"), IP, ("status",), id="ac-take->ip"),
    # explicit #status between the open statuses
    *(
        pytest.param(ticket(a), op("status", b), b, ("status",), id=f"{a.value}-status->{b.value}")
        for a in (AO, IP, AC)
        for b in (AO, IP, AC)
        if a is not b
    ),
    # operator resolved it
    pytest.param(ticket(AO), op("close"), CL, ("status",), id="ao-close->closed"),
    pytest.param(ticket(IP), op("close"), CL, ("status",), id="ip-close->closed"),
    pytest.param(ticket(AC), op("close"), CL, ("status",), id="ac-close->closed"),
    # the customer writes in an open ticket that waited on them / was being worked on
    pytest.param(ticket(AC), wrote(), AO, ("status",), id="ac-customer->ao"),
    pytest.param(ticket(IP), wrote(), AO, ("status",), id="ip-customer->ao"),
    # the customer closes it by mail
    pytest.param(ticket(AO), wrote(close=True), CL, ("status",), id="ao-#close->closed"),
    pytest.param(ticket(IP), wrote(close=True), CL, ("status",), id="ip-#close->closed"),
    pytest.param(ticket(AC), wrote(close=True), CL, ("status",), id="ac-#close->closed"),
    # a closed ticket is reopened within the window
    pytest.param(ticket(CL), wrote(), AO, ("reopened",), id="closed-customer->ao"),
    pytest.param(ticket(CNR), wrote(), AO, ("reopened",), id="cnr-customer->ao"),
    # auto-close after more than 30 days in awaiting_customer
    pytest.param(ac_since(31 * DAY), TimerFired(at=NOW), CNR, ("auto_closed",), id="ac-timer->cnr"),
]


@pytest.mark.parametrize(("state", "event", "to", "notices"), ALLOWED)
def test_allowed_transition(
    state: TicketState, event: Event, to: Status, notices: tuple[str, ...]
) -> None:
    """Every transition DESIGN §1 allows moves the ticket, is audited and queues its notice."""
    decision = decide(state, event, POLICY, NOW)
    assert_moved(decision, state, to)
    assert decision.locked is False
    assert decision.notices == notices


@pytest.mark.parametrize("start", list(Status), ids=[s.value for s in Status])
def test_administrative_closure_closes_and_locks_from_any_status(start: Status) -> None:
    """An administrative close closes and locks a ticket from any status, with its reason."""
    state = ticket(start)
    decision = decide(state, op("admin_close", reason="contract §9.5"), POLICY, NOW)
    assert decision.status is CL
    assert decision.locked is True
    assert decision.closed_at == NOW
    assert decision.awaiting_since is None
    assert [(c.from_, c.to) for c in decision.changes] == [(start, CL)]
    assert "contract §9.5" in decision.changes[0].reason


def test_administrative_closure_without_reason_says_so_plainly() -> None:
    """An administrative close without a reason is recorded as "closed administratively"."""
    decision = decide(ticket(AO), op("admin_close"), POLICY, NOW)
    assert decision.changes[0].reason == "closed administratively"


# --- forbidden requests ----------------------------------------------------------------------

REOPENS_ONLY_BY_CUSTOMER = "reopens when the customer writes"
NOT_SETTABLE = "cannot be set directly"
LOCKED = "closed administratively and is locked"

FORBIDDEN = [
    # a closed ticket reopens only when the customer writes
    *(
        pytest.param(ticket(s), ev, REOPENS_ONLY_BY_CUSTOMER, id=f"{s.value}-{name}")
        for s in (CL, CNR)
        for name, ev in (
            ("reply", op("reply")),
            ("take", op("take")),
            ("status-ao", op("status", AO)),
            ("status-ip", op("status", IP)),
            ("status-ac", op("status", AC)),
        )
    ),
    # closed statuses are not set by #status: close, admin_close and the timer do that
    *(
        pytest.param(
            ticket(s), op("status", target), NOT_SETTABLE, id=f"{s.value}-status-{target.value}"
        )
        for s in (AO, IP, AC)
        for target in (CL, CNR)
    ),
    pytest.param(ticket(AO), op("status"), NOT_SETTABLE, id="status-without-target"),
    pytest.param(ticket(AO), op("escalate"), "unknown action 'escalate'", id="unknown-action"),
    # an administratively closed ticket is locked: only notes
    *(
        pytest.param(ticket(CL, locked=True), op(a, s), LOCKED, id=f"locked-{a}")
        for a, s in (
            ("reply", None),
            ("take", None),
            ("status", AO),
            ("close", None),
            ("admin_close", None),
        )
    ),
    # no ticket: nothing for an operator or the scheduler to act on
    pytest.param(None, op("reply"), "no ticket", id="no-ticket-operator"),
    pytest.param(None, TimerFired(at=NOW), "no ticket", id="no-ticket-timer"),
]


@pytest.mark.parametrize(("state", "event", "says"), FORBIDDEN)
def test_forbidden_request_raises_rule_violation(
    state: TicketState | None, event: Event, says: str
) -> None:
    """What the rules forbid (an operator reopening, #status closed, …) is refused, saying why."""
    with pytest.raises(RuleViolation, match=re.escape(says)):
        decide(state, event, POLICY, NOW)


NOTE_STATES = [
    *(pytest.param(ticket(s), id=s.value) for s in Status),
    pytest.param(ticket(CL, locked=True), id="locked"),
]


@pytest.mark.parametrize("state", NOTE_STATES)
def test_operator_note_changes_nothing(state: TicketState) -> None:
    """An operator's note, even on a locked ticket, changes neither status, clock nor lock."""
    assert_unchanged(decide(state, op("note"), POLICY, NOW), state)


@pytest.mark.parametrize(
    ("start", "event"),
    [
        pytest.param(AO, op("status", AO), id="ao-status-same"),
        pytest.param(IP, op("take"), id="ip-take-again"),
        pytest.param(IP, op("status", IP), id="ip-status-same"),
        pytest.param(CL, op("close"), id="closed-close-again"),
        pytest.param(CNR, op("close"), id="cnr-close"),
    ],
)
def test_request_for_the_current_status_records_no_transition(start: Status, event: Event) -> None:
    """Asking for the status a ticket already has records no transition and sends no mail."""
    state = ticket(start)
    assert_unchanged(decide(state, event, POLICY, NOW), state)


# --- customer messages and awaiting_since ----------------------------------------------------


@pytest.mark.parametrize(
    ("start", "moves"),
    [
        pytest.param(AC, True, id="awaiting_customer"),
        pytest.param(IP, True, id="in_progress"),
        # Already in the queue: more information keeps its place (awaiting_since stays).
        pytest.param(AO, False, id="awaiting_operator"),
    ],
)
def test_customer_message_in_open_ticket_sets_awaiting_operator(start: Status, moves: bool) -> None:
    """A customer message returns an open ticket to the operators; a queued one keeps its place."""
    state = ticket(start)
    decision = decide(state, wrote(), POLICY, NOW)
    assert decision.status is AO
    assert decision.flags == frozenset()
    if moves:
        assert_moved(decision, state, AO)
    else:
        assert_unchanged(decision, state)


# --- the reopen window -----------------------------------------------------------------------

REOPEN_AGES = [
    pytest.param(0 * DAY, True, id="just-closed"),
    pytest.param(29 * DAY, True, id="29-days"),
    pytest.param(30 * DAY, True, id="exactly-30-days"),
    pytest.param(30 * DAY + SECOND, False, id="30-days-and-1s"),
    pytest.param(31 * DAY, False, id="31-days"),
    pytest.param(400 * DAY, False, id="400-days"),
]


@pytest.mark.parametrize("closed_status", [CL, CNR], ids=["closed", "closed_no_reply"])
@pytest.mark.parametrize(("age", "reopens"), REOPEN_AGES)
def test_customer_message_after_closing_reopens_within_window_else_follow_up(
    closed_status: Status, age: timedelta, reopens: bool
) -> None:
    """Mail up to 30 days after closing reopens the ticket; later, it opens a linked follow-up."""
    state = ticket(closed_status, closed_at=NOW - age)
    decision = decide(state, wrote(), POLICY, NOW)
    if reopens:
        assert_moved(decision, state, AO)
        assert decision.notices == ("reopened",)
        assert Flag.FOLLOW_UP not in decision.flags
    else:
        # The old ticket stays closed; the message opens a new, linked ticket. Nothing dropped.
        assert_new_ticket(decision, Disposition.FOLLOW_UP)
        assert decision.flags == frozenset({Flag.FOLLOW_UP})
        assert decision.notices == ("follow_up",)
        assert any(f"#{state.number}" in line for line in decision.trace)


@pytest.mark.parametrize(
    ("age", "reopens"),
    [
        pytest.param(7 * DAY, True, id="7-days"),
        pytest.param(7 * DAY + SECOND, False, id="7-days-and-1s"),
    ],
)
def test_reopen_window_is_a_setting(age: timedelta, reopens: bool) -> None:
    """The reopen window follows the reopen_days setting, to the second."""
    state = ticket(CL, closed_at=NOW - age)
    decision = decide(state, wrote(), Policy(reopen_days=7), NOW)
    expected = Disposition.APPEND if reopens else Disposition.FOLLOW_UP
    assert decision.disposition is expected
    assert decision.status is AO


@pytest.mark.parametrize(
    "age",
    [0 * DAY, DAY, 29 * DAY, 30 * DAY, 31 * DAY],
    ids=["same-moment", "1-day", "29-days", "30-days", "31-days"],
)
@pytest.mark.parametrize(
    "event",
    [wrote(), wrote(nudge=True)],
    ids=["message", "nudge"],
)
def test_locked_ticket_is_never_reopened(age: timedelta, event: CustomerWrote) -> None:
    """Mail to an administratively closed ticket never reopens it: a follow-up holds it."""
    state = ticket(CL, locked=True, closed_at=NOW - age)
    decision = decide(state, event, POLICY, NOW)
    # The locked ticket itself is not appended to: a follow-up ticket holds the message.
    assert_new_ticket(decision, Disposition.FOLLOW_UP)
    assert {Flag.LOCKED, Flag.FOLLOW_UP} <= decision.flags
    assert decision.notices == ("locked_follow_up",)
    assert (Flag.NUDGE in decision.flags) is event.nudge


@pytest.mark.parametrize("age", [DAY, 31 * DAY], ids=["reopens", "follow-up"])
def test_nudge_that_reopens_or_opens_a_follow_up_stays_flagged(age: timedelta) -> None:
    """A nudge that reopens a ticket or opens a follow-up still carries its nudge flag."""
    decision = decide(ticket(CL, closed_at=NOW - age), wrote(nudge=True), POLICY, NOW)
    assert decision.status is AO
    assert Flag.NUDGE in decision.flags


def test_second_operator_reply_reaches_the_customer_and_restarts_their_clock() -> None:
    """Another operator reply while awaiting the customer is mailed and restarts the 30 days."""
    state = ticket(AC)
    decision = decide(state, op("reply"), POLICY, NOW)
    assert decision.status is AC
    assert decision.changes == ()
    assert decision.notices == ("operator_reply",)
    assert decision.awaiting_since == NOW
    # ...so the auto-close counts 30 days from this answer, not from the first one.
    later = replace(state, awaiting_since=decision.awaiting_since)
    assert decide(later, TimerFired(at=NOW), POLICY, NOW + 30 * DAY).status is AC
    assert decide(later, TimerFired(at=NOW), POLICY, NOW + 31 * DAY).status is CNR


# --- nudges and automatic mail -------------------------------------------------------------


@pytest.mark.parametrize("start", [AO, IP], ids=["awaiting_operator", "in_progress"])
def test_nudge_keeps_status_and_awaiting_since(start: Status) -> None:
    """A nudge ("any news?") keeps the ticket's status and its place in the queue."""
    state = ticket(start)
    decision = decide(state, wrote(nudge=True), POLICY, NOW)
    assert_unchanged(decision, state)
    assert decision.awaiting_since == SINCE
    assert decision.flags == frozenset({Flag.NUDGE})


AUTO_STATES = [
    *(pytest.param(ticket(s), id=s.value) for s in Status),
    pytest.param(ticket(CL, closed_at=NOW - 31 * DAY), id="closed-window-lapsed"),
    pytest.param(ticket(CL, locked=True), id="locked"),
]


@pytest.mark.parametrize("state", AUTO_STATES)
@pytest.mark.parametrize(
    "event",
    [wrote(auto=True), wrote(auto=True, nudge=True), wrote(auto=True, close=True)],
    ids=["auto", "auto-nudge", "auto-#close"],
)
def test_automatic_mail_changes_neither_status_nor_any_clock(
    state: TicketState, event: CustomerWrote
) -> None:
    """Automatic mail, even one saying #close, moves no status and no clock."""
    decision = decide(state, event, POLICY, NOW)
    assert_unchanged(decision, state)
    assert decision.flags == frozenset({Flag.AUTO})


# --- the customer's #close -------------------------------------------------------------------


@pytest.mark.parametrize("start", [AO, IP, AC], ids=["ao", "in_progress", "ac"])
def test_customer_close_command_closes(start: Status) -> None:
    """The customer's #close closes an open ticket as closed by the customer, without a lock."""
    state = ticket(start)
    decision = decide(state, wrote(close=True), POLICY, NOW)
    assert_moved(decision, state, CL)
    assert decision.changes[0].reason == "closed by customer"
    assert decision.flags == frozenset({Flag.CLOSE})
    assert decision.locked is False


@pytest.mark.parametrize(
    "age",
    [DAY, 31 * DAY],
    ids=["within-window", "window-lapsed"],
)
@pytest.mark.parametrize("closed_status", [CL, CNR], ids=["closed", "closed_no_reply"])
@pytest.mark.parametrize("locked", [False, True], ids=["unlocked", "locked"])
def test_customer_close_on_closed_ticket_neither_reopens_nor_opens(
    closed_status: Status, age: timedelta, locked: bool
) -> None:
    """#close sent to a closed ticket neither reopens it nor opens a follow-up."""
    state = ticket(closed_status, closed_at=NOW - age, locked=locked)
    decision = decide(state, wrote(close=True), POLICY, NOW)
    assert_unchanged(decision, state)
    assert decision.flags == frozenset({Flag.CLOSE})


# --- the scheduler: auto-close ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("waited", "closes"),
    [
        pytest.param(29 * DAY, False, id="29-days"),
        pytest.param(30 * DAY, False, id="exactly-30-days"),
        pytest.param(30 * DAY + SECOND, True, id="30-days-and-1s"),
        pytest.param(31 * DAY, True, id="31-days"),
    ],
)
def test_auto_close_after_more_than_30_days_awaiting_customer(
    waited: timedelta, closes: bool
) -> None:
    """Over 30 days (not exactly 30) awaiting the customer closes without reply, and tells them."""
    state = TicketState(7, AC, 42, awaiting_since=NOW - waited, closed_at=None)
    no_reminder = Policy(remind_days_before=0)
    decision = decide(state, TimerFired(at=NOW), no_reminder, NOW)
    if closes:
        assert_moved(decision, state, CNR)
        assert decision.notices == ("auto_closed",)  # the customer is told
    else:
        assert_unchanged(decision, state)


def test_auto_close_period_is_a_setting() -> None:
    """The auto-close period follows the auto_close_days setting."""
    state = TicketState(7, AC, 42, awaiting_since=NOW - 6 * DAY, closed_at=None)
    assert decide(state, TimerFired(at=NOW), Policy(auto_close_days=5), NOW).status is CNR
    assert decide(state, TimerFired(at=NOW), Policy(auto_close_days=6), NOW).status is AC


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(TicketState(7, AO, 42, NOW - 90 * DAY, None), id="ao-long-waiting"),
        pytest.param(TicketState(7, IP, 42, NOW - 90 * DAY, None), id="ip-long-waiting"),
        pytest.param(TicketState(7, CL, 42, None, NOW - 90 * DAY), id="closed-long-ago"),
        pytest.param(TicketState(7, CNR, 42, None, NOW - 90 * DAY), id="cnr-long-ago"),
        pytest.param(TicketState(7, AC, 42, None, None), id="ac-without-clock"),
        pytest.param(ticket(CL, locked=True), id="locked"),
    ],
)
def test_timer_auto_closes_nothing_but_awaiting_customer(state: TicketState) -> None:
    """The timer closes only tickets awaiting the customer; long-open or closed ones stay."""
    assert_unchanged(decide(state, TimerFired(at=NOW), POLICY, NOW), state)


# --- the scheduler: the reminder before auto-close -------------------------------------------


@pytest.mark.parametrize(
    ("waited", "reminds"),
    [
        pytest.param(22 * DAY, False, id="day-22"),
        pytest.param(23 * DAY - SECOND, False, id="just-before-day-23"),
        pytest.param(23 * DAY, True, id="day-23"),
        pytest.param(29 * DAY, True, id="day-29"),
    ],
)
def test_reminder_seven_days_before_auto_close(waited: timedelta, reminds: bool) -> None:
    """The reminder is due from 30 − 7 = 23 days of waiting; nothing else changes."""
    state = TicketState(7, AC, 42, awaiting_since=NOW - waited, closed_at=None)
    decision = decide(state, TimerFired(at=NOW), POLICY, NOW)
    assert decision.status is AC and not decision.changed
    assert decision.awaiting_since == state.awaiting_since
    assert decision.notices == (("reminder",) if reminds else ())


def test_reminder_fires_once_per_waiting_period() -> None:
    """Once reminded about this awaiting_since, no second reminder; a new period gets one."""
    since = NOW - 25 * DAY
    reminded = TicketState(7, AC, 42, awaiting_since=since, closed_at=None, reminded_for=since)
    assert decide(reminded, TimerFired(at=NOW), POLICY, NOW).notices == ()
    older = TicketState(7, AC, 42, awaiting_since=since, closed_at=None, reminded_for=since - DAY)
    assert decide(older, TimerFired(at=NOW), POLICY, NOW).notices == ("reminder",)


def test_reminder_is_a_setting_and_can_be_off() -> None:
    """remind_days_before=0 sends none; 2 sends it from day 28."""
    state = TicketState(7, AC, 42, awaiting_since=NOW - 27 * DAY, closed_at=None)
    assert decide(state, TimerFired(at=NOW), Policy(remind_days_before=0), NOW).notices == ()
    assert decide(state, TimerFired(at=NOW), Policy(remind_days_before=2), NOW).notices == ()
    later = TicketState(7, AC, 42, awaiting_since=NOW - 28 * DAY, closed_at=None)
    assert decide(later, TimerFired(at=NOW), Policy(remind_days_before=2), NOW).notices == (
        "reminder",
    )


def test_cutoffs_agree_with_the_timer() -> None:
    """The SQL cut-offs select exactly the tickets the machine closes or reminds."""
    due = cutoffs(POLICY, NOW)
    assert due.close_waiting_before == NOW - 30 * DAY
    assert due.remind_waiting_before == NOW - 23 * DAY
    assert due.reopen_closed_before == NOW - 30 * DAY
    assert cutoffs(Policy(remind_days_before=0), NOW).remind_waiting_before is None


# --- the unanswered watch ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "waited", "escalated_ago", "due"),
    [
        pytest.param(AO, 23 * HOUR, None, False, id="23h-not-yet"),
        pytest.param(AO, 25 * HOUR, None, True, id="25h-due"),
        pytest.param(AO, 49 * HOUR, 2 * HOUR, False, id="listed-2h-ago"),
        pytest.param(AO, 49 * HOUR, 24 * HOUR, True, id="listed-a-day-ago"),
        pytest.param(IP, 49 * HOUR, None, False, id="in-progress-is-being-worked"),
        pytest.param(AC, 49 * HOUR, None, False, id="waiting-for-customer"),
    ],
)
def test_escalation_of_tickets_waiting_for_an_operator(
    status: Status, waited: timedelta, escalated_ago: timedelta | None, due: bool
) -> None:
    """Waiting for an operator longer than 24 h is escalated, at most once a day per ticket."""
    escalated = None if escalated_ago is None else NOW - escalated_ago
    assert escalation_due(status, NOW - waited, escalated, POLICY, NOW) is due


# --- duplicates ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [AO, IP])
def test_duplicate_request_joins_the_open_ticket_unchanged(status: Status) -> None:
    """A new request equal to an open ticket's is appended there: no move, one notice."""
    state = TicketState(7, status, 42, awaiting_since=NOW - DAY, closed_at=None)
    decision = decide(state, CustomerWrote(at=NOW, duplicate=True), POLICY, NOW)
    assert decision.disposition is Disposition.APPEND
    assert decision.status is status and not decision.changed
    assert decision.awaiting_since == state.awaiting_since
    assert Flag.DUPLICATE in decision.flags
    assert decision.notices == ("duplicate",)


@pytest.mark.parametrize("status", [AO, IP])
def test_repeat_inside_the_ticket_is_collapsed(status: Status) -> None:
    """Content already in the ticket, sent again while it waits for us: no work, no notice."""
    state = TicketState(7, status, 42, awaiting_since=NOW - DAY, closed_at=None)
    decision = decide(state, CustomerWrote(at=NOW, repeat=True), POLICY, NOW)
    assert_unchanged(decision, state)
    assert decision.flags == frozenset({Flag.DUPLICATE})


@pytest.mark.parametrize("status", [AO, IP])
def test_close_sent_again_still_closes(status: Status) -> None:
    """A "#close" repeated word for word (closed, reopened, closed again) still closes."""
    state = TicketState(7, status, 42, awaiting_since=NOW - DAY, closed_at=None)
    decision = decide(state, CustomerWrote(at=NOW, repeat=True, close=True), POLICY, NOW)
    assert_moved(decision, state, Status.CLOSED)


def test_repeat_while_waiting_for_the_customer_still_answers() -> None:
    """A repeat is still the customer's answer when we wait for them: never left unanswered."""
    state = TicketState(7, AC, 42, awaiting_since=NOW - DAY, closed_at=None)
    decision = decide(state, CustomerWrote(at=NOW, repeat=True), POLICY, NOW)
    assert_moved(decision, state, AO)
    assert Flag.DUPLICATE in decision.flags


def test_duplicate_request_while_waiting_for_the_customer_is_their_answer() -> None:
    """The request sent again while we wait for them: back to operators, and they are told."""
    state = TicketState(7, AC, 42, awaiting_since=NOW - DAY, closed_at=None)
    decision = decide(state, CustomerWrote(at=NOW, duplicate=True), POLICY, NOW)
    assert_moved(decision, state, AO)
    assert Flag.DUPLICATE in decision.flags
    assert decision.notices == ("duplicate",)


def test_repeated_text_that_opens_a_follow_up_is_not_flagged_duplicate() -> None:
    """A follow-up's first message is shown in full: nothing earlier in it repeats it."""
    state = TicketState(7, CL, 42, awaiting_since=None, closed_at=NOW - 40 * DAY)
    decision = decide(state, CustomerWrote(at=NOW, repeat=True), POLICY, NOW)
    assert decision.disposition is Disposition.FOLLOW_UP
    assert Flag.DUPLICATE not in decision.flags
