"""The timer jobs during a replay: run when they fall due, as of when they fell due.

Auto-close and the reopen window's lapse change how later mail is handled (a
reply after the window is a follow-up, not an answer), so ``helpdesk import``
runs them between messages, as of the hour after they fell due. Reminders are
not replayed: a reminder changes nothing about a later mail, and the old
system never sent one; a wait still current at the end of the import is
reminded by the live scheduler.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from gateway.desk.windows import timer_due
from gateway.schedule.jobs import SweepRules
from gateway.schedule.sweep import SweepReport, sweep_in
from gateway.store import timers

TIMER_JOBS = ("auto_close", "reopen_lapse")
_COUNTS_FROM = {"auto_close": "waiting", "reopen_lapse": "closed"}
HOUR = timedelta(hours=1)


class Clockwork:
    """The timer jobs, run during the replay when they are due, as of when they were due.

    Running every job before every message would cost more than the message. So
    each job's first due moment is kept: read from the store after the job runs
    (the oldest waiting or reopenable ticket, through the indexes the
    jobs use), and pulled earlier by every message, since any message may start a
    new wait. Before a message, the jobs due by its date run as of the hour after
    their due moment, in order, until none is due: a ticket left waiting closes
    within the hour after its 30th day, even when the archive's next mail is weeks
    later, and a reply that came after it is a follow-up, not an answer.
    """

    def __init__(self, rules: SweepRules) -> None:
        self.rules = rules
        policy = rules.policy
        self.due: dict[str, datetime | None] | None = None  # None: not read yet
        self._after = {
            "auto_close": timedelta(days=policy.auto_close_days),
            "reopen_lapse": timedelta(days=policy.reopen_days),
        }

    def reset(self, due: dict[str, datetime | None] | None) -> None:
        self.due = None if due is None else dict(due)

    def advance(self, session: Session, to: datetime) -> SweepReport | None:
        """Run what falls due up to ``to``; what the jobs did, or None if nothing ran."""
        if self.due is None:
            self._read(session, TIMER_JOBS)
        assert self.due is not None
        report: SweepReport | None = None
        last: datetime | None = None
        while True:
            due = [d for d in self.due.values() if d is not None and d <= to]
            if not due:
                return report
            # the hour after the first due moment: strictly after it, as the jobs' "<" needs
            moment = min(min(due).replace(minute=0, second=0, microsecond=0) + HOUR, to)
            if moment == last:  # due exactly at ``to``: it is, after this message
                return report
            last = moment
            jobs = tuple(j for j in TIMER_JOBS if (d := self.due[j]) is not None and d < moment)
            report = sweep_in(session, self.rules, moment, jobs=jobs, report=report)
            self._read(session, jobs)

    def passed(self, at: datetime) -> None:
        """A message at ``at`` may have started a wait: no job is due later than its end."""
        assert self.due is not None
        for job, after in self._after.items():
            if after is not None and ((d := self.due[job]) is None or at + after < d):
                self.due[job] = at + after

    def _read(self, session: Session, jobs: tuple[str, ...]) -> None:
        """Where the jobs that just ran (all, at the start) are next due. The others' moments
        stay: a job's work can only make another's first due moment later, or (a close
        starting a reopen window) no earlier than ``passed`` already put it."""
        found = timers.oldest(session, [_COUNTS_FROM[j] for j in jobs])
        due = timer_due(
            self.rules.policy,
            waiting=found.get("waiting"),
            closed=found.get("closed"),
        )
        self.due = {**(self.due or {}), **{job: getattr(due, job) for job in jobs}}
