"""Group commit: one writer thread commits together whatever queued meanwhile.

Why: on SQLite every transaction costs a lock, a WAL append and an fsync, and
on the event loop's core the hop to a worker thread costs as much again. The
writer takes *everything* that queued while the previous commit ran — no fixed
waiting window, so a lone mail is committed at once and a burst shares one
commit. One bad mail cannot undo its neighbours: a group that fails is run
again with a SAVEPOINT per item. Results are handed back only after COMMIT
returns (guarantee 1: 250 means stored); if the commit itself fails, every
item in the group fails.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

Work = Callable[[Session, T], R]
OnError = Callable[[Session, T, Exception], R]

_STOP = object()


class GroupCommitter(Generic[T, R]):
    """Run ``work(session, item)`` for queued items, committing them in groups."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        work: Work[T, R],
        on_error: OnError[T, R] | None = None,
        *,
        max_group: int = 256,
        name: str = "group-commit",
    ) -> None:
        self._factory = factory
        self._work = work
        self._on_error = on_error
        self._max_group = max_group
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.groups = 0
        self.items = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish what is queued, then stop."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """The writer thread is running (the gateway's health reads it)."""
        return self._thread.is_alive()

    def submit(self, item: T) -> Future[R]:
        fut: Future[R] = Future()
        self._queue.put((item, fut))
        return fut

    async def run(self, item: T) -> R:
        return await asyncio.wrap_future(self.submit(item))

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            group = [first]
            while len(group) < self._max_group:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                group.append(nxt)
            self._commit_group(group)  # type: ignore[arg-type]

    def _commit_group(self, group: list[tuple[T, Future[R]]]) -> None:
        try:
            results = commit_group(
                self._factory, [item for item, _ in group], self._work, self._on_error
            )
        except Exception as exc:  # the commit (or the database) failed: nothing is stored
            for _, fut in group:
                fut.set_exception(exc)
            return
        self.groups += 1
        self.items += len(group)
        for (_, fut), result in zip(group, results, strict=True):
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)


def commit_group(
    factory: sessionmaker[Session], items: list[T], work: Work[T, R], on_error: OnError[T, R] | None
) -> list[R | BaseException]:
    """One transaction for the group; results only after COMMIT.

    If any item fails, the group is rolled back and run again with a SAVEPOINT
    per item, so one bad mail is shunted alone and cannot undo its neighbours.
    Raises when the transaction as a whole fails: then nothing of the group is
    stored and every item must be answered "try again later".
    """
    try:  # the usual case: every item succeeds, and SAVEPOINTs would cost two statements each
        with factory() as session, session.begin():
            return [work(session, item) for item in items]
    except Exception as exc:
        log.debug(
            "group of %d failed as a whole (%s); again with a savepoint each", len(items), exc
        )
    results: list[R | BaseException] = []
    try:
        with factory() as session, session.begin():
            for item in items:
                results.append(_one(session, item, work, on_error))
    except Exception as exc:
        log.warning("group of %d failed to commit: %s", len(items), exc)
        raise
    # A deadlock with another instance (both groups hold what the other wants, e.g.
    # the same two mails in opposite order) fails one of our items. Retrying it in the
    # same transaction would meet the same locks; after our COMMIT they are released.
    for i, result in enumerate(results):
        for _ in range(TRANSIENT_RETRIES):
            if not (isinstance(result, Exception) and _is_transient(result)):
                break
            try:
                with factory() as session, session.begin():
                    result = _one(session, items[i], work, on_error)
            except Exception as exc:
                result = exc
        results[i] = result
    return results


def apply_in(
    session: Session,
    items: list[T],
    work: Work[T, R],
    on_error: OnError[T, R] | None,
    *,
    before_retry: Callable[[], None] | None = None,
) -> list[R | BaseException]:
    """The group inside the caller's transaction, under one SAVEPOINT; if an item fails,
    again with a SAVEPOINT per item, so one bad mail is shunted alone.

    For callers that hold one transaction over many groups (a dry run, rolled back
    at the end) or that commit on their own schedule (``helpdesk import``).
    """
    try:
        with session.begin_nested():
            return [work(session, item) for item in items]
    except Exception as exc:
        if _is_database_failure(exc):
            raise
        log.debug("group of %d failed (%s); again with a savepoint each", len(items), exc)
    if before_retry is not None:  # the caller's own state, back to where the group began
        before_retry()
    return [_one(session, item, work, on_error) for item in items]


def _one(
    session: Session, item: T, work: Work[T, R], on_error: OnError[T, R] | None
) -> R | BaseException:
    try:
        with session.begin_nested():
            return work(session, item)
    except Exception as exc:
        if on_error is None or _is_database_failure(exc):
            return exc
        log.exception("intake failed on one item; shunting it")
        try:
            with session.begin_nested():
                return on_error(session, item, exc)
        except Exception as again:
            return again


TRANSIENT_RETRIES = 3
_TRANSIENT_STATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


def _is_transient(exc: Exception) -> bool:
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in _TRANSIENT_STATES


def _is_database_failure(exc: Exception) -> bool:
    """ "The store is unwell" (defer: 451, the sender retries) versus "this item is
    odd" (shunt it to quarantine). Only a row that the database refused for its
    *content* is the item's fault; a lost connection, a lock, a missing table or
    a full disk is the store's, and writing a shunt row would fail the same way.
    """
    return isinstance(exc, DBAPIError) and not isinstance(exc, IntegrityError | DataError)
