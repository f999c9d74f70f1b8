"""``GET /healthz`` and ``GET /metrics`` on the support page's listener (issue 14, item 17).

For the sysadmin's monitoring, not for people: ``/healthz`` is JSON and its status
code is the answer — 200 when the database answers, the intake writer runs and no
due notification has waited longer than ``health_outbox_seconds``; 503 otherwise,
with which check failed. ``/metrics`` is the Prometheus text format (version 0.0.4):
mails answered by outcome since start, writer restarts, the outbox's pending and
failed rows and its oldest pending age, tickets by status, the scheduled jobs' runs
and durations. Both are off with ``HELPDESK_HTTP_MONITORING=false`` (then 404).

What is counted in memory comes in through :class:`Probe` (``app`` fills it); what is
in the database is read here, in a thread, like every blocking call of the page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from gateway.outcome import OutcomeKind, Tally
from gateway.store.tables import Outbox, Ticket

QUERY_TIMEOUT = 5.0  # seconds: a database that does not answer by then is "unreachable"
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"

# What each outcome is, in /metrics: accepted (250), deferred (4xx), refused (5xx).
_RESULT = {
    OutcomeKind.STORED: "accepted",
    OutcomeKind.DUPLICATE: "accepted",
    OutcomeKind.QUARANTINED: "accepted",
    OutcomeKind.DEFERRED: "deferred",
    OutcomeKind.UNKNOWN_RECIPIENT: "refused",
    OutcomeKind.UNKNOWN_SENDER: "refused",
    OutcomeKind.TOO_BIG: "refused",
}


@dataclass(frozen=True)
class Probe:
    """What the monitoring reads besides the database; ``app`` fills it from the gateway."""

    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]
    tally: Tally
    writer: Callable[[], tuple[str, int]]  # ("running" | "restarting" | "down", restarts)
    sweeps: Callable[[], Mapping[str, tuple[int, float, float]]]  # job → runs, seconds, last
    outbox_max_age: timedelta


@dataclass(frozen=True)
class Stored:
    """What the database says, read in one short transaction."""

    tickets: dict[str, int]
    pending: int
    failed: int
    oldest_pending: datetime | None
    oldest_due: datetime | None


def _read(probe: Probe) -> Stored:
    now = probe.clock()
    with probe.sessions() as session:
        tickets = dict(
            session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all()
        )
        states = dict(
            session.execute(
                select(Outbox.state, func.count())
                .where(Outbox.state.in_(("pending", "failed")))
                .group_by(Outbox.state)
            ).all()
        )
        oldest = session.execute(
            select(func.min(Outbox.created_at)).where(Outbox.state == "pending")
        ).scalar()
        due = session.execute(
            select(func.min(Outbox.next_attempt_at)).where(
                Outbox.state == "pending", Outbox.next_attempt_at <= now
            )
        ).scalar()
    return Stored(tickets, states.get("pending", 0), states.get("failed", 0), oldest, due)


async def _stored(probe: Probe) -> Stored | str:
    """The database's figures, or why it could not give them."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(_read, probe), QUERY_TIMEOUT)
    except TimeoutError:
        return f"no answer within {QUERY_TIMEOUT:.0f} s"
    except SQLAlchemyError as exc:
        return f"unreachable ({exc.__class__.__name__})"


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


async def healthz(probe: Probe) -> Response:
    stored = await _stored(probe)
    state, restarts = probe.writer()
    now = probe.clock()
    body: dict[str, object] = {"writer": state, "writer_restarts": restarts}
    problems = []
    if isinstance(stored, str):
        body["database"] = stored
        problems.append("database")
    else:
        body["database"] = "ok"
        due_age = _age(now, stored.oldest_due)
        body["outbox_pending"] = stored.pending
        body["outbox_due_age_seconds"] = round(due_age, 1)
        if due_age > probe.outbox_max_age.total_seconds():
            problems.append("outbox")
    if state != "running":
        problems.append("writer")
    body["status"] = "ok" if not problems else "failing: " + ", ".join(problems)
    return JSONResponse(body, status_code=200 if not problems else 503)


def _metric(lines: list[str], name: str, kind: str, help: str, samples: list[tuple]) -> None:
    lines.append(f"# HELP {name} {help}")
    lines.append(f"# TYPE {name} {kind}")
    for labels, value in samples:
        text = ",".join(f'{k}="{v}"' for k, v in labels)
        lines.append(f"{name}{{{text}}} {value}" if text else f"{name} {value}")


def exposition(probe: Probe, stored: Stored | str) -> str:
    """Every figure in the Prometheus text format."""
    lines: list[str] = []
    counts = probe.tally.snapshot()
    mails = [((("result", _RESULT[k]), ("reason", k.value)), n) for k, n in counts.items()]
    _metric(lines, "helpdesk_mails_total", "counter", "Mails answered since start.", mails)
    state, restarts = probe.writer()
    _metric(
        lines,
        "helpdesk_writer_up",
        "gauge",
        "1 while the intake writer runs.",
        [((), int(state == "running"))],
    )
    _metric(
        lines,
        "helpdesk_writer_restarts_total",
        "counter",
        "Intake writer restarts since start.",
        [((), restarts)],
    )
    _metric(
        lines,
        "helpdesk_database_up",
        "gauge",
        "1 when the database answered this scrape.",
        [((), int(not isinstance(stored, str)))],
    )
    if not isinstance(stored, str):
        now = probe.clock()
        _metric(
            lines,
            "helpdesk_outbox_notifications",
            "gauge",
            "Notifications waiting to be sent, and given up.",
            [((("state", "pending"),), stored.pending), ((("state", "failed"),), stored.failed)],
        )
        _metric(
            lines,
            "helpdesk_outbox_oldest_pending_age_seconds",
            "gauge",
            "Age of the oldest notification not yet sent.",
            [((), round(_age(now, stored.oldest_pending), 3))],
        )
        _metric(
            lines,
            "helpdesk_tickets",
            "gauge",
            "Tickets by status.",
            [((("status", s),), n) for s, n in sorted(stored.tickets.items())],
        )
    sweeps = sorted(probe.sweeps().items())
    _metric(
        lines,
        "helpdesk_sweep_runs_total",
        "counter",
        "Scheduled job runs since start.",
        [((("job", job),), runs) for job, (runs, _, _) in sweeps],
    )
    _metric(
        lines,
        "helpdesk_sweep_seconds_total",
        "counter",
        "Seconds spent in each job.",
        [((("job", job),), round(total, 6)) for job, (_, total, _) in sweeps],
    )
    _metric(
        lines,
        "helpdesk_sweep_last_seconds",
        "gauge",
        "Duration of each job's last run.",
        [((("job", job),), round(last, 6)) for job, (_, _, last) in sweeps],
    )
    return "\n".join(lines) + "\n"


def routes(probe: Probe | None) -> list[Route]:
    """The two endpoints, or none when monitoring is off (they are then 404 like any)."""
    if probe is None:
        return []

    async def health(request: Request) -> Response:
        return await healthz(probe)

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(exposition(probe, await _stored(probe)), media_type=PROMETHEUS)

    return [Route("/healthz", health), Route("/metrics", metrics)]
