"""Drain the outbox: claim due rows, render, send, mark — inside ``helpdesk serve``.

Delivery follows what an MTA does with a queue: a 4xx answer or a lost
connection is temporary (retry with exponential backoff), a 5xx is final
(``failed``, with the server's sentence kept), and after ``max_attempts`` we
give up and say so. The envelope sender is the row's own VERP bounce address,
so a DSN coming back names the row it is about. Each SMTP connection carries
mail after mail (``notify.senders``: the smarthost, or a Maildir a person can
open); a backlog is built and sent by delivery worker processes
(``notify.delivery``), and serve only claims and marks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Row
from sqlalchemy.orm import Session, sessionmaker

from gateway.notify.build import DispatchRules
from gateway.notify.delivery import WORKERS, Agents, Sent
from gateway.notify.render import Templates
from gateway.notify.senders import Smarthost
from gateway.store import contact, db, leases
from gateway.store.outage import Outage, is_outage

log = logging.getLogger("gateway.notify")

MAX_BACKOFF = timedelta(hours=6)
_CHUNK = 25  # the smallest chunk: a trickle is a few chunks, built and sent at once


class Dispatcher:
    """Claims due outbox rows in batches, has them delivered, and marks what became of each."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        templates: Templates,
        rules: DispatchRules,
        smarthost: Smarthost,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._rules = rules
        self._agents = Agents(templates, rules, smarthost, sessions)
        self._clock = clock
        self.wake = asyncio.Event()
        # Passes of run() that found less than a batch due and saw all they claimed
        # marked: tests wait on it.
        self.passes = 0

    async def run_once(self) -> int:
        """One batch: how many rows were claimed.

        The batch goes out in chunks, all at once: a backlog's chunks are built and
        sent by the delivery workers side by side (``notify.delivery``).
        """
        rows = await asyncio.to_thread(self._claim, self._clock())
        await self._send(rows)
        return len(rows)

    async def _send(self, rows: list[Row]) -> None:
        """Deliver claimed rows and mark what became of each."""
        if not rows:
            return
        # A backlog's batch goes out as two chunks a worker: each chunk is one read of its
        # rows and one pipelined run, and a read of 25 rows cost twice a row what one of
        # 125 does (issue 16); two each, so a worker that finishes first takes the next.
        size = max(_CHUNK, -(-len(rows) // (2 * WORKERS)))
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
        done = await asyncio.gather(*(self._agents.deliver([r.id for r in c]) for c in chunks))
        results = [
            (row, sent)
            for chunk, outcomes in zip(chunks, done, strict=True)
            for row, sent in zip(chunk, outcomes, strict=True)
        ]
        await asyncio.to_thread(self._mark, results)

    async def close(self) -> None:
        await self._agents.close()

    def _claim(self, now: datetime) -> list[Row]:
        """Due rows, leased in one short write transaction; of each, what marking it needs
        (``leases.heads``). Whoever builds a chunk reads the rest (``notify.delivery``)."""
        with self._sessions() as session, session.begin():
            ids = leases.lease_due(session, now, self._rules.lease, self._rules.batch)
        if not ids:
            return []
        with db.reading(self._sessions) as session:
            return leases.heads(session, ids)

    def _mark(self, results: list[tuple[Row, Sent]]) -> None:
        now = self._clock()
        with self._sessions() as session, session.begin():
            leases.mark_sent(session, [row.id for row, sent in results if sent.error is None], now)
            for row, (error, final, refused, unbuilt) in results:
                if error is None:
                    continue
                if unbuilt:
                    log.error("notification %s: %s", row.id, error)
                if final:
                    log.warning("notification %s to %s failed: %s", row.id, row.to_address, error)
                    leases.mark_failed(session, row.id, error)
                    if refused:  # as a bounce would: stop mailing it until it changes
                        contact.mark_bouncing(session, row.id, f"refused by the smarthost: {error}")
                elif row.attempts >= self._rules.max_attempts:
                    leases.mark_failed(
                        session, row.id, f"gave up after {row.attempts} attempts: {error}"
                    )
                else:
                    delay = min(self._rules.backoff * 2 ** (row.attempts - 1), MAX_BACKOFF)
                    leases.mark_retry(session, row.id, now + delay, error)

    async def run(self, stop: asyncio.Event, poll: float = 0.25) -> None:
        """Until ``stop``: drain whatever is due, then sleep until woken or ``poll`` passes.

        Intake does not wake it per mail: under load a quarter second's mail then
        goes out as one batch (built off the loop, three short transactions) instead of a
        transaction and an in-process build for every single mail, which took
        the SQLite write lock and the event loop's core away from intake. A
        quarter, not a whole second: with three operators a second's batch was
        some 300 sends in one burst on the loop intake answers on (issue 16).

        A backlog keeps two batches out: the next is claimed and queued for the
        workers while they send the last, which is then marked. One at a time, the
        workers stood idle while serve marked a batch and claimed the next.
        """
        outage = Outage("the dispatcher", log, first=poll)
        out: asyncio.Task[None] | None = None  # a full batch the workers are on
        while not stop.is_set():
            wait = poll
            claimed = 0
            try:
                rows = await asyncio.to_thread(self._claim, self._clock())
                claimed = len(rows)
                previous, out = out, asyncio.create_task(self._send(rows)) if rows else None
                if previous is not None:
                    await previous  # marked before the batch claimed after it
                if claimed < self._rules.batch and out is not None:
                    current, out = out, None  # nothing more is due: finish it, then rest
                    await current
                outage.succeeded()
            except Exception as exc:
                if is_outage(exc):  # one line when it goes, one when it is back (issue 14.5)
                    wait = outage.failed(exc)
                else:
                    log.exception("the dispatcher could not run a batch")
            if claimed >= self._rules.batch:
                continue  # not a pass yet: its batch may still be out
            if out is None:  # a failure may have left a batch out: then not a pass either
                self.passes += 1  # everything claimed so far is marked
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_either(stop, self.wake), wait)
        if out is not None:
            with contextlib.suppress(Exception):  # already logged, or left to its lease
                await out
        await self.close()


async def _either(a: asyncio.Event, b: asyncio.Event) -> None:
    waits = {asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())}
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
