"""A CPU and memory budget for reading one mail (issue 14, item 3).

One hostile mail must not hold the intake writer for minutes or take it to
gigabytes while every other mail waits: the parse (``prepare``) runs under a
CPU timer (``ITIMER_PROF``: user + system time of this process) and an
address-space limit (``RLIMIT_AS``) raised only by the budget above what the
process maps already. A mail that exceeds either is not parsed: it is kept raw
in quarantine with the reason (guarantee 2) and answered 250, and intake goes
on with the next one. Operators see it in ``helpdesk quarantine list``.

Signals and limits are per process: the budget applies in the writer child
(whose main thread parses); elsewhere (a thread) ``prepare`` runs as before.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import threading
from collections.abc import Callable, Iterator

from gateway.intake.prepare import Prepared, idempotency_key, prepare
from gateway.outcome import Delivery


class OverBudget(BaseException):
    """Raised by the CPU timer; a BaseException so no ``except Exception`` swallows it."""


def prepare_within(delivery: Delivery, cpu_seconds: float, memory_mb: int) -> Prepared:
    """``prepare(delivery)``, or a Prepared that sends the mail to quarantine with the reason."""
    return prepare_all([delivery], cpu_seconds, memory_mb)[0]


def prepare_all(deliveries: list[Delivery], cpu_seconds: float, memory_mb: int) -> list[Prepared]:
    """:func:`prepare_within` for the writer's group: each mail has its own CPU budget, and
    may map ``memory_mb`` more than the process did when the group began. Reading the
    process's size and setting the limits for every mail were 2 % of the writer (issue 16).
    """
    if threading.current_thread() is not threading.main_thread():
        return [prepare(d) for d in deliveries]
    with _address_space(memory_mb), _cpu_timer(cpu_seconds) as timed:
        return [_within(d, timed, cpu_seconds, memory_mb) for d in deliveries]


def _within(
    delivery: Delivery,
    timed: Callable[[], contextlib.AbstractContextManager[None]],
    cpu_seconds: float,
    memory_mb: int,
) -> Prepared:
    reason = None
    try:
        with timed():
            prepared = prepare(delivery)
    except OverBudget:
        reason = f"reading it took more than {cpu_seconds:g} s of CPU"
    except MemoryError:
        reason = f"reading it needed more than {memory_mb} MiB of memory"
    if reason is None and (prepared.parse_error or "").startswith("MemoryError"):
        reason = f"reading it needed more than {memory_mb} MiB of memory"
    if reason is None:
        return prepared
    key = idempotency_key(None, delivery.data)
    return Prepared(delivery, None, f"over the intake budget: {reason}", key)


@contextlib.contextmanager
def _cpu_timer(seconds: float) -> Iterator[Callable[[], contextlib.AbstractContextManager[None]]]:
    """The SIGPROF handler for a group; what it yields times one mail."""

    def over(signum: int, frame: object) -> None:
        raise OverBudget

    @contextlib.contextmanager
    def one() -> Iterator[None]:
        signal.setitimer(signal.ITIMER_PROF, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)

    if seconds <= 0:
        yield contextlib.nullcontext
        return
    previous = signal.signal(signal.SIGPROF, over)
    try:
        yield one
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


@contextlib.contextmanager
def _address_space(megabytes: int) -> Iterator[None]:
    mapped = _mapped_bytes()
    if megabytes <= 0 or mapped is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + megabytes * (1 << 20)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _mapped_bytes() -> int | None:
    """This process's virtual size now (Linux), the base of the memory budget."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
