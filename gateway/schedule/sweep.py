"""Running the jobs: one until nothing is due, or every one once (``helpdesk sweep``).

A real run takes a transaction per batch, so a crash loses one batch's work
at most and another instance can take over the rest; a dry run does all the
work in one transaction and rolls it back, so what it reports is exactly what
a real run would do. ``helpdesk import`` runs the jobs inside its own
transactions (:func:`sweep_in`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from gateway.schedule.jobs import (
    SweepRules,
    auto_close,
    escalate,
    merge_duplicates,
    remind,
    reopen_lapse,
)
from gateway.store import leases

JOBS = ("auto_close", "remind", "reopen_lapse", "escalate", "dedup")


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
            report.notifications_due = leases.count_due(session, now)
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
