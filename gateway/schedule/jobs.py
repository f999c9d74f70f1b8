"""The 30-day rules and the duplicate catcher's second look, each as one job (issue 5).

    ============  =============================================================
    auto_close    awaiting_customer longer than ``auto_close_days`` → closed_no_reply,
                  the customer told
    remind        ``remind_days_before`` that: one reminder per waiting period
    reopen_lapse  closed longer than ``reopen_days`` → marked not reopenable
                  (intake decides by date anyway; the mark makes listings cheap)
    escalate      awaiting an operator longer than ``escalate_after`` → one digest
                  to the operators, each ticket at most once per ``escalate_every``
    dedup         two open tickets of one customer with the same request (two
                  instances accepted both copies at once) → the later is merged
                  into the earlier, the customer told once
    ============  =============================================================

Each job loads candidates from the store in batches, asks ``desk`` what is
due with the time it is handed (guarantee 7), and writes the result in the
batch's transaction; a batch is claimed with ``SKIP LOCKED`` (see
``store.timers``), so every job is safe in several instances at once. The
same code runs from APScheduler inside ``helpdesk serve`` and once from
``helpdesk sweep``; ``dry_run`` does all the work in one transaction and rolls
it back, so what it reports is exactly what a real run would do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from gateway.desk import dedup, windows
from gateway.desk.machine import decide
from gateway.desk.model import Policy, TimerFired
from gateway.mail.subject import format_token
from gateway.notify.enqueue import Notice, Notices
from gateway.operations import Refused
from gateway.operations.tickets import merge_states
from gateway.store import timers
from gateway.store.tickets import OPEN_VALUES, state_of


@dataclass(frozen=True)
class SweepRules:
    """What the jobs read from the settings, handed in by ``app``."""

    policy: Policy = field(default_factory=Policy)
    notices: Notices | None = None  # None: change tickets, send nothing
    token_format: str = "[#{number}]"
    batch: int = 500
    dedup_window: timedelta = timedelta(hours=1)  # how far back the dedup sweep looks
    # Issue 14.7: serve's dedup job compares only tickets made this recently (twice its
    # interval) with the rest of their customer's window; earlier runs compared the others.
    # None (``helpdesk sweep``): every ticket of the window is new.
    dedup_fresh: timedelta | None = None


# --- the jobs: each does one batch in the caller's transaction, returns what it did ----------


def auto_close(session: Session, rules: SweepRules, now: datetime) -> list[int]:
    due = windows.cutoffs(rules.policy, now)
    states = timers.waiting_for_customer(session, due.close_waiting_before, rules.batch)
    decided = [(s, decide(s, TimerFired(now), rules.policy, now)) for s in states]
    decided = [(s, d) for s, d in decided if d.changed]
    timers.apply_timer(session, decided, now)
    _notify(
        session,
        rules,
        now,
        [
            Notice(s.number, "auto_closed", {"days": (now - s.awaiting_since).days})
            for s, d in decided
            if "auto_closed" in d.notices and s.awaiting_since is not None
        ],
    )
    return [s.number for s, _ in decided]


def remind(session: Session, rules: SweepRules, now: datetime) -> list[int]:
    due = windows.cutoffs(rules.policy, now)
    if due.remind_waiting_before is None:
        return []
    states = timers.waiting_for_customer(
        session,
        due.remind_waiting_before + timedelta(microseconds=1),  # "<=": day 23 itself reminds
        rules.batch,
        since=due.close_waiting_before,
        unreminded=True,
    )
    decided = [(s, decide(s, TimerFired(now), rules.policy, now)) for s in states]
    decided = [(s, d) for s, d in decided if "reminder" in d.notices]
    timers.apply_timer(session, decided, now)
    notices = []
    for s, _ in decided:
        assert s.awaiting_since is not None
        close_on = windows.auto_close_on(s.awaiting_since, rules.policy)
        left = windows.days_left(s.awaiting_since, now, rules.policy)
        notices.append(
            Notice(s.number, "reminder", {"days_left": left, "close_on": f"{close_on:%d.%m.%Y}"})
        )
    _notify(session, rules, now, notices)
    return [s.number for s, _ in decided]


def reopen_lapse(session: Session, rules: SweepRules, now: datetime) -> list[int]:
    due = windows.cutoffs(rules.policy, now)
    return timers.lapse_reopen_window(session, due.reopen_closed_before, rules.batch)


def escalate(session: Session, rules: SweepRules, now: datetime) -> list[int]:
    due = windows.cutoffs(rules.policy, now)
    found = timers.unanswered(
        session, due.escalate_waiting_before, due.escalated_before, rules.batch
    )
    found = [
        t
        for t in found
        if windows.escalation_due(t.status, t.awaiting_since, t.escalated_at, rules.policy, now)
    ]
    if not found:
        return []
    numbers = [t.number for t in found]
    timers.mark_escalated(session, numbers, now)
    if rules.notices is not None:
        hours = int(rules.policy.escalate_after.total_seconds() // 3600)
        locale = rules.notices.team_locale
        subject = {
            "ru": f"Без ответа дольше {hours} ч.: {len(found)}",
            "en": f"Unanswered for over {hours} h: {len(found)}",
        }.get(locale, f"Unanswered for over {hours} h: {len(found)}")
        context = {
            "subject": subject,
            "hours": hours,
            "tickets": [
                {
                    "number": t.number,
                    "token": format_token(t.number, rules.token_format),
                    "subject": t.subject,
                    "customer": t.customer,
                    "status_label": t.status.label(locale),
                    "waiting_hours": int((now - t.awaiting_since).total_seconds() // 3600),
                    "nudges": t.nudges,
                }
                for t in found
            ],
        }
        rules.notices.digest(session, "escalation", now, context)
    return numbers


def merge_duplicates(session: Session, rules: SweepRules, now: datetime) -> list[tuple[int, int]]:
    """Open tickets of one customer made in the window that repeat one another.

    Intake already compares every new request with the customer's open tickets;
    what slips past is two copies committed at the same moment by two instances,
    neither seeing the other. So only tickets made within ``dedup_window`` are
    read, and only customers with two or more of them are compared: one indexed
    query, whatever the table holds, and no write lock held for long. In serve,
    only the tickets made since about the last run are compared (``dedup_fresh``),
    with their customer's others: the cost follows the new tickets (issue 14.7).
    """
    merged: list[tuple[int, int]] = []
    since = now - rules.dedup_window
    fresh_since = max(since, now - rules.dedup_fresh) if rules.dedup_fresh else since
    fresh = {t.id for t in timers.recent_requests(session, fresh_since)}
    if not fresh:
        return merged
    by_customer: dict[int, list[int]] = {}
    for t in timers.recent_requests_of_customers(session, since, fresh_since):
        by_customer.setdefault(t.customer_id, []).append(t.id)
    numbers = [n for group in by_customer.values() if len(group) > 1 for n in group]
    requests = timers.requests_of(session, numbers)
    for group in by_customer.values():
        if len(group) < 2:
            continue
        kept: list[dedup.Candidate] = []
        for number in sorted(group):
            digest, normalized = requests[number]
            match = None
            if number in fresh:  # the others were compared by the runs that saw them new
                match = dedup.best_match(normalized, kept[-50:], rules.policy.duplicate_similarity)
            if match is None or not _merge(session, rules, now, number, match):
                kept.append(dedup.Candidate(number, True, digest, normalized))
            else:
                merged.append((number, match.number))
    return merged


def _merge(
    session: Session, rules: SweepRules, now: datetime, number: int, match: dedup.Match
) -> bool:
    """Merge ``number`` into the match, unless another instance did or it moved on."""
    locked = timers.lock_pair(session, match.number, number)
    source, target = locked.get(number), locked.get(match.number)
    if (
        source is None
        or target is None
        or source.duplicate_of is not None
        or source.status not in OPEN_VALUES
        or target.status not in OPEN_VALUES
    ):
        return False
    how = "the same request" if match.exact else f"{match.score:.0%} like the request"
    try:
        merge_states(
            session,
            state_of(source),
            state_of(target),
            actor="system:dedup-sweep",
            reason=f"duplicate of #{match.number} ({how}); messages moved there",
            now=now,
            policy=rules.policy,
            tell=rules.notices,
        )
    except Refused:  # the machine says no (a locked target): leave both as they are
        return False
    return True


def _notify(session: Session, rules: SweepRules, now: datetime, notices: list[Notice]) -> None:
    if rules.notices is not None and notices:
        rules.notices.many(session, notices, now)
