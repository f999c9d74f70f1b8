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
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import Clock
from gateway.schedule.jobs import SweepRules
from gateway.schedule.sweep import JOBS, SweepReport, run_job
from gateway.store.outage import Outage, is_outage

log = logging.getLogger("gateway.schedule")
# A ticket is dated when its mail began intake and seen once its transaction commits; under
# load (or at another instance) that can be seconds later. The dedup job's "new since the last
# run" reaches back this far at least, or a ticket dated just before a run and committed just
# after it would be compared by no run at all.
COMMIT_LAG = timedelta(minutes=5)


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
        # Seconds spent in each job's runs, all and the last (GET /metrics, issue 14).
        self.seconds: dict[str, float] = dict.fromkeys(JOBS, 0.0)
        self.last_seconds: dict[str, float] = dict.fromkeys(JOBS, 0.0)
        self._stopping = False
        self._outage = Outage("the scheduler", log)  # shared by the jobs (issue 14.5)
        self._dedup_checked: datetime | None = None  # the clock at the last good dedup run

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
        now = self._clock()
        rules = self._rules
        if name == "dedup" and self._dedup_checked is not None:
            # issue 14.7: what is new since the last good run, and one interval of margin for
            # mail that was being committed then; the first run reads the whole window
            fresh = now - self._dedup_checked + max(self._intervals.dedup, COMMIT_LAG)
            rules = replace(rules, dedup_fresh=fresh)
        started = time.monotonic()
        future = asyncio.ensure_future(asyncio.to_thread(run_job, self._sessions, name, rules, now))
        self._running.add(future)
        # APScheduler's shutdown cancels this coroutine, not the thread: stop() waits for it.
        future.add_done_callback(self._running.discard)
        try:
            report = await asyncio.shield(future)
        except asyncio.CancelledError:
            if self._stopping:  # shutdown cancelled the wait, not the run: stop() awaits it
                return  # (no traceback from APScheduler on Ctrl-C: issue 14, item 18)
            raise
        except Exception as exc:
            if is_outage(exc):  # busy or away: one line for the outage, the next tick tries
                self._outage.failed(exc)
            else:
                log.exception("scheduled job %s failed", name)
            return
        self._outage.succeeded()
        if name == "dedup":
            self._dedup_checked = now
        self.runs[name] += 1
        self.last_seconds[name] = time.monotonic() - started
        self.seconds[name] += self.last_seconds[name]
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
