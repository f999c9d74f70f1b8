"""Auto-close sweep at scale: 10,000 due tickets among 100,000 and among 1,000,000.

Issue 5's target: one ``auto_close`` pass over 10,000 due tickets (each
closed ``closed_no_reply`` with its event and its ``auto_closed`` outbox row)
takes under 10 s, and the pass over a 1,000,000-ticket table takes less than
twice the pass over a 100,000-ticket table — the cost follows the due
tickets, not the table.

For each backend (SQLite with the gateway's own engine settings: WAL,
``synchronous=FULL``, ``BEGIN IMMEDIATE``; PostgreSQL in a schema of its own)
and each size the schema is made by ``db.upgrade`` and filled in bulk (SQLite:
one transaction of ``executemany``; PostgreSQL: ``COPY``), then ``ANALYZE``d.
The table holds two years of tickets: most closed (the old ones no longer
reopenable), some in each open status, exactly ``--due`` waiting for the
customer 31–60 days (due) and more waiting fewer than 30 days (not due).
Every ticket has its customer's first message (with a Message-ID: the
notices thread onto it), that message's and one ``created`` notification's
Message-ID in ``thread_ids``, and the ``created`` row in ``outbox``; events
and raw mails of the past are not loaded (the sweep only appends to
``events`` and never reads ``raw_mails``).

Then ``sweep.run_job(sessions, "auto_close", rules, now)`` is timed and
checked (every due ticket ``closed_no_reply``, one event and one
``auto_closed`` row each); the pass is undone (tickets waiting again, its
rows deleted, PostgreSQL vacuumed as autovacuum would) and run again,
``--repeat`` passes in all, and the median pass is the figure. Each pass
also reports the CPU time of this process and of the PostgreSQL backend,
their reads and writes (``/proc/PID/io``) and the machine's load average: on
a shared 2-core machine a neighbour's work shows there. A last, idle pass
(nothing due) shows what a pass costs when there is no work. Every SQL
statement of the first pass is timed, and the SELECTs of its first batch are
shown with their plans (``--plans``). A small unreported run first compiles
and caches the statements, so no size pays for that. The JSON result goes to
stdout, or to ``--json-out``.

    .venv/bin/python bench/sweep.py                                  # the issue's sizes
    .venv/bin/python bench/sweep.py --sizes 20000,50000 --due 2000   # a quick look
    .venv/bin/python bench/sweep.py --backends sqlite --profile      # where the time goes
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import itertools
import json
import os
import platform
import pstats
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text

from gateway.desk.model import Policy
from gateway.notify.enqueue import Notices
from gateway.schedule.jobs import SweepRules
from gateway.schedule.sweep import run_job
from gateway.store import db

PG_URL = os.environ.get(
    "HELPDESK_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DAY = timedelta(days=1)
HISTORY_DAYS = 730
CHUNK = 20_000

# --- realistic content ---------------------------------------------------------------------

FIRST_RU = ["Иван", "Мария", "Алексей", "Ольга", "Дмитрий", "Анна", "Сергей", "Елена", "Павел"]
LAST_RU = ["Петров", "Смирнова", "Кузнецов", "Иванова", "Соколов", "Попова", "Лебедев", "Новикова"]
FIRST_EN = ["John", "Mary", "Peter", "Linda", "James", "Susan", "Robert", "Karen", "David"]
LAST_EN = ["Smith", "Brown", "Taylor", "Wilson", "Evans", "Walker", "Wright", "Green"]
MAIL_DOMAINS = ["example.ru", "mail.example.net", "corp.example.com", "studio.example.org"]
SUBJECTS = {
    "ru": [
        "Не открывается сайт {site}",
        "Ошибка {code} на {site}",
        "Не приходит почта на {site}",
        "Продлить SSL-сертификат для {site}",
        "Медленно работает {site}",
        "Перенос {site} на новый тариф",
        "Не могу зайти в панель управления",
        "Ошибка подключения к базе данных",
    ],
    "en": [
        "Site {site} is down",
        "Error {code} on {site}",
        "Mail to {site} bounces",
        "Renew the SSL certificate of {site}",
        "{site} is slow",
        "Move {site} to another plan",
        "Cannot log in to the control panel",
        "Database connection errors",
    ],
}
TEXTS = {
    "ru": "Здравствуйте! С утра {site} отдаёт ошибку {code}, ничего не меняли. Помогите!",
    "en": "Hello, since this morning {site} answers {code}; nothing was changed. Please help.",
}
CODES = ["500", "502", "503", "504", "403", "404", "ERR_SSL_PROTOCOL_ERROR", "550 5.1.1"]
SITE_WORDS = ["shop", "blog", "studio", "cafe", "auto", "dom"]


def _site(rng: random.Random) -> str:
    return f"{rng.choice(SITE_WORDS)}{rng.randrange(10**5)}.ru"


# --- the two backends ----------------------------------------------------------------------


@dataclass
class Backend:
    """One fresh database: its URL, the gateway's engine on it, and how to fill it."""

    name: str
    url: str
    engine: Engine
    cleanup: Callable[[], None]
    sqlite_path: Path | None = None

    def fmt_ts(self) -> Callable[[datetime | None], Any]:
        """How a naive UTC datetime is written raw: SQLAlchemy's SQLite text format, or as is."""
        if self.name == "sqlite":
            return lambda d: None if d is None else d.strftime("%Y-%m-%d %H:%M:%S.%f")
        return lambda d: d

    def fmt_bool(self) -> Callable[[bool], Any]:
        return (lambda b: 1 if b else 0) if self.name == "sqlite" else (lambda b: b)


