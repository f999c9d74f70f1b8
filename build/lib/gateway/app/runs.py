"""The one-shot runs outside ``serve``: the rules once (``helpdesk sweep``), and an old
mailbox replayed (``helpdesk import``). Both compose parts of several packages —
the jobs and the dispatcher, the archive and intake — which is ``app``'s to do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from gateway.app import parts
from gateway.app.wiring import Wiring
from gateway.importer import replay
from gateway.importer.archive import Archive, ArchiveError
from gateway.importer.report import ImportReport
from gateway.operations import Refused
from gateway.schedule.sweep import sweep


def run_sweep(wiring: Wiring, *, as_of: datetime | None, dry_run: bool) -> dict:
    """Every rule once (``helpdesk sweep``), then send what is due unless dry.

    With no ``serve`` running (mail piped in by ``helpdesk ingest``, the sweep
    from cron), this is also what sends notifications.
    """
    now = as_of or wiring.clock()
    report = sweep(wiring.sessions, wiring.sweep_rules(), now, dry_run=dry_run)
    result = report.as_dict()
    if dry_run:
        return result

    async def drain() -> int:
        dispatcher = parts.dispatcher(wiring)
        sent = 0
        try:
            while True:
                claimed = await dispatcher.run_once()
                sent += claimed
                if claimed == 0:
                    return sent
        finally:
            await dispatcher.close()

    result["notifications_tried"] = asyncio.run(drain())
    return result


def import_mailbox(
    wiring: Wiring,
    paths: list[Path],
    *,
    dry_run: bool,
    notify_open: bool = False,
    on_start: Callable[[int], None] | None = None,
    progress: replay.Progress | None = None,
) -> ImportReport:
    """``helpdesk import``: read the archive's dates, then replay it quietly; with
    ``notify_open``, tell the customers of the tickets still open where they are now."""
    try:
        archive = Archive(paths, wiring.clock())
    except ArchiveError as exc:
        raise Refused(str(exc)) from None
    with archive:
        entries = archive.entries()
        if on_start is not None:
            on_start(len(entries))
        rules = replay.ImportRules.quiet(wiring.intake, wiring.sweep_rules())
        try:
            report = replay.run(
                wiring.sessions,
                archive,
                rules,
                wiring.clock,
                dry_run=dry_run,
                entries=entries,
                progress=progress,
            )
        except replay.ImportFailed as exc:
            raise Refused(str(exc)) from None
    if notify_open and not dry_run:
        report.notified = replay.tell_open(
            wiring.sessions, report.open_tickets, wiring.notices, wiring.clock()
        )
    return report
