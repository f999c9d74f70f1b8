"""Build and send a chunk of notifications: in serve for a trickle, in the delivery
workers for a backlog.

A worker process builds a chunk and sends it through connections of its own, as
an MTA's delivery agents do, and returns only what became of each mail. Serve,
whose event loop answers every SMTP session, then neither sends the backlog nor
takes the built bytes back through a pipe; and the workers run at nice 10, so
under a load that takes both cores intake comes first and the outbox drains
when the load eases (issue 16: with three operators, sending was a third of
serve's CPU). A lone notification is built and sent in serve: it should not
wait for a process to start.
"""

from __future__ import annotations

import asyncio
import gc
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.util import Finalize
from pathlib import Path
from typing import NamedTuple

from sqlalchemy.orm import Session, sessionmaker

from gateway.lifeline import die_with_parent
from gateway.notify.build import Built, DispatchRules, Letter, build_many
from gateway.notify.render import Templates
from gateway.notify.senders import (
    PermanentFailure,
    RecipientRefused,
    Sender,
    Smarthost,
)
from gateway.store import db, leases

POOL_THRESHOLD = 10  # letters in a chunk from which a worker builds and sends it
NICENESS = 10  # the workers', below serve and the intake writer
WORKERS = 2  # one chunk each at a time: both cores when intake leaves them idle


class Sent(NamedTuple):
    """What became of one letter."""

    error: str | None = None  # None: the smarthost (or the Maildir) took it
    final: bool = False  # do not try again
    refused: bool = False  # 5xx at RCPT: the address is dead (issue 13)
    unbuilt: bool = False  # the fault is ours (a template, the data), not the network's


async def deliver(letters: list[Letter], built: list[Built], senders: list[Sender]) -> list[Sent]:
    """Send built letters over ``senders`` at once, each a share; in the letters' order."""
    results: list[Sent] = [Sent()] * len(letters)
    order = list(range(len(letters)))
    shares = [order[i :: len(senders)] for i in range(len(senders))]

    async def share(sender: Sender, indexes: list[int]) -> None:
        ready = []
        for i in indexes:
            made = built[i]
            if isinstance(made, str):  # could not be built: a fault of ours, not the network's
                results[i] = Sent(made, final=True, unbuilt=True)
            else:
                ready.append((i, (made[0], letters[i].to_address, made[1])))
        fates = await sender.send_many([mail for _, mail in ready])
        for (i, _), failure in zip(ready, fates, strict=True):
            results[i] = _sent(failure)

    await asyncio.gather(*(share(s, part) for s, part in zip(senders, shares, strict=True)))
    return results


def _sent(failure: Exception | None) -> Sent:
    if failure is None:
        return Sent()
    if isinstance(failure, PermanentFailure):  # refused at RCPT: the address is dead (issue 13)
        return Sent(str(failure), final=True, refused=isinstance(failure, RecipientRefused))
    return Sent(str(failure))


class Agents:
    """Builds and sends chunks: in this process when small, else in a worker process."""

    def __init__(
        self,
        templates: Templates,
        rules: DispatchRules,
        smarthost: Smarthost,
        sessions: sessionmaker[Session],
    ) -> None:
        self.templates = templates
        self.rules = rules
        self.smarthost = smarthost
        self._sessions = sessions
        self._senders = [smarthost.sender() for _ in range(max(1, rules.connections))]
        self._own = asyncio.Lock()  # this process's connections carry one chunk at a time
        self._pool: ProcessPoolExecutor | None = None

    async def deliver(self, ids: list[int]) -> list[Sent]:
        """What became of each leased outbox row, in the order of ``ids``."""
        if len(ids) < POOL_THRESHOLD:
            letters = await asyncio.to_thread(_read, self._sessions, ids)
            built = build_many(letters, self.templates, self.rules)
            async with self._own:
                return _in_order(ids, letters, await deliver(letters, built, self._senders))
        if self._pool is None:
            connections = max(1, self.rules.connections // WORKERS)
            self._pool = ProcessPoolExecutor(
                WORKERS,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(
                    self.templates.root,
                    self.rules,
                    self.smarthost,
                    connections,
                    os.getpid(),
                    _url(self._sessions),
                ),
            )
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, _deliver_in_worker, ids)
        except BrokenProcessPool:
            # A worker was killed (the OOM killer, an operator): what it held may or may
            # not have gone out. Try them all again after the backoff, as after a lost
            # connection (at worst a duplicate with the same Message-ID, guarantee 4),
            # and start new workers for the next chunk instead of failing every one.
            if self._pool is pool:
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            return [Sent("a delivery worker process died; will try again")] * len(ids)

    async def close(self) -> None:
        for sender in self._senders:
            await sender.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


