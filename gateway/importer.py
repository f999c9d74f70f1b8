"""``helpdesk import``: an old support mailbox replayed through intake, as if live (issue 6).

Why a replay and not a bulk load: threading, statuses, duplicates and the
30-day rules are decided by the intake pipeline and the timer jobs; a second
loader would drift from them. So every message goes through ``ingest`` in date
order, with the clock set to the message's date, and the timer jobs that decide
how later mail is handled (auto-close, the reopen window's lapse) run within the
hour after they fall due. The result is what the gateway would hold had it been
running all along, to within that hour.

History is not news: the replay sends nothing (intake and the jobs run with no
notices). Operators' answers are trusted by their From address, since the
archive is the team's own. Idempotent and resumable for free: intake already
has one effect per Message-ID (or hash of the bytes), so a second run, or one
after an interruption, skips what is stored and carries on; the timer jobs run
at moments read from the store, so a resumed run applies them as an
uninterrupted one does.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from multiprocessing.pool import AsyncResult
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from gateway import ingest
from gateway.archive import Archive, Entry
from gateway.desk.machine import timer_due
from gateway.outcome import Delivery, Effect, Outcome, OutcomeKind
from gateway.store import repo, timers
from gateway.store.group_commit import apply_in
from gateway.store.notices import Notice, NoticeRules, notify_many
from gateway.sweep import SweepReport, SweepRules, sweep_in

# The rules that change how later mail is handled. Reminders are not replayed: a reminder
# changes nothing about a later mail, and the old system never sent one; a wait still
# current at the end of the import is reminded by the live scheduler.
TIMER_JOBS = ("auto_close", "reopen_lapse")
_COUNTS_FROM = {"auto_close": "waiting", "reopen_lapse": "closed"}
HOUR = timedelta(hours=1)
CHUNK = 64  # messages per parse job
SMALL = 2000  # fewer messages than this are parsed in the writing process: no start-up cost


class ImportFailed(Exception):
    """The store failed under the import; what was committed stays, a rerun continues."""


@dataclass(frozen=True)
class ImportRules:
    """Intake's and the jobs' rules, both without notices (history is not news)."""

    intake: ingest.IntakeRules
    sweep: SweepRules
    batch: int = 500

    @classmethod
    def quiet(cls, intake: ingest.IntakeRules, sweep: SweepRules, batch: int = 500) -> ImportRules:
        secret = intake.notices.secret if intake.notices is not None else intake.secret
        return cls(
            replace(intake, notices=None, secret=secret), replace(sweep, notices=None), batch
        )


@dataclass
class ImportReport:
    """What one run did; ``as_dict`` is the ``--json`` output."""

    paths: list[str]
    dry_run: bool
    read: int = 0
    already_imported: int = 0  # stored by an earlier run
    copies: int = 0  # the same Message-ID again within the archive (several recipients)
    tickets_created: int = 0
    threaded: int = 0  # customers' messages appended to their ticket
    operator_messages: int = 0
    held: int = 0  # a stranger wrote into someone's ticket
    bounces: int = 0
    duplicates: list[dict] = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)
    ignored: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)
    auto_closed: int = 0
    reopen_lapsed: int = 0
    first_date: datetime | None = None
    last_date: datetime | None = None
    dated_by: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    created: list[int] = field(default_factory=list)  # tickets made by this run
    open_tickets: list[int] = field(default_factory=list)  # of those, still open at the end
    notified: int | None = None  # ``imported`` mails queued (with --notify-open)

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "paths": self.paths,
            "dry_run": self.dry_run,
            "messages_read": self.read,
            "already_imported": self.already_imported,
            "copies_of_one_message": self.copies,
            "tickets_created": self.tickets_created,
            "messages_threaded": self.threaded,
            "operator_messages": self.operator_messages,
            "held_from_strangers": self.held,
            "bounces": self.bounces,
            "duplicates_collapsed": len(self.duplicates),
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "ignored": self.ignored,
            "refused": self.refused,
            "rules_applied": {
                "auto_closed": self.auto_closed,
                "reopen_lapsed": self.reopen_lapsed,
            },
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "dated_by": self.dated_by,
            "seconds": round(self.seconds, 3),
            "messages_per_second": round(self.rate, 1),
            "open_tickets": self.open_tickets,
            **({"notifications_queued": self.notified} if self.notified is not None else {}),
        }


@dataclass(frozen=True, slots=True)
class _Item:
    entry: Entry
    prep: ingest.Prepared


@dataclass(frozen=True, slots=True)
class _Done:
    outcome: Outcome
    swept: SweepReport | None = None


Progress = Callable[[int], None]  # called with the number of messages just handled


def run(
    sessions: sessionmaker[Session],
    archive: Archive,
    rules: ImportRules,
    clock: Callable[[], datetime],
    *,
    dry_run: bool = False,
    entries: list[Entry] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Replay the archive. Real: a transaction per batch. Dry: one, rolled back at the end.

    ``workers`` processes parse (and cut quotes) ahead of the one that writes; None:
    one per spare core, none for a small archive.
    """
    started = clock()
    report = ImportReport([str(p) for p in archive.paths], dry_run)
    entries = archive.entries() if entries is None else entries
    if workers is None:
        workers = 0 if len(entries) < SMALL else max(1, (os.cpu_count() or 2) - 1)
    seen: set[str] = set()
    timers_ = _Timers(rules.sweep)
    work = _worker(rules, timers_)

    def shunt(session: Session, item: _Item, exc: Exception) -> _Done:
        return _Done(ingest.shunt(session, item.prep.delivery, exc, item.entry.at))

    def apply(session: Session, batch: list[_Item]) -> list[_Done | BaseException]:
        before = None if timers_.due is None else dict(timers_.due)
        return apply_in(session, batch, work, shunt, before_retry=lambda: timers_.reset(before))

    with sessions() as session:
        if dry_run:
            session.begin()
        try:
            for batch in _batches(archive, entries, rules, workers):
                try:
                    if dry_run:
                        results = apply(session, batch)
                        session.expunge_all()
                    else:
                        with session.begin():
                            results = apply(session, batch)
                except Exception as exc:
                    raise ImportFailed(
                        f"the database failed ({exc.__class__.__name__}) after "
                        f"{report.read} messages; what was committed is kept, so run the same "
                        "command again to continue"
                    ) from exc
                for item, result in zip(batch, results, strict=True):
                    if isinstance(result, BaseException):
                        raise ImportFailed(
                            f"could not import {archive.label(item.entry)}: {result}; what was "
                            "committed is kept, so run the same command again to continue"
                        ) from result
                    _count(report, archive, item, result, seen)
                if progress is not None:
                    progress(len(batch))
            report.open_tickets = _finish(session, timers_, started, report, dry_run)
        finally:
            if dry_run:
                session.rollback()
    report.seconds = max((clock() - started).total_seconds(), 1e-9)
    return report


