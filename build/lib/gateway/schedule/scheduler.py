"""The rules on a timer inside ``helpdesk serve``: APScheduler 3 runs each job of ``jobs``.

Every instance runs every job; there is no leader to elect. That is safe
because each job claims its tickets with ``SKIP LOCKED`` and writes
conditionally (``store.timers``), so two instances never close, remind or
merge the same ticket twice (DESIGN §5). A job runs at start and then every
interval; a run still going when the next is due is not doubled
(``max_instances=1``) and missed runs collapse into one (``coalesce``). The
database work runs in a thread, off the loop that answers SMTP.

Retrying notifications is the dispatcher's own loop (``notify.dispatch``),
which serve runs beside these jobs: it claims due rows every second, so a
retry waits for its backoff, not for a scheduler tick.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import Clock
from gateway.schedule.jobs import SweepRules
from gateway.schedule.sweep import JOBS, SweepReport, run_job

log = logging.getLogger("gateway.schedule")


@dataclass(frozen=True)
class Intervals:
    auto_close: timedelta = timedelta(minutes=5)
    remind: timedelta = timedelta(minutes=15)
    reopen_lapse: timedelta = timedelta(hours=1)
    escalate: timedelta = timedelta(minutes=15)
    dedup: timedelta = timedelta(minutes=1)


class Scheduler:
    """The sweep's jobs on intervals, on the app's event loop."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        rules: SweepRules,
        clock: Clock,
        intervals: Intervals,
    ) -> None:
        self._sessions = sessions
        self._rules = rules
        self._clock = clock
        self._intervals = intervals
        self._running: set[asyncio.Future[SweepReport]] = set()
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.runs: dict[str, int] = dict.fromkeys(JOBS, 0)
        self._stopping = False

    def start(self) -> None:
        first = datetime.now(UTC)
        for name in JOBS:
            every: timedelta = getattr(self._intervals, name)
            self._scheduler.add_job(
                self._run,
                IntervalTrigger(seconds=every.total_seconds(), timezone=UTC),
                args=[name],
                id=name,
                name=name,
                next_run_time=first,
            )
        self._scheduler.start()

    async def _run(self, name: str) -> None:
        if self._stopping:  # a run APScheduler had already queued when stop() came
            return
        future = asyncio.ensure_future(
            asyncio.to_thread(run_job, self._sessions, name, self._rules, self._clock())
        )
        self._running.add(future)
        # APScheduler's shutdown cancels this coroutine, not the thread: stop() waits for it.
        future.add_done_callback(self._running.discard)
        try:
            report = await asyncio.shield(future)
        except OperationalError as exc:  # busy or away: the next tick tries again
            log.warning("scheduled job %s did not run: %s", name, exc.orig or exc)
            return
        except Exception:
            log.exception("scheduled job %s failed", name)
            return
        self.runs[name] += 1
        done = report.as_dict()
        changed = {k: v for k, v in done.items() if isinstance(v, list) and v}
        if changed:
            log.info("%s: %s", name, changed)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running or self._running)

    async def stop(self, grace: float = 10.0) -> None:
        """No new runs; let a running job finish its batch (a transaction) first."""
        self._stopping = True
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self._running:
            await asyncio.wait(set(self._running), timeout=grace)