@contextmanager
def open_backend(name: str, tag: str) -> Iterator[Backend]:
    if name == "sqlite":
        work = Path(tempfile.mkdtemp(prefix=f"helpdesk-bench-{tag}-"))
        path = work / "helpdesk.db"
        url = f"sqlite:///{path}"
        engine = db.make_engine(url)  # the project's settings: WAL, synchronous=FULL
        backend = Backend(name, url, engine, lambda: shutil.rmtree(work, ignore_errors=True), path)
    elif name == "postgresql":
        schema = f"bench_{tag}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in PG_URL else "?"
        url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
        engine = db.make_engine(url)

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

        backend = Backend(name, url, engine, drop)
    else:
        raise SystemExit(f"unknown backend {name!r}: sqlite or postgresql")
    try:
        yield backend
    finally:
        backend.engine.dispose()
        backend.cleanup()


class BulkWriter:
    """Rows straight into tables: SQLite executemany in one transaction, PostgreSQL COPY.

    Loading is not what is measured, so it goes around the gateway: on SQLite a
    separate connection without foreign-key checks and without fsync; on
    PostgreSQL with ``session_replication_role = replica`` (no FK triggers per
    row; the rows are consistent by construction).
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        backend.engine.dispose()  # nobody else holds the SQLite file during the load
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        if backend.name == "sqlite":
            assert backend.sqlite_path is not None
            self.sqlite = sqlite3.connect(backend.sqlite_path, isolation_level=None)
            for pragma in (
                "journal_mode=MEMORY",
                "synchronous=OFF",
                "cache_size=-1000000",
                "foreign_keys=OFF",
            ):
                self.sqlite.execute(f"PRAGMA {pragma}")
            self.sqlite.execute("BEGIN")
        else:
            self.raw = backend.engine.raw_connection()
            self.pg = self.raw.driver_connection
            self.pg.execute("SET session_replication_role = replica")

    def write(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> int:
        t0 = time.perf_counter()
        n = 0
        cols = ", ".join(f'"{c}"' for c in columns)
        if self.backend.name == "sqlite":
            sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))})"
            it = iter(rows)
            while chunk := list(itertools.islice(it, CHUNK)):
                self.sqlite.executemany(sql, chunk)
                n += len(chunk)
        else:
            with self.pg.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    n += 1
        self.seconds[table] = self.seconds.get(table, 0.0) + time.perf_counter() - t0
        self.counts[table] = self.counts.get(table, 0) + n
        return n

    def finish(self) -> float:
        """Commit, then ANALYZE (PostgreSQL: VACUUM ANALYZE); the seconds that took."""
        t0 = time.perf_counter()
        if self.backend.name == "sqlite":
            self.sqlite.execute("COMMIT")
            self.sqlite.execute("PRAGMA journal_mode=WAL")
            self.sqlite.execute("ANALYZE")
            self.sqlite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.sqlite.close()
        else:
            self.pg.execute("SET session_replication_role = DEFAULT")
            for table in ("customers", "tickets", "messages", "outbox"):
                self.pg.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            self.pg.commit()
            self.pg.autocommit = True
            # only this schema's tables (search_path): others may be in use by tests
            self.pg.execute(f"VACUUM (ANALYZE) {', '.join(self.counts)}")
            self.pg.autocommit = False
            self.raw.close()
        return time.perf_counter() - t0


# --- the data ------------------------------------------------------------------------------

TICKET_COLUMNS = (
    "id",
    "subject",
    "customer_id",
    "status",
    "notify",
    "notify_address",
    "locale",
    "created_at",
    "updated_at",
    "awaiting_since",
    "closed_at",
    "locked",
    "reminded_for",
    "reopenable",
)
CUSTOMER_COLUMNS = ("id", "email", "name", "verified", "locale", "created_at")
MESSAGE_COLUMNS = (
    "id",
    "ticket_id",
    "message_id",
    "author_kind",
    "author_address",
    "customer_id",
    "subject",
    "text",
    "flags",
    "trace",
    "defects",
    "created_at",
)
OUTBOX_COLUMNS = (
    "id",
    "ticket_id",
    "kind",
    "to_address",
    "locale",
    "message_id",
    "in_reply_to",
    "references",
    "context",
    "auto_submitted",
    "state",
    "attempts",
    "next_attempt_at",
    "created_at",
    "sent_at",
)


@dataclass
class Shape:
    """What was loaded: row counts, and tickets per status."""

    tickets: int
    customers: int
    due: int
    statuses: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    outbox: int = 0
    thread_ids: int = 0


def due_numbers(n: int, due: int) -> list[int]:
    """``due`` ticket numbers, evenly spread over those created 61–240 days ago."""
    lo = max(1, int(n * (1 - 240 / HISTORY_DAYS)))
    hi = int(n * (1 - 61 / HISTORY_DAYS))
    if hi - lo + 1 < due:
        lo = 1
    if hi - lo + 1 < due:
        raise SystemExit(f"{due} due tickets do not fit in {n}: use --due at most {hi}")
    return [lo + k * (hi - lo + 1) // due for k in range(due)]


def load(
    backend: Backend, n: int, due: int, now: datetime, seed: int = 5, open_share: float = 0.025
) -> tuple[Shape, dict]:
    """Fill the database; returns what went in and the seconds per table.

    ``open_share`` of the tickets are open, always 40 % waiting for the customer, 40 %
    awaiting an operator and 20 % in progress; the rest closed."""
    rng = random.Random(seed)
    ts, bl = backend.fmt_ts(), backend.fmt_bool()
    naive_now = now.replace(tzinfo=None)
    start = naive_now - timedelta(days=HISTORY_DAYS)
    n_customers = max(1, n // 5)
    shape = Shape(tickets=n, customers=n_customers, due=due)
    due_set = set(due_numbers(n, due))
    reopen_from = naive_now - timedelta(days=30)
    # per customer: locale, email, name — kept compact, the tickets need them
    locales = ["ru" if rng.random() < 0.75 else "en" for _ in range(n_customers + 1)]

    def email(c: int) -> str:
        return f"client{c}@{MAIL_DOMAINS[c % len(MAIL_DOMAINS)]}"

    def customers() -> Iterator[tuple]:
        for c in range(1, n_customers + 1):
            ru = locales[c] == "ru"
            first, last = (FIRST_RU, LAST_RU) if ru else (FIRST_EN, LAST_EN)
            name = f"{rng.choice(first)} {rng.choice(last)}"
            yield (c, email(c), name, bl(True), locales[c], ts(start - DAY * rng.uniform(0, 365)))

    # ticket → (customer, locale, created_at, subject) is needed again for messages/outbox:
    # rebuild it from a per-ticket seed instead of holding a million tuples.
    def basics(t: int) -> tuple[int, str, datetime, str, str]:
        r = random.Random(t * 7919 + seed)
        c = r.randrange(n_customers) + 1
        loc = locales[c]
        created = start + timedelta(days=HISTORY_DAYS * (t - r.random()) / n)
        site, code = _site(r), r.choice(CODES)
        subject = r.choice(SUBJECTS[loc]).format(site=site, code=code)
        return c, loc, created, subject, TEXTS[loc].format(site=site, code=code)

    def tickets() -> Iterator[tuple]:
        counts: dict[str, int] = {}
        for t in range(1, n + 1):
            c, loc, created, subject, _ = basics(t)
            notify, address = True, email(c)
            awaiting = closed = reminded = None
            locked = False
            if t in due_set:
                status = "awaiting_customer"
                awaiting = naive_now - DAY * rng.uniform(31, 60)
                created = min(created, awaiting - DAY * rng.uniform(0.1, 5))
                reminded = awaiting  # the reminder went out on day 23
            else:
                r = rng.random()
                if r < open_share * 0.4:  # waiting for the customer, not yet due (some remind)
                    status = "awaiting_customer"
                    awaiting = max(created, naive_now - DAY * rng.uniform(0.2, 29.5))
                    if naive_now - awaiting > DAY * 23:
                        reminded = awaiting
                elif r < open_share * 0.8:
                    status, awaiting = "awaiting_operator", naive_now - DAY * rng.uniform(0, 3)
                elif r < open_share:
                    status, awaiting = "in_progress", naive_now - DAY * rng.uniform(0, 5)
                else:
                    status = "closed_no_reply" if rng.random() < 0.15 else "closed"
                    closed = min(created + DAY * rng.uniform(0.05, 15), naive_now - DAY * 0.01)
                    locked = status == "closed" and rng.random() < 0.02
                notify = rng.random() > 0.03
            counts[status] = counts.get(status, 0) + 1
            updated = closed or awaiting or created
            reopenable = closed is None or (closed >= reopen_from and not locked)
            yield (
                t,
                subject,
                c,
                status,
                bl(notify),
                address,
                loc,
                ts(created),
                ts(updated),
                ts(awaiting),
                ts(closed),
                bl(locked),
                ts(reminded),
                bl(reopenable),
            )
        shape.statuses = dict(sorted(counts.items()))

    def customer_mid(t: int) -> str:
        return f"<t{t}.{t * 2654435761 % 10**9}@{MAIL_DOMAINS[t % len(MAIL_DOMAINS)]}>"

    def messages() -> Iterator[tuple]:
        for t in range(1, n + 1):
            c, _, created, subject, body = basics(t)
            yield (t, t, customer_mid(t), "customer", email(c), c, subject, body, "", "[]", "[]",
                   ts(created))  # fmt: skip

    def outbox_rows() -> Iterator[tuple]:
        for t in range(1, n + 1):
            c, loc, created, _, _ = basics(t)
            at = ts(created + timedelta(seconds=2))
            mid = customer_mid(t)
            yield (t, t, "created", email(c), loc, f"<created.{t}@example.com>", mid, mid, "{}",
                   "auto-replied", "sent", 1, at, at, at)  # fmt: skip

    def thread_ids() -> Iterator[tuple]:
        for t in range(1, n + 1):
            yield (customer_mid(t), t)
            yield (f"<created.{t}@example.com>", t)

    writer = BulkWriter(backend)
    writer.write("customers", CUSTOMER_COLUMNS, customers())
    writer.write("tickets", TICKET_COLUMNS, tickets())
    shape.messages = writer.write("messages", MESSAGE_COLUMNS, messages())
    shape.outbox = writer.write("outbox", OUTBOX_COLUMNS, outbox_rows())
    shape.thread_ids = writer.write("thread_ids", ("message_id", "ticket_id"), thread_ids())
    analyze = writer.finish()
    return shape, {
        **{k: round(v, 1) for k, v in writer.seconds.items()},
        "analyze": round(analyze, 1),
    }


# --- watching the statements ---------------------------------------------------------------


def _label(statement: str) -> str:
    s = re.sub(r"\s+", " ", statement).strip()
    s = re.sub(r"\(__\[POSTCOMPILE_\w+\]\)|\((?:\?|%\(\w+\)s)(?:, (?:\?|%\(\w+\)s))*\)", "(…)", s)
    return s[:90]


@dataclass
class Watch:
    """Time per SQL statement shape, and the first batch's SELECTs (for their plans)."""

    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    first: dict[str, tuple[str, Any]] = field(default_factory=dict)

    @contextmanager
    def on(self, engine: Engine) -> Iterator[Watch]:
        def before(conn, cursor, statement, parameters, context, executemany):
            conn.info["bench_t0"] = time.perf_counter()

        def after(conn, cursor, statement, parameters, context, executemany):
            key = _label(statement)
            self.seconds[key] = (
                self.seconds.get(key, 0.0) + time.perf_counter() - conn.info.pop("bench_t0")
            )
            self.calls[key] = self.calls.get(key, 0) + 1
            if key not in self.first and statement.lstrip().upper().startswith("SELECT"):
                self.first[key] = (statement, parameters)

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        try:
            yield self
        finally:
            event.remove(engine, "before_cursor_execute", before)
            event.remove(engine, "after_cursor_execute", after)