def _read(sessions: sessionmaker[Session], ids: list[int]) -> list[Letter]:
    """The leased rows as letters, with the stored files the ones that carry attachments
    need; in a transaction that takes no lock (``db.reading``)."""
    with db.reading(sessions) as session:
        rows = leases.leased(session, ids)
        wanted = {r.id: files for r in rows if (files := _attachment_ids(r.context))}
        files = leases.attachments_for(session, wanted) if wanted else {}
        return [Letter.of(r, files.get(r.id, ())) for r in rows]


def _attachment_ids(context: str) -> list[int]:
    # The common cases, without decoding the JSON: no key, or none (``json.dumps`` writes
    # ``"attachment_ids": []``; inside a string its quotes would be escaped).
    if '"attachment_ids"' not in context or '"attachment_ids": []' in context:
        return []
    return [int(i) for i in json.loads(context).get("attachment_ids", [])]


def _in_order(ids: list[int], letters: list[Letter], sent: list[Sent]) -> list[Sent]:
    """Each id's outcome; a row that is no longer there is left to its lease."""
    by_id = {letter.id: outcome for letter, outcome in zip(letters, sent, strict=True)}
    gone = Sent("the notification is no longer in the outbox")
    return [by_id.get(i, gone) for i in ids]


def _url(sessions: sessionmaker[Session]) -> str:
    """The database a worker opens for itself, password included."""
    engine = sessions.kw["bind"]
    return engine.url.render_as_string(hide_password=False)


class _Worker(NamedTuple):
    templates: Templates
    rules: DispatchRules
    senders: list[Sender]
    loop: asyncio.AbstractEventLoop
    sessions: sessionmaker[Session]


_WORKER: _Worker | None = None


def _start_worker(
    root: Path,
    rules: DispatchRules,
    smarthost: Smarthost,
    connections: int,
    parent: int | None,
    database: str,
) -> None:
    global _WORKER
    die_with_parent(parent)  # a kill -9 of serve must not leave this worker behind (issue 14.6)
    # Intake first, as an MTA's smtpd comes before its delivery agents: a backlog being
    # built and sent must not take the core a mail's 250 is waiting for (issue 16).
    os.nice(NICENESS)
    loop = asyncio.new_event_loop()  # kept: its connections to the smarthost are reused
    senders = [smarthost.sender() for _ in range(connections)]
    # The worker reads its chunk's rows itself: serve hands it ids, not every row's
    # context pickled through a pipe, which was a tenth of serve's CPU (issue 16).
    sessions = db.session_factory(db.make_engine(database, pool_size=1))
    _WORKER = _Worker(Templates(root), rules, senders, loop, sessions)
    Finalize(None, _close_worker, exitpriority=10)  # QUIT before the process exits
    gc.freeze()  # what it imported lives as long as it does: no collection need scan it


def _deliver_in_worker(ids: list[int]) -> list[Sent]:
    assert _WORKER is not None
    letters = _read(_WORKER.sessions, ids)
    built = build_many(letters, _WORKER.templates, _WORKER.rules)
    sent = _WORKER.loop.run_until_complete(deliver(letters, built, _WORKER.senders))
    return _in_order(ids, letters, sent)


def _close_worker() -> None:
    if _WORKER is not None:
        _WORKER.loop.run_until_complete(_close(_WORKER.senders))
        _WORKER.loop.close()


async def _close(senders: list[Sender]) -> None:
    await asyncio.gather(*(s.close() for s in senders), return_exceptions=True)
