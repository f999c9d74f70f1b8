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
from dataclasses import dataclass, replace
from datetime import datetime
from multiprocessing.pool import AsyncResult

from sqlalchemy.orm import Session, sessionmaker

from gateway.importer.archive import Archive, Entry
from gateway.importer.clockwork import Clockwork
from gateway.importer.report import ImportReport, count
from gateway.intake import IntakeRules, Prepared, ingest, prepare
from gateway.intake.quarantine import shunt as shunt_mail
from gateway.lifeline import die_with_parent
from gateway.notify.enqueue import Notice, Notices
from gateway.outcome import Delivery, Origin, Outcome, Trust
from gateway.schedule.jobs import SweepRules
from gateway.schedule.sweep import SweepReport
from gateway.store import tickets
from gateway.store.group_commit import apply_in

CHUNK = 64  # messages per parse job
SMALL = 2000  # fewer messages than this are parsed in the writing process: no start-up cost


class ImportFailed(Exception):
    """The store failed under the import; what was committed stays, a rerun continues."""


@dataclass(frozen=True)
class ImportRules:
    """Intake's and the jobs' rules, both without notices (history is not news)."""

    intake: IntakeRules
    sweep: SweepRules
    batch: int = 500

    @classmethod
    def quiet(cls, intake: IntakeRules, sweep: SweepRules, batch: int = 500) -> ImportRules:
        return cls(replace(intake, notices=None), replace(sweep, notices=None), batch)


@dataclass(frozen=True, slots=True)
class _Item:
    entry: Entry
    prep: Prepared


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
    timers_ = Clockwork(rules.sweep)
    work = _worker(rules, timers_)

    def shunt(session: Session, item: _Item, exc: Exception) -> _Done:
        return _Done(shunt_mail(session, item.prep.delivery, exc, item.entry.at))

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
                _tally(report, archive, batch, results, seen)
                if progress is not None:
                    progress(len(batch))
            report.open_tickets = _finish(session, timers_, started, report, dry_run)
        finally:
            if dry_run:
                session.rollback()
    report.seconds = max((clock() - started).total_seconds(), 1e-9)
    return report


def _tally(
    report: ImportReport,
    archive: Archive,
    batch: list[_Item],
    results: list[_Done | BaseException],
    seen: set[str],
) -> None:
    """Count a committed batch into the report; a mail that failed stops the import."""
    for item, result in zip(batch, results, strict=True):
        if isinstance(result, BaseException):
            raise ImportFailed(
                f"could not import {archive.label(item.entry)}: {result}; what was "
                "committed is kept, so run the same command again to continue"
            ) from result
        where = archive.label(item.entry)
        count(report, where, item.entry, item.prep, result.outcome, result.swept, seen)


def tell_open(
    sessions: sessionmaker[Session], numbers: list[int], notices: Notices, now: datetime
) -> int:
    """``--notify-open``: one ``imported`` mail per ticket still open, so its customer
    learns the number and has a reply address that threads into it. The only news in
    imported history; queued for ``helpdesk serve`` (or ``sweep``) to send."""
    queued = 0
    for i in range(0, len(numbers), 500):
        with sessions() as session, session.begin():
            rows = notices.many(session, [Notice(n, "imported") for n in numbers[i : i + 500]], now)
        queued += sum(r is not None for r in rows)
    return queued


def _finish(
    session: Session, clockwork: Clockwork, now: datetime, report: ImportReport, dry_run: bool
) -> list[int]:
    """The rules up to now (a ticket left waiting in 2019 was closed in 2019, quietly),
    then which of this run's tickets are still open."""

    def final() -> list[int]:
        swept = clockwork.advance(session, now)
        if swept is not None:
            report.auto_closed += len(swept.auto_closed)
            report.reopen_lapsed += len(swept.reopen_lapsed)
        return tickets.open_numbers(session, report.created)

    if dry_run:
        return final()
    with session.begin():
        return final()


def _worker(rules: ImportRules, clockwork: Clockwork) -> Callable[[Session, _Item], _Done]:
    def work(session: Session, item: _Item) -> _Done:
        swept = clockwork.advance(session, item.entry.at)
        outcome = ingest(session, item.prep, rules.intake, item.entry.at)
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
) -> Iterator[tuple[Entry, Prepared]]:
    """Parse in worker processes, in order, ``chunks_ahead`` chunks ahead of the writer
    (never the whole archive in memory: years of mail with attachments can be gigabytes)."""
    chunks = (entries[i : i + CHUNK] for i in range(0, len(entries), CHUNK))

    def deliveries(chunk: list[Entry]) -> list[Delivery]:
        return [_archived(support, archive.read(e)) for e in chunk]

    if workers == 0:
        for chunk in chunks:
            yield from zip(chunk, prepare_all(deliveries(chunk)), strict=True)
        return
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(workers, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
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
) -> Iterator[tuple[Entry, Prepared]]:
    """A worker's results with the deliveries put back: the bytes are not sent home again."""
    for entry, delivery, prep in zip(chunk, sent, result.get(), strict=True):
        yield entry, replace(prep, delivery=delivery)


def parse_all(deliveries: list[Delivery]) -> list[Prepared]:
    """A worker's job: ``prepare_all``, returned without the bytes the writer already has."""
    return [replace(p, delivery=_SENT) for p in prepare_all(deliveries)]


def _archived(support: str, data: bytes) -> Delivery:
    """A message of the team's own archive: replayed as received, its From believed."""
    return Delivery(None, (support,), data, Origin.IMPORT, Trust.ARCHIVE)


_SENT = _archived("", b"")


def prepare_all(deliveries: list[Delivery]) -> list[Prepared]:
    """Parse and key; cut the quotes of replies (where intake will want the new words)."""
    return [prepare(d, cut_replies=True) for d in deliveries]