def _short(line: str, most: int = 160) -> str:
    """A plan line with its long IN-list cut: '{1,2,3,…}' says enough."""
    line = re.sub(r"'\{([^}]{40})[^}]*\}'", r"'{\1…}'", line)
    return line if len(line) <= most else line[: most - 1] + "…"


def explain(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """The plan of one captured statement: EXPLAIN QUERY PLAN, or EXPLAIN (ANALYZE, BUFFERS)
    in a transaction rolled back (it may lock rows)."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            depth: dict[int, int] = {0: 0}
            lines = []
            for node, parent, _, detail in cur.fetchall():
                depth[node] = depth.get(parent, 0) + 1
                lines.append("  " * depth[node] + detail)
            return lines
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters)
        return ["  " + _short(r[0]) for r in cur.fetchall()]
    finally:
        raw.rollback()
        raw.close()


# --- one run -------------------------------------------------------------------------------


@dataclass
class Run:
    backend: str
    tickets: int
    due: int
    shape: dict
    load_seconds: float
    load_detail: dict
    sweep_seconds: float  # the median pass
    passes: list[float]
    cpu_seconds: list[float]
    server_cpu_seconds: list[float]
    load_average: list[float]
    io: list[dict[str, float]]
    closures_per_second: float
    idle_seconds: float
    closed: int
    outbox_rows: int
    outbox_states: dict
    events: int
    still_due: int
    every_pass_verified: bool
    db_seconds: float
    statements: list[dict]
    plans: dict[str, list[str]]
    profile: str | None = None

    @property
    def verified(self) -> bool:
        ok = self.closed == self.outbox_rows == self.events == self.due and self.still_due == 0
        return ok and self.every_pass_verified


def _verify(backend: Backend, now: datetime) -> dict:
    """What the pass left: closures at ``now``, their outbox rows and events, and any still due."""
    sqlite = backend.name == "sqlite"
    closed_at = now.replace(tzinfo=None)
    cutoff = closed_at - timedelta(days=30)
    fmt = backend.fmt_ts()
    with backend.engine.connect() as conn:

        def one(sql: str, **params: Any) -> Any:
            return conn.execute(text(sql), params).scalar_one()

        states = conn.execute(
            text("SELECT state, count(*) FROM outbox WHERE kind = 'auto_closed' GROUP BY state")
        ).all()
        return {
            "closed": one(
                "SELECT count(*) FROM tickets WHERE status = 'closed_no_reply' AND closed_at = :at",
                at=fmt(closed_at) if sqlite else closed_at,
            ),
            "outbox_states": dict(states),
            "events": one(
                "SELECT count(*) FROM events WHERE actor = 'system:scheduler'"
                " AND to_status = 'closed_no_reply'"
            ),
            "still_due": one(
                "SELECT count(*) FROM tickets WHERE status = 'awaiting_customer'"
                " AND awaiting_since < :cut",
                cut=fmt(cutoff) if sqlite else cutoff,
            ),
        }


def _due_rows(backend: Backend, now: datetime) -> list[dict]:
    """The due tickets' clocks as stored, to put them back between passes."""
    cutoff = now.replace(tzinfo=None) - timedelta(days=30)
    cut = backend.fmt_ts()(cutoff)
    with backend.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, awaiting_since, reminded_for, updated_at FROM tickets"
                " WHERE status = 'awaiting_customer' AND awaiting_since < :cut"
            ),
            {"cut": cut},
        ).all()
    return [{"id": r[0], "a": r[1], "r": r[2], "u": r[3]} for r in rows]


