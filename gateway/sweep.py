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

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from gateway.desk import dedup
from gateway.desk.machine import cutoffs, decide, escalation_due
from gateway.desk.model import OPEN_STATUSES, Policy, TimerFired
from gateway.mail.subject import format_token
from gateway.store import outbox, repo, timers
from gateway.store.notices import Notice, NoticeRules, notify_many, notify_team_digest

OPEN_VALUES = frozenset(s.value for s in OPEN_STATUSES)
JOBS = ("auto_close", "remind", "reopen_lapse", "escalate", "dedup")


@dataclass(frozen=True)
class SweepRules:
    """What the jobs read from the settings, handed in by ``app``."""

    policy: Policy = field(default_factory=Policy)
    notices: NoticeRules | None = None  # None: change tickets, send nothing
    token_format: str = "[#{number}]"
    batch: int = 500
    dedup_window: timedelta = timedelta(hours=1)  # how far back the dedup sweep looks


@dataclass
class SweepReport:
    """What one run changed (or, dry, would change), ticket numbers per job."""

    as_of: datetime
    dry_run: bool = False
    auto_closed: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)
    reopen_lapsed: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    merged: list[tuple[int, int]] = field(default_factory=list)  # (later, into earlier)
    notifications_due: int | None = None  # dry run: what would then be due to send

    def as_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "auto_closed": self.auto_closed,
            "reminded": self.reminded,
            "reopen_lapsed": self.reopen_lapsed,
            "escalated": self.escalated,
            "merged": [{"ticket": a, "into": b} for a, b in self.merged],
            **(
                {"notifications_due": self.notifications_due}
                if self.notifications_due is not None
                else {}
            ),
        }


# --- the jobs: each does one batch in the caller's transaction, returns what it did ----------


def auto_close(session: Session, rules: SweepRules, now: datetime) -> list[int]:
    due = cutoffs(rules.policy, now)
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
    due = cutoffs(rules.policy, now)
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
    days = rules.policy.auto_close_days
    notices = []
    for s, _ in decided:
        assert s.awaiting_since is not None
        close_on = s.awaiting_since + timedelta(days=days)
        left = max(1, math.ceil((close_on - now) / timedelta(days=1)))
        notices.append(
            Notice(s.number, "reminder", {"days_left": left, "close_on": f"{close_on:%d.%m.%Y}"})
        )
    _notify(session, rules, now, notices)
    return [s.number for s, _ in decided]


def reopen_lapse(session: Session, rules: SweepRules, now: datetime) -> list[int]:
    due = cutoffs(rules.policy, now)
    return timers.lapse_reopen_window(session, due.reopen_closed_before, rules.batch)


def escalate(session: Session, rules: SweepRules, now: datetime) -> list[int]:
    due = cutoffs(rules.policy, now)
    found = timers.unanswered(
        session, due.escalate_waiting_before, due.escalated_before, rules.batch
    )
    found = [
        t
        for t in found
        if escalation_due(t.status, t.awaiting_since, t.escalated_at, rules.policy, now)
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
        notify_team_digest(session, "escalation", rules.notices, now, context)
    return numbers


def merge_duplicates(session: Session, rules: SweepRules, now: datetime) -> list[tuple[int, int]]:
    """Open tickets of one customer made in the window that repeat one another.

    Intake already compares every new request with the customer's open tickets;
    what slips past is two copies committed at the same moment by two instances,
    neither seeing the other. So only tickets made within ``dedup_window`` are
    read, and only customers with two or more of them are compared: one indexed
    query, whatever the table holds, and no write lock held for long.
    """
    merged: list[tuple[int, int]] = []
    since = now - rules.dedup_window
    by_customer: dict[int, list[int]] = {}
    for t in timers.recent_requests(session, since):
        by_customer.setdefault(t.customer_id, []).append(t.id)
    numbers = [n for group in by_customer.values() if len(group) > 1 for n in group]
    requests = timers.requests_of(session, numbers)
    for group in by_customer.values():
        if len(group) < 2:
            continue
        kept: list[dedup.Candidate] = []
        for number in sorted(group):
            digest, normalized = requests[number]
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
    repo.merge_ticket(
        session,
        number,
        match.number,
        actor="system:dedup-sweep",
        reason=f"duplicate of #{match.number} ({how}); messages moved there",
        now=now,
    )
    extra = {"original_number": match.number, "merged_number": number}
    _notify(session, rules, now, [Notice(match.number, "duplicate", extra)])
    return True


def _notify(session: Session, rules: SweepRules, now: datetime, notices: list[Notice]) -> None:
    if rules.notices is not None and notices:
        notify_many(session, notices, rules.notices, now)


# --- running them ----------------------------------------------------------------------------

Job = Callable[[Session, SweepRules, datetime], list]
_BY_NAME: dict[str, tuple[Job, str]] = {
    "auto_close": (auto_close, "auto_closed"),
    "remind": (remind, "reminded"),
    "reopen_lapse": (reopen_lapse, "reopen_lapsed"),
    "escalate": (escalate, "escalated"),
    "dedup": (merge_duplicates, "merged"),
}


def run_job(
    sessions: sessionmaker[Session],
    name: str,
    rules: SweepRules,
    now: datetime,
    report: SweepReport | None = None,
) -> SweepReport:
    """One job until nothing is due: a transaction per batch, so a crash loses one batch's
    work at most and another instance can take over the rest."""
    report = report or SweepReport(as_of=now)

    def batch() -> list:
        with sessions() as session, session.begin():
            return _BY_NAME[name][0](session, rules, now)

    _drain(name, batch, report, rules.batch)
    return report


def sweep(
    sessions: sessionmaker[Session],
    rules: SweepRules,
    now: datetime,
    *,
    dry_run: bool = False,
    jobs: tuple[str, ...] = JOBS,
) -> SweepReport:
    """Every rule once, as of ``now``. A dry run rolls everything back at the end."""
    report = SweepReport(as_of=now, dry_run=dry_run)
    if not dry_run:
        for name in jobs:
            run_job(sessions, name, rules, now, report)
        return report
    with sessions() as session:
        session.begin()
        try:
            sweep_in(session, rules, now, jobs=jobs, report=report)
            # counted before the rollback: the mails the sweep itself would write count too
            report.notifications_due = outbox.count_due(session, now)
        finally:
            session.rollback()
    return report


def sweep_in(
    session: Session,
    rules: SweepRules,
    now: datetime,
    *,
    jobs: tuple[str, ...] = JOBS,
    report: SweepReport | None = None,
) -> SweepReport:
    """Every rule once, inside the caller's transaction (a dry run; ``helpdesk import``)."""
    report = report or SweepReport(as_of=now)
    for name in jobs:
        _drain(name, lambda n=name: _BY_NAME[n][0](session, rules, now), report, rules.batch)
    return report


def _drain(name: str, batch: Callable[[], list], report: SweepReport, size: int) -> None:
    """Run batches of job ``name`` until one comes back short (the dedup job pages itself)."""
    done: list = getattr(report, _BY_NAME[name][1])
    while True:
        got = batch()
        done.extend(got)
        if name == "dedup" or len(got) < size:
            return