def tell_open(
    sessions: sessionmaker[Session], numbers: list[int], notices: NoticeRules, now: datetime
) -> int:
    """``--notify-open``: one ``imported`` mail per ticket still open, so its customer
    learns the number and has a reply address that threads into it. The only news in
    imported history; queued for ``helpdesk serve`` (or ``sweep``) to send."""
    queued = 0
    for i in range(0, len(numbers), 500):
        with sessions() as session, session.begin():
            rows = notify_many(
                session, [Notice(n, "imported") for n in numbers[i : i + 500]], notices, now
            )
        queued += sum(r is not None for r in rows)
    return queued


def _finish(
    session: Session, clockwork: _Timers, now: datetime, report: ImportReport, dry_run: bool
) -> list[int]:
    """The rules up to now (a ticket left waiting in 2019 was closed in 2019, quietly),
    then which of this run's tickets are still open."""

    def final() -> list[int]:
        swept = clockwork.advance(session, now)
        if swept is not None:
            report.auto_closed += len(swept.auto_closed)
            report.reopen_lapsed += len(swept.reopen_lapsed)
        return repo.open_numbers(session, report.created)

    if dry_run:
        return final()
    with session.begin():
        return final()


class _Timers:
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


def _worker(rules: ImportRules, clockwork: _Timers) -> Callable[[Session, _Item], _Done]:
    def work(session: Session, item: _Item) -> _Done:
        swept = clockwork.advance(session, item.entry.at)
        outcome = ingest.ingest(session, item.prep, rules.intake, item.entry.at)
        clockwork.passed(item.entry.at)
        return _Done(outcome, swept)

    return work