def _restore(backend: Backend, due: list[dict]) -> None:
    """Undo a pass: the tickets wait again, its outbox rows, thread ids and events go."""
    with backend.engine.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM thread_ids WHERE message_id IN"
                " (SELECT message_id FROM outbox WHERE kind = 'auto_closed')"
            )
        )
        conn.execute(text("DELETE FROM outbox WHERE kind = 'auto_closed'"))
        conn.execute(text("DELETE FROM events WHERE actor = 'system:scheduler'"))
        conn.execute(
            text(
                "UPDATE tickets SET status = 'awaiting_customer', awaiting_since = :a,"
                " reminded_for = :r, updated_at = :u, closed_at = NULL, reopenable = :yes"
                " WHERE id = :id"
            ),
            [{**d, "yes": True} for d in due],
        )
    backend.engine.dispose()
    raw = backend.engine.raw_connection()
    try:
        if backend.name == "sqlite":  # the connection is in autocommit (db.make_engine)
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:  # as autovacuum would have by the next pass: no dead rows to step over
            raw.driver_connection.autocommit = True
            raw.cursor().execute("VACUUM (ANALYZE) tickets, outbox, thread_ids, events")
            raw.driver_connection.autocommit = False
    finally:
        raw.close()
    backend.engine.dispose()


def _server_pid(session: Any) -> int | None:
    """The PostgreSQL backend's process id (same machine), None on SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return session.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process on this machine (0 when not known)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _io(pid: int, server: int | None) -> dict[str, float]:
    """/proc/PID/io of this process (and of the PostgreSQL backend): reads and writes of
    pages, as calls and megabytes — what a bigger file costs that the CPU time hides."""
    out: dict[str, float] = {}
    for who, p in (("here", pid), ("server", server)):
        if p is None:
            continue
        try:
            lines = Path(f"/proc/{p}/io").read_text().split()
        except OSError:
            continue
        raw = dict(zip(lines[::2], (int(v) for v in lines[1::2]), strict=True))
        out[f"{who}_read_calls"] = raw["syscr:"]
        out[f"{who}_write_calls"] = raw["syscw:"]
        out[f"{who}_read_mb"] = round(raw["rchar:"] / 2**20, 1)
        out[f"{who}_write_mb"] = round(raw["wchar:"] / 2**20, 1)
    return out


def one_run(
    name: str, n: int, due: int, *, profile: bool, repeat: int = 1, quiet: bool = False
) -> Run:
    now = datetime.now(UTC).replace(microsecond=0)
    with open_backend(name, f"sweep{n}") as backend:
        t0 = time.perf_counter()
        db.upgrade(backend.engine)
        shape, detail = load(backend, n, due, now)
        load_seconds = time.perf_counter() - t0
        if not quiet:
            print(f"  {name} {n:,}: loaded in {load_seconds:.0f} s {detail}", flush=True)
            print(f"  statuses {shape.statuses}", flush=True)
        sessions = db.session_factory(backend.engine)
        rules = SweepRules(
            policy=Policy(),
            notices=Notices(
                support="support@example.com", domain="example.com", secret=b"x" * 32
            ),
        )
        due_rows = _due_rows(backend, now) if repeat > 1 else []
        passes: list[float] = []
        cpu: list[float] = []  # this process: Python, and all of SQLite's work
        server_cpu: list[float] = []  # the PostgreSQL backend serving the pass
        loads: list[float] = []  # the machine's 1-minute load average around the pass
        io_use: list[dict[str, float]] = []  # read/write calls and MB, here and in the PG backend
        checks: list[dict] = []
        watch = Watch()
        prof = cProfile.Profile() if profile else None
        for i in range(repeat):
            if i:
                _restore(backend, due_rows)
            with sessions() as s:  # one connection in the pool, as a running gateway has
                server = _server_pid(s)
            with watch.on(backend.engine) if i == 0 else contextlib.nullcontext():
                load_before = os.getloadavg()[0]
                cpu0, server0 = time.process_time(), _cpu_seconds(server)
                io0 = _io(os.getpid(), server)
                t0 = time.perf_counter()
                if prof and i == 0:
                    prof.enable()
                report = run_job(sessions, "auto_close", rules, now)
                if prof and i == 0:
                    prof.disable()
                passes.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - cpu0)
                server_cpu.append(_cpu_seconds(server) - server0)
                loads.append(max(load_before, os.getloadavg()[0]))
                after = _io(os.getpid(), server)
                io_use.append({k: round(v - io0.get(k, 0), 1) for k, v in after.items()})
            checks.append(_verify(backend, now) | {"closures": len(report.auto_closed)})
            if not quiet:
                print(
                    f"    pass {i + 1}: {passes[-1]:.2f} s (CPU here {cpu[-1]:.2f} s,"
                    f" database server {server_cpu[-1]:.2f} s; load average {loads[-1]:.2f});"
                    f" {checks[-1]}; I/O {io_use[-1]}",
                    flush=True,
                )
        t0 = time.perf_counter()
        idle = run_job(sessions, "auto_close", rules, now)
        idle_seconds = time.perf_counter() - t0
        assert not idle.auto_closed, "a second pass found work"
        seconds = statistics.median(passes)
        last = checks[-1]
        consistent = all(
            c["closed"] == sum(c["outbox_states"].values()) == c["events"] == due
            and c["still_due"] == 0
            for c in checks
        )
        plans = {k: explain(backend.engine, *v) for k, v in watch.first.items()}
        profile_text = None
        if prof:
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(30)
            profile_text = buf.getvalue()
        statements = sorted(
            (
                {"sql": k, "calls": watch.calls[k], "seconds": round(v, 3)}
                for k, v in watch.seconds.items()
            ),
            key=lambda d: -d["seconds"],
        )
        return Run(
            backend=name,
            tickets=n,
            due=due,
            shape=asdict(shape),
            load_seconds=round(load_seconds, 1),
            load_detail=detail,
            sweep_seconds=round(seconds, 3),
            passes=[round(x, 3) for x in passes],
            cpu_seconds=[round(x, 3) for x in cpu],
            server_cpu_seconds=[round(x, 3) for x in server_cpu],
            load_average=[round(x, 2) for x in loads],
            io=io_use,
            closures_per_second=round(due / seconds, 1),
            idle_seconds=round(idle_seconds, 4),
            closed=last["closed"],
            outbox_rows=sum(last["outbox_states"].values()),
            outbox_states=last["outbox_states"],
            events=last["events"],
            still_due=last["still_due"],
            every_pass_verified=consistent,
            db_seconds=round(sum(watch.seconds.values()), 3),
            statements=statements,
            plans=plans,
            profile=profile_text,
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000000,100000", help="ticket counts, largest first")
    ap.add_argument("--due", type=int, default=10_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--repeat", type=int, default=3, help="passes per size (undone between)")
    ap.add_argument("--profile", action="store_true", help="cProfile the timed pass (slower)")
    ap.add_argument("--plans", action="store_true", help="print the query plans")
    ap.add_argument("--json-out", type=Path, help="write the JSON result here (default: stdout)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    runs: list[Run] = []
    started = time.perf_counter()
    for name in backends:
        # a small pass first, not reported: the first run in a process compiles and
        # caches every statement, which would be charged to whichever size came first
        one_run(name, 3000, 600, profile=False, quiet=True)
        for n in sizes:
            print(f"{name}: {n:,} tickets, {args.due:,} due …", flush=True)
            run = one_run(name, n, args.due, profile=args.profile, repeat=args.repeat)
            runs.append(run)
            print(
                f"  sweep {run.sweep_seconds:.2f} s median of {run.passes}"
                f" ({run.closures_per_second:.0f} closures/s),"
                f" SQL {run.db_seconds:.2f} s, idle pass {run.idle_seconds * 1000:.1f} ms;"
                f" verified: {'yes' if run.verified else 'NO'}",
                flush=True,
            )
            for st in run.statements[:6]:
                print(f"    {st['seconds']:7.3f} s {st['calls']:>4}×  {st['sql']}")
            if args.plans:
                for sql, plan in run.plans.items():
                    print(f"    {sql}\n" + "\n".join("    " + line for line in plan))
            if run.profile:
                print(run.profile)
    summary = report(runs, sizes)
    ok = all(r.verified for r in runs) and all(s["ok"] for s in summary)
    print(f"\nall closures verified: {'yes' if all(r.verified for r in runs) else 'NO'}")
    print(f"total wall time {time.perf_counter() - started:.0f} s")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "when": stamp,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
        },
        "due": args.due,
        "summary": summary,
        "runs": [{**asdict(r), "verified": r.verified} for r in runs],
    }
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
        print(f"written to {args.json_out}")
    else:
        print(json.dumps(result, ensure_ascii=False))
    return 0 if ok else 1


def report(runs: list[Run], sizes: list[int]) -> list[dict]:
    """The issue's table: per backend and size, and the ratio largest / smallest size.

    ``sweep s`` is the median pass's wall time (the target); ``CPU s`` is the
    median of this process's plus the PostgreSQL backend's CPU time, which a
    busy neighbour on the machine disturbs less."""
    print(
        f"\n{'backend':10} {'tickets':>9} {'due':>6} {'load s':>6} {'sweep s':>7}"
        f" {'closures/s':>10} {'CPU s':>5} {'SQL s':>5} {'idle ms':>7} {'< 10 s':>6}"
        f" {'ratio':>5} {'< 2×':>4} {'CPU ratio':>9}"
    )
    summary = []
    for name in dict.fromkeys(r.backend for r in runs):
        mine = {r.tickets: r for r in runs if r.backend == name}
        big, small = mine.get(max(sizes)), mine.get(min(sizes))
        ratio = cpu_ratio = None
        if big and small and big is not small:
            ratio = big.sweep_seconds / small.sweep_seconds
            cpu_ratio = _cpu(big) / _cpu(small) if _cpu(small) else None
        for n in sizes:
            r = mine.get(n)
            if r is None:
                continue
            under = r.sweep_seconds < 10
            line = {
                "backend": name,
                "tickets": n,
                "due": r.due,
                "load_seconds": r.load_seconds,
                "sweep_seconds": r.sweep_seconds,
                "passes": r.passes,
                "closures_per_second": r.closures_per_second,
                "cpu_seconds": round(_cpu(r), 3),
                "sql_seconds": r.db_seconds,
                "idle_ms": round(r.idle_seconds * 1000, 1),
                "under_10s": under,
                "ratio_largest_to_smallest": round(ratio, 2) if ratio else None,
                "ratio_under_2": ratio < 2 if ratio else None,
                "cpu_ratio_largest_to_smallest": round(cpu_ratio, 2) if cpu_ratio else None,
                "verified": r.verified,
            }
            line["ok"] = under and (ratio is None or ratio < 2) and r.verified
            summary.append(line)
            last = ratio and r is big
            print(
                f"{name:10} {n:>9,} {r.due:>6,} {r.load_seconds:>6.0f} {r.sweep_seconds:>7.2f}"
                f" {r.closures_per_second:>10.0f} {_cpu(r):>5.2f} {r.db_seconds:>5.2f}"
                f" {r.idle_seconds * 1000:>7.1f} {'yes' if under else 'NO':>6}"
                f" {f'{ratio:5.2f}' if last else '':>5}"
                f" {('yes' if ratio < 2 else 'NO') if last else '':>4}"
                f" {f'{cpu_ratio:9.2f}' if last and cpu_ratio else '':>9}"
            )
    return summary


def _cpu(r: Run) -> float:
    both = [a + b for a, b in zip(r.cpu_seconds, r.server_cpu_seconds, strict=True)]
    return statistics.median(both) if both else 0.0


if __name__ == "__main__":
    sys.exit(main())