def _batches(
    archive: Archive, entries: list[Entry], rules: ImportRules, workers: int
) -> Iterator[list[_Item]]:
    """Parsed messages in date order, in batches of one transaction each."""
    batch: list[_Item] = []
    # Two batches in flight: the workers parse the next batch while this process writes
    # the current one (with less, they idle during the write and the two take turns).
    chunks_ahead = 2 * -(-rules.batch // CHUNK) + workers
    for entry, prep in _prepared(archive, entries, rules.intake.support, workers, chunks_ahead):
        batch.append(_Item(entry, prep))
        if len(batch) >= rules.batch:
            yield batch
            batch = []
    if batch:
        yield batch


def _prepared(
    archive: Archive, entries: list[Entry], support: str, workers: int, chunks_ahead: int
) -> Iterator[tuple[Entry, ingest.Prepared]]:
    """Parse in worker processes, in order, ``chunks_ahead`` chunks ahead of the writer
    (never the whole archive in memory: years of mail with attachments can be gigabytes)."""
    chunks = (entries[i : i + CHUNK] for i in range(0, len(entries), CHUNK))

    def deliveries(chunk: list[Entry]) -> list[Delivery]:
        return [Delivery(None, (support,), archive.read(e), ingest.IMPORTED) for e in chunk]

    if workers == 0:
        for chunk in chunks:
            yield from zip(chunk, prepare_all(deliveries(chunk)), strict=True)
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        ahead: deque[tuple[list[Entry], list[Delivery], AsyncResult]] = deque()
        for chunk in chunks:
            sent = deliveries(chunk)
            ahead.append((chunk, sent, pool.apply_async(parse_all, (sent,))))
            if len(ahead) > chunks_ahead:
                yield from _joined(*ahead.popleft())
        while ahead:
            yield from _joined(*ahead.popleft())


def _joined(
    chunk: list[Entry], sent: list[Delivery], result: AsyncResult
) -> Iterator[tuple[Entry, ingest.Prepared]]:
    """A worker's results with the deliveries put back: the bytes are not sent home again."""
    for entry, delivery, prep in zip(chunk, sent, result.get(), strict=True):
        yield entry, replace(prep, delivery=delivery)


def parse_all(deliveries: list[Delivery]) -> list[ingest.Prepared]:
    """A worker's job: ``prepare_all``, returned without the bytes the writer already has."""
    return [replace(p, delivery=_SENT) for p in prepare_all(deliveries)]


_SENT = Delivery(None, (), b"", ingest.IMPORTED)


def prepare_all(deliveries: list[Delivery]) -> list[ingest.Prepared]:
    """Parse and key; cut the quotes of replies (where intake will want the new words)."""
    return [ingest.prepare(d, cut=ingest.CUT_IF_REPLY) for d in deliveries]


def _count(
    report: ImportReport, archive: Archive, item: _Item, done: _Done, seen: set[str]
) -> None:
    entry, prep, outcome = item.entry, item.prep, done.outcome
    report.read += 1
    report.first_date = report.first_date or entry.at
    report.last_date = entry.at
    report.dated_by[entry.dated_by] = report.dated_by.get(entry.dated_by, 0) + 1
    if done.swept is not None:
        report.auto_closed += len(done.swept.auto_closed)
        report.reopen_lapsed += len(done.swept.reopen_lapsed)
    first = prep.idem_key not in seen
    seen.add(prep.idem_key)
    if outcome.kind is OutcomeKind.DUPLICATE:
        if first:
            report.already_imported += 1
        else:
            report.copies += 1
    elif outcome.kind is OutcomeKind.QUARANTINED:
        report.quarantined.append({**_about(archive, item), "reason": outcome.detail})
    elif not outcome.accepted:
        reason = outcome.detail or outcome.kind.value
        report.refused.append({**_about(archive, item), "reason": reason})
    elif outcome.effect is Effect.NEW_TICKET:
        report.tickets_created += 1
        if outcome.ticket is not None:
            report.created.append(outcome.ticket)
    elif outcome.effect in (Effect.DUPLICATE, Effect.REPEAT):
        report.duplicates.append(
            {**_about(archive, item), "ticket": outcome.ticket, "kind": outcome.effect.value}
        )
    elif outcome.effect is Effect.THREADED:
        report.threaded += 1
    elif outcome.effect is Effect.OPERATOR:
        report.operator_messages += 1
    elif outcome.effect is Effect.HELD:
        report.held += 1
    elif outcome.effect is Effect.BOUNCE:
        report.bounces += 1
    else:
        report.ignored.append({**_about(archive, item), "reason": outcome.detail})


def _about(archive: Archive, item: _Item) -> dict[str, Any]:
    """Enough to find the message by hand: file and key, Message-ID, sender, subject."""
    entry, mail = item.entry, item.prep.parsed
    return {
        "where": archive.label(entry),
        "message_id": mail.message_id if mail is not None else None,
        "from": mail.from_.key if mail is not None and mail.from_ is not None else None,
        "subject": mail.subject if mail is not None else None,
        "date": entry.at.isoformat(),
    }
