"""Several gateway processes on one PostgreSQL, no leader (DESIGN §5, issue 6).

Intake is exactly-once through the unique idempotency key; every scheduler
job claims its rows (``SKIP LOCKED`` or a conditional update), so running the
sweep in three processes at once over thousands of due tickets must close,
remind, lapse, escalate and merge each ticket once, and send each resulting
mail once. These tests start real child processes (``helpdesk sweep``,
``helpdesk serve``) against the real database and count every effect.
SQLite keeps working for a single instance.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, text

from gateway.app.gateway import Gateway
from gateway.config import load_settings
from gateway.desk import dedup
from gateway.store.tables import Customer, Event, Message, Outbox, RawMail, ThreadId, Ticket
from gateway.testing import RecordingSMTP, free_port, wait_for_banner
from tests.conftest import PG_URL, _pg_schema_url
from tests.helpers import SUPPORT, cli, mail, until, wire

REPO = Path(__file__).resolve().parents[1]
SECRET = "many-instances-shared-secret"
TEAM = "team@example.com"
CUSTOMERS = Customer.__table__
TICKETS = Ticket.__table__
MESSAGES = Message.__table__
THREAD_IDS = ThreadId.__table__
EVENTS = Event.__table__
OUTBOX = Outbox.__table__
RAW = RawMail.__table__

needs_pg = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="needs HELPDESK_TEST_DATABASE_URL"),
]


def _pg(test: Any) -> Any:
    for mark in needs_pg:
        test = mark(test)
    return test


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema (search_path in the URL), dropped afterwards."""
    yield from _pg_schema_url()


# --- set-up helpers ------------------------------------------------------------------


def _env(url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """A child's environment: no inherited HELPDESK_*, the same secret on every instance."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env.update(
        {
            "HELPDESK_DATABASE_URL": url,
            "HELPDESK_DATA_DIR": str(data_dir),
            "HELPDESK_DOMAIN": "example.com",
            "HELPDESK_SECRET": SECRET,
            "HELPDESK_TEAM_ADDRESS": TEAM,
            "HELPDESK_HTTP_LISTEN": "",  # several instances on one machine: no page each
            **extra,
        }
    )
    return env


def _init(url: str, data_dir: Path) -> None:
    """``helpdesk init`` in-process (the CLI is exercised by the SQLite test)."""
    gw = Gateway(load_settings(environ={}, data_dir=data_dir, database_url=url, secret=SECRET))
    try:
        gw.init_database()
    finally:
        gw.close()


def _as_of() -> datetime:
    """The sweep's moment: a little in the past, so what it writes is due to send now."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)


@dataclass
class Seeded:
    """Ticket numbers by what the sweep as of ``as_of`` must do to them."""

    as_of: datetime
    close: list[int] = field(default_factory=list)
    remind: list[int] = field(default_factory=list)
    lapse: list[int] = field(default_factory=list)
    escalate: list[int] = field(default_factory=list)
    pairs: list[tuple[int, int]] = field(default_factory=list)  # (later, earlier)
    quiet: list[int] = field(default_factory=list)  # nothing is due: must stay as seeded
    rows: dict[int, dict] = field(default_factory=dict)  # every ticket as seeded


class _Seeder:
    """Rows as intake would have written them, built in memory, inserted in bulk."""

    def __init__(self, as_of: datetime) -> None:
        self.as_of = as_of
        self.customers: list[dict] = []
        self.tickets: list[dict] = []
        self.messages: list[dict] = []
        self.threads: list[dict] = []

    def customer(self) -> int:
        number = len(self.customers) + 1
        self.customers.append(
            {
                "id": number,
                "email": f"client{number}@example.ru",
                "name": f"Клиент {number}",
                "verified": True,
                "locale": None,
                "created_at": self.as_of - timedelta(days=90),
            }
        )
        return number

    def ticket(
        self,
        status: str,
        *,
        created: timedelta,
        waiting: timedelta | None = None,
        closed: timedelta | None = None,
        customer: int | None = None,
        subject: str | None = None,
        body: str | None = None,
        reminded: bool = False,
        escalated: timedelta | None = None,
    ) -> int:
        number = len(self.tickets) + 1
        who = customer if customer is not None else self.customer()
        email = self.customers[who - 1]["email"]
        subject = subject or f"Не открывается сайт site{number}.example.ru"
        body = body or f"Здравствуйте! Сайт site{number}.example.ru отдаёт 502, договор {number}."
        request = dedup.request_text(subject, body)
        created_at = self.as_of - created
        awaiting = None if waiting is None else self.as_of - waiting
        self.tickets.append(
            {
                "id": number,
                "subject": subject,
                "customer_id": who,
                "status": status,
                "notify": True,
                "notify_address": email,
                "locale": "ru",
                "created_at": created_at,
                "updated_at": created_at,
                "awaiting_since": awaiting,
                "closed_at": None if closed is None else self.as_of - closed,
                "locked": False,
                "follow_up_of": None,
                "assignee_id": None,
                "notify_pending_address": None,
                "notify_bounced": None,
                "request_digest": dedup.digest(request),
                "request_norm": request[: dedup.KEEP_CHARS],
                "reminded_for": awaiting if reminded else None,
                "escalated_at": None if escalated is None else self.as_of - escalated,
                "reopenable": True,
                "duplicate_of": None,
            }
        )
        message_id = f"<seed-{number}-{uuid.uuid4().hex[:8]}@example.ru>"
        self.messages.append(
            {
                "ticket_id": number,
                "raw_mail_id": None,
                "message_id": message_id,
                "author_kind": "customer",
                "author_address": email,
                "customer_id": who,
                "operator_id": None,
                "subject": subject,
                "text": body,
                "html": None,
                "flags": "",
                "trace": "[]",
                "defects": "[]",
                "sent_at": None,
                "created_at": created_at,
                "digest": dedup.digest(dedup.normalize(body)),
            }
        )
        self.threads.append({"message_id": message_id, "ticket_id": number})
        return number

    def insert(self, url: str) -> None:
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                for table, rows in (
                    (CUSTOMERS, self.customers),
                    (TICKETS, self.tickets),
                    (MESSAGES, self.messages),
                    (THREAD_IDS, self.threads),
                ):
                    if rows:
                        conn.execute(table.insert(), rows)
                if conn.dialect.name == "postgresql":  # the ids were given: move the sequences on
                    for name in ("customers", "tickets"):
                        conn.execute(
                            text(
                                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                f"(SELECT max(id) FROM {name}))"
                            )
                        )
        finally:
            engine.dispose()


def seed(
    url: str,
    as_of: datetime,
    *,
    close: int,
    remind: int,
    lapse: int,
    escalate: int,
    pairs: int,
    quiet: int,
) -> Seeded:
    """Due tickets of every job, and ``quiet`` tickets of each near-miss kind."""
    s = _Seeder(as_of)
    out = Seeded(as_of)
    day, sec = timedelta(days=1), timedelta(seconds=1)
    AC, AO = "awaiting_customer", "awaiting_operator"
    for i in range(close):  # over 30 days without the customer's answer
        out.close.append(s.ticket(AC, created=40 * day, waiting=31 * day + i * sec))
    for i in range(remind):  # day 25 of 30: the reminder
        out.remind.append(s.ticket(AC, created=30 * day, waiting=25 * day + i * sec))
    for i in range(lapse):  # closed over 30 days ago: no longer reopenable
        out.lapse.append(s.ticket("closed", created=60 * day, closed=31 * day + i * sec))
    for i in range(escalate):  # two days without an operator's answer
        out.escalate.append(s.ticket(AO, created=3 * day, waiting=2 * day + i * sec))
    # The same request twice from one customer, a minute apart; all the earlier tickets are
    # numbered before all the later ones, so the sweep's pages of recent tickets hold both.
    earlier = []
    for k in range(pairs):
        who = s.customer()
        subject = f"Не доходит почта на shop{k}.example.ru"
        body = f"Здравствуйте! Письма на info@shop{k}.example.ru возвращаются с ошибкой 550."
        made = 10 * timedelta(minutes=1)
        earlier.append(
            (
                who,
                subject,
                body,
                s.ticket(AO, created=made, waiting=made, customer=who, subject=subject, body=body),
            )
        )
    for who, subject, body, first in earlier:
        made = 9 * timedelta(minutes=1)
        later = s.ticket(AO, created=made, waiting=made, customer=who, subject=subject, body=body)
        out.pairs.append((later, first))
    for _ in range(quiet):
        out.quiet.append(s.ticket(AC, created=20 * day, waiting=10 * day))  # nothing yet
        out.quiet.append(s.ticket(AC, created=30 * day, waiting=25 * day, reminded=True))
        out.quiet.append(s.ticket("closed", created=9 * day, closed=5 * day))  # still reopenable
        out.quiet.append(s.ticket(AO, created=2 * day, waiting=2 * timedelta(hours=1)))
        out.quiet.append(  # listed in a digest two hours ago
            s.ticket(AO, created=3 * day, waiting=2 * day, escalated=2 * timedelta(hours=1))
        )
        who = s.customer()  # two recent requests of one customer about different domains
        made = 5 * timedelta(minutes=1)
        for name in ("alpha", "beta"):
            out.quiet.append(
                s.ticket(
                    AO,
                    created=made,
                    waiting=made,
                    customer=who,
                    subject=f"Не работает {name}{who}.example.ru",
                    body=f"Здравствуйте! Сайт {name}{who}.example.ru не открывается с утра.",
                )
            )
    s.insert(url)
    out.rows = {t["id"]: t for t in s.tickets}
    return out


def _run_sweeps(
    url: str, tmp_path: Path, as_of: datetime, count: int, **extra: str
) -> list[dict[str, Any]]:
    """``helpdesk sweep --as-of … --json`` in ``count`` child processes started together."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    procs = []
    for i in range(count):
        env = _env(url, tmp_path / f"var{i}", **extra)
        out = (tmp_path / f"sweep{i}.json").open("wb")
        err = (tmp_path / f"sweep{i}.err").open("wb")
        cmd = [sys.executable, "-m", "gateway.cli", "sweep", "--as-of", as_of.isoformat(), "--json"]
        procs.append((subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=err), out, err))
    reports = []
    for i, (proc, out, err) in enumerate(procs):
        code = proc.wait(timeout=110)
        out.close()
        err.close()
        stderr = (tmp_path / f"sweep{i}.err").read_text(errors="replace")
        assert code == 0, f"sweep {i} exited with {code}: {stderr[-2000:]}"
        reports.append(json.loads((tmp_path / f"sweep{i}.json").read_text()))
    return reports


def _once(reports: list[dict[str, Any]], key: str) -> Counter:
    """How many times each ticket number was reported under ``key``, over all processes."""
    return Counter(n for r in reports for n in r[key])


_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.MULTILINE | re.IGNORECASE)


# --- 1-3: the sweep in three processes at once -------------------------------------------------


@_pg
def test_three_sweeps_at_once_do_every_effect_exactly_once(pg_url: str, tmp_path: Path):
    """Three `helpdesk sweep` processes over ~7,500 tickets: each effect and mail once."""
    _init(pg_url, tmp_path / "init")
    as_of = _as_of()
    started = time.monotonic()
    seeded = seed(
        pg_url, as_of, close=3000, remind=1500, lapse=1000, escalate=1200, pairs=200, quiet=30
    )
    seeding = time.monotonic() - started

    with RecordingSMTP() as smarthost:
        started = time.monotonic()
        reports = _run_sweeps(
            pg_url,
            tmp_path,
            as_of,
            3,
            HELPDESK_SMARTHOST=smarthost.url,
            HELPDESK_SMARTHOST_STARTTLS="no",
        )
        sweeping = time.monotonic() - started
        received = list(smarthost.mails)
        # A fourth sweep afterwards finds nothing left to do.
        (again,) = _run_sweeps(
            pg_url, tmp_path / "again", as_of, 1, HELPDESK_SMARTHOST=smarthost.url
        )
    print(f"seeded in {seeding:.1f} s, three sweeps took {sweeping:.1f} s")

    # The union of the reports is what was due, and no number was reported twice.
    assert _once(reports, "auto_closed") == Counter(seeded.close)
    assert _once(reports, "reminded") == Counter(seeded.remind)
    assert _once(reports, "reopen_lapsed") == Counter(seeded.lapse)
    assert _once(reports, "escalated") == Counter(seeded.escalate)
    merged = Counter((m["ticket"], m["into"]) for r in reports for m in r["merged"])
    assert merged == Counter(seeded.pairs)
    # The work was really shared, not done by whichever process came first.
    shared = [sum(len(r[k]) for k in ("auto_closed", "reminded", "reopen_lapsed")) for r in reports]
    print(f"auto-close + remind + lapse per process: {shared}")
    assert sum(1 for n in shared if n) >= 2, f"one process did all the work: {shared}"

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            tickets = {r.id: r for r in conn.execute(select(TICKETS))}
            events = conn.execute(select(EVENTS)).all()
            outbox = conn.execute(select(OUTBOX)).all()
            moved = dict(conn.execute(select(MESSAGES.c.message_id, MESSAGES.c.ticket_id)).all())
            threads = dict(
                conn.execute(select(THREAD_IDS.c.message_id, THREAD_IDS.c.ticket_id)).all()
            )
    finally:
        engine.dispose()

    # Auto-close: closed_no_reply, one event each.
    closes = Counter(e.ticket_id for e in events if e.to_status == "closed_no_reply")
    assert closes == Counter(seeded.close)
    for n in seeded.close:
        t = tickets[n]
        assert (t.status, t.closed_at, t.awaiting_since) == ("closed_no_reply", as_of, None)
    assert all(e.actor == "system:scheduler" for e in events if e.to_status == "closed_no_reply")
    # Reminders: marked once per waiting period, nothing else changed.
    for n in seeded.remind:
        t = tickets[n]
        assert t.status == "awaiting_customer" and t.reminded_for == t.awaiting_since
    # Reopen window lapsed.
    assert all(tickets[n].reopenable is False for n in seeded.lapse)
    # Escalation: every due ticket stamped with the sweep's moment.
    assert all(tickets[n].escalated_at == as_of for n in seeded.escalate)
    # Duplicates: the later ticket closed into the earlier, once; its messages moved there.
    merge_events = Counter(e.ticket_id for e in events if e.actor == "system:dedup-sweep")
    assert merge_events == Counter(later for later, _ in seeded.pairs)
    for later, earlier in seeded.pairs:
        src, dst = tickets[later], tickets[earlier]
        assert (src.status, src.duplicate_of, src.reopenable) == ("closed", earlier, False)
        assert dst.status == "awaiting_operator" and dst.duplicate_of is None
    holders = Counter(moved.values())
    assert all((holders[a], holders[b]) == (0, 2) for a, b in seeded.pairs), "messages not moved"
    assert all(threads[mid] == ticket for mid, ticket in moved.items())
    # Nothing else changed: no events but those, near-miss tickets untouched.
    assert {e.ticket_id for e in events} == set(seeded.close) | {a for a, _ in seeded.pairs}
    columns = ("status", "awaiting_since", "closed_at", "reminded_for", "escalated_at")
    columns += ("reopenable", "duplicate_of", "updated_at")
    for n in seeded.quiet:
        now, then = tickets[n]._mapping, seeded.rows[n]
        assert {c: now[c] for c in columns} == {c: then[c] for c in columns}, n

    # The outbox: exactly one row per effect, each sent once.
    kinds = Counter(r.kind for r in outbox)
    digests = [r for r in outbox if r.kind == "escalation"]
    assert kinds == {
        "auto_closed": len(seeded.close),
        "reminder": len(seeded.remind),
        "duplicate": len(seeded.pairs),
        "escalation": len(digests),
    }
    assert Counter(r.ticket_id for r in outbox if r.kind == "auto_closed") == Counter(seeded.close)
    assert Counter(r.ticket_id for r in outbox if r.kind == "reminder") == Counter(seeded.remind)
    assert Counter(r.ticket_id for r in outbox if r.kind == "duplicate") == Counter(
        e for _, e in seeded.pairs
    )
    listed = Counter(t["number"] for r in digests for t in json.loads(r.context)["tickets"])
    assert listed == Counter(seeded.escalate), "a ticket was in two digests, or in none"
    assert all(r.to_address == TEAM and r.ticket_id is None for r in digests)
    assert {(r.state, r.attempts) for r in outbox} == {("sent", 1)}
    assert sum(r["notifications_tried"] for r in reports) == len(outbox)

    # The smarthost got every row once, by Message-ID, at the row's address.
    got = Counter()
    to: dict[bytes, list[str]] = {}
    for m in received:
        found = _MESSAGE_ID.search(m.data)
        assert found is not None
        got[found.group(1)] += 1
        to[found.group(1)] = m.rcpt_tos
    twice = [mid for mid, n in got.items() if n > 1]
    assert twice == [], f"{len(twice)} mails sent twice"
    assert set(got) == {r.message_id.encode() for r in outbox}
    assert all(to[r.message_id.encode()] == [r.to_address] for r in outbox)

    nothing = ("auto_closed", "reminded", "reopen_lapsed", "escalated", "merged")
    assert [again[k] for k in nothing] == [[]] * 5 and again["notifications_tried"] == 0


# --- 4: intake at two instances at once --------------------------------------------------------


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=out,
        )


class _Instances:
    """Two `helpdesk serve` children on one database, each on its own port."""

    def __init__(self, url: str, tmp_path: Path, **extra: str) -> None:
        for i in range(2):  # made beforehand: see test_serve_starts_without_its_data_dir
            (tmp_path / f"var{i}").mkdir(parents=True, exist_ok=True)
        self.ports = [free_port(), free_port()]
        self.logs = [tmp_path / f"serve{i}.log" for i in range(2)]
        self.procs = [
            _serve(
                _env(
                    url, tmp_path / f"var{i}", HELPDESK_LISTEN=f"smtp://127.0.0.1:{port}", **extra
                ),
                self.logs[i],
            )
            for i, port in enumerate(self.ports)
        ]

    def __enter__(self) -> _Instances:
        try:
            for port, proc in zip(self.ports, self.procs, strict=True):
                wait_for_banner(port, proc, timeout=60)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> list[int | None]:
        codes: list[int | None] = []
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                codes.append(proc.wait(30))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
                codes.append(None)
        return codes

    def __exit__(self, *exc: object) -> None:
        self.codes = self.stop()

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.logs)

    def runs(self, job: str) -> list[int]:
        """How many runs of the scheduler's ``job`` each instance has finished, by its log
        (APScheduler logs each finished run at INFO, after the job's transaction)."""
        finished = f'Job "{job} (trigger'
        return [
            sum(finished in line and "executed successfully" in line for line in lines)
            for lines in (p.read_text(errors="replace").splitlines() for p in self.logs)
        ]


def _both_at_once(
    ports: list[int], jobs: list[tuple[tuple[bytes, bytes], str]]
) -> list[list[tuple[int, str]]]:
    """Each job ``((data_a, data_b), sender)``: ``data_a`` to one instance, ``data_b`` to the
    other, DATA sent to both at the same moment; eight jobs at a time. The replies to DATA."""

    def deliver(port: int, data: bytes, sender: str, gate: threading.Barrier) -> tuple[int, str]:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            client.ehlo("client.example.ru")
            assert client.mail(sender)[0] == 250
            assert client.rcpt(SUPPORT)[0] == 250
            gate.wait(30)
            code, reply = client.data(data)
            return code, reply.decode()

    with ThreadPoolExecutor(16) as pool:
        futures = []
        for pair, sender in jobs:
            gate = threading.Barrier(2)
            futures.append(
                [
                    pool.submit(deliver, port, d, sender, gate)
                    for port, d in zip(ports, pair, strict=True)
                ]
            )
        return [[f.result(timeout=120) for f in two] for two in futures]


@_pg
def test_the_same_mail_at_two_instances_at_once_is_stored_once(pg_url: str, tmp_path: Path):
    """200 mails, each to two `serve` processes at once: both 250, one effect per mail."""
    _init(pg_url, tmp_path / "init")
    jobs, keys_sent, mids = [], [], []
    for i in range(200):
        sender = f"client{i % 40}@example.ru"  # five mails per customer: guests made in a race
        body = f"Здравствуйте! Сайт site{i}.example.ru отдаёт 502 с утра, заказ {i}."
        mid = f"<twin-{i}-{uuid.uuid4().hex[:8]}@example.ru>"
        message = mail(f"Не работает site{i}.example.ru", body, sender=sender, msgid=mid)
        if i % 10 == 9:  # no Message-ID: the key is the hash of the bytes
            del message["Message-ID"]
            data = wire(message)
            keys_sent.append("sha256:" + hashlib.sha256(data).hexdigest())
        else:
            data = wire(message)
            keys_sent.append(f"mid:{mid}")
            mids.append(mid)
        jobs.append(((data, data), sender))
    with _Instances(pg_url, tmp_path) as servers:
        started = time.monotonic()
        replies = _both_at_once(servers.ports, jobs)
        print(f"400 deliveries in {time.monotonic() - started:.1f} s")
    assert servers.codes == [0, 0], servers.log()

    for key, pair in zip(keys_sent, replies, strict=True):
        assert [code for code, _ in pair] == [250, 250], (key, pair, servers.log())
        kinds = sorted(reply.split(":")[0] for _, reply in pair)
        assert kinds == ["2.0.0 Already stored, nothing changed", "2.0.0 Stored"], (key, pair)

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            keys = Counter(conn.scalars(select(RAW.c.idem_key)))
            messages = conn.execute(select(MESSAGES.c.message_id, MESSAGES.c.ticket_id)).all()
            tickets = list(conn.scalars(select(TICKETS.c.id)))
            created = Counter(
                conn.scalars(select(OUTBOX.c.ticket_id).where(OUTBOX.c.kind == "created"))
            )
            copies = Counter(
                conn.scalars(
                    select(OUTBOX.c.ticket_id).where(
                        OUTBOX.c.kind == "operator_message", OUTBOX.c.to_address == TEAM
                    )
                )
            )
            other_mail = conn.execute(
                select(OUTBOX.c.kind).where(OUTBOX.c.kind.not_in(("created", "operator_message")))
            ).all()
            events = Counter(conn.scalars(select(EVENTS.c.ticket_id)))
            customers = Counter(conn.scalars(select(CUSTOMERS.c.email)))
    finally:
        engine.dispose()
    assert keys == Counter(keys_sent)
    assert Counter(m.message_id for m in messages if m.message_id) == Counter(mids)
    assert len(messages) == len(tickets) == len(jobs) == len({m.ticket_id for m in messages})
    assert created == Counter(tickets) and other_mail == []
    assert copies == Counter(tickets)  # the team's copy of each request, once
    assert events == Counter(tickets)  # one "ticket created" each
    assert customers == Counter(f"client{i}@example.ru" for i in range(40))


@_pg
def test_copies_racing_into_two_instances_end_in_one_ticket(pg_url: str, tmp_path: Path):
    """One request sent twice (two Message-IDs) to two instances at once ends as one ticket."""
    _init(pg_url, tmp_path / "init")
    # Registered customers: a guest's first mail would serialize the copies on the new
    # customers row, and intake would catch every copy by itself.
    registered = _Seeder(datetime.now(UTC))
    for _ in range(40):
        registered.customer()
    registered.insert(pg_url)
    jobs, pairs = [], []
    for k in range(1, 41):
        sender = f"client{k}@example.ru"
        subject = f"Не доходит почта на shop{k}.example.ru"
        body = f"Здравствуйте! Письма на info@shop{k}.example.ru возвращаются с ошибкой 550."
        a, b = (f"<copy-{k}-{x}-{uuid.uuid4().hex[:8]}@example.ru>" for x in "ab")
        pairs.append((a, b))
        copies = tuple(wire(mail(subject, body, sender=sender, msgid=m)) for m in (a, b))
        jobs.append((copies, sender))
    # Both instances run the dedup sweep every second while the copies arrive.
    with _Instances(pg_url, tmp_path, HELPDESK_DEDUP_INTERVAL_SECONDS="1") as servers:
        replies = _both_at_once(servers.ports, jobs)
        engine = create_engine(pg_url)
        try:

            def state() -> tuple[list, list]:
                with engine.connect() as conn:
                    return (
                        conn.execute(
                            select(TICKETS.c.id, TICKETS.c.status, TICKETS.c.duplicate_of)
                        ).all(),
                        conn.execute(select(MESSAGES.c.message_id, MESSAGES.c.ticket_id)).all(),
                    )

            deadline = time.monotonic() + 30
            while True:
                tickets, messages = state()
                open_ = [t for t in tickets if t.status == "awaiting_operator"]
                if len(open_) == len(pairs) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            # Two more dedup runs in each instance (the second began after the state above):
            # nothing may change.
            before = servers.runs("dedup")
            assert until(
                lambda: all(n >= b + 2 for n, b in zip(servers.runs("dedup"), before, strict=True)),
                timeout=30,
            ), (before, servers.runs("dedup"), servers.log())
            tickets, messages = state()
            with engine.connect() as conn:
                events = conn.execute(select(EVENTS)).all()
                duplicate_mails = Counter(
                    conn.scalars(select(OUTBOX.c.ticket_id).where(OUTBOX.c.kind == "duplicate"))
                )
        finally:
            engine.dispose()
    assert servers.codes == [0, 0], servers.log()
    assert all(code == 250 for pair in replies for code, _ in pair), replies

    by_id = {t.id: t for t in tickets}
    where = {m.message_id: m.ticket_id for m in messages}
    merges = Counter(e.ticket_id for e in events if e.actor == "system:dedup-sweep")
    for a, b in pairs:
        home = {where[a], where[b]}
        assert len(home) == 1, f"the copies {a} and {b} sit in two tickets: {home}"
        (number,) = home
        assert by_id[number].status == "awaiting_operator" and by_id[number].duplicate_of is None
        assert duplicate_mails[number] == 1, f"#{number}: {duplicate_mails[number]} 'duplicate'"
    assert len([t for t in tickets if t.status == "awaiting_operator"]) == len(pairs)
    merged = [t for t in tickets if t.duplicate_of is not None]
    assert merges == Counter(t.id for t in merged), "a merge ran twice, or left no event"
    assert all(by_id[t.duplicate_of].status == "awaiting_operator" for t in merged)
    print(f"{len(merged)} of {len(pairs)} copies merged by the sweep, the rest at intake")


@_pg
def test_the_auto_reply_limit_holds_across_instances(pg_url: str, tmp_path: Path):
    """40 mails from one address to two instances at once: at most 10 automatic answers."""
    _init(pg_url, tmp_path / "init")
    registered = _Seeder(datetime.now(UTC))
    registered.customer()  # client1@example.ru, registered: no guest row to queue on
    registered.insert(pg_url)
    sender = "client1@example.ru"
    gate = threading.Barrier(40)

    def deliver(i: int, port: int) -> int:
        body = f"Здравствуйте! Вопрос про сайт q{i}.example.ru, договор {i}."
        data = wire(mail(f"Вопрос {i}", body, sender=sender))
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            client.ehlo("client.example.ru")
            client.mail(sender)
            client.rcpt(SUPPORT)
            gate.wait(30)
            return client.data(data)[0]

    with _Instances(pg_url, tmp_path) as servers, ThreadPoolExecutor(40) as pool:
        codes = list(pool.map(deliver, range(40), servers.ports * 20))
    assert codes == [250] * 40 and servers.codes == [0, 0]
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            states = Counter(
                conn.scalars(select(OUTBOX.c.state).where(OUTBOX.c.to_address == sender))
            )
    finally:
        engine.dispose()
    assert sum(states.values()) == 40
    assert states["suppressed"] >= 30, f"the limit is 10 per window, yet: {dict(states)}"


@_pg
def test_serve_starts_without_its_data_dir(pg_url: str, tmp_path: Path):
    """A second instance on a database `init` made elsewhere starts with no data dir of its own."""
    _init(pg_url, tmp_path / "init")
    port = free_port()
    env = _env(pg_url, tmp_path / "fresh" / "var", HELPDESK_LISTEN=f"smtp://127.0.0.1:{port}")
    proc = _serve(env, tmp_path / "serve.log")
    try:
        wait_for_banner(port, proc, timeout=60)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0


# --- 5: SQLite, one instance -------------------------------------------------------------------


def test_sqlite_single_instance_sweep_reports_what_was_due(tmp_path: Path):
    """On SQLite one `helpdesk sweep --json` does every job once and mails the results."""
    data_dir = tmp_path / "var"
    url = f"sqlite:///{data_dir / 'helpdesk.db'}"
    env = _env(url, data_dir)
    init = cli(env, "init")
    assert init.returncode == 0, init.stderr
    as_of = _as_of()
    seeded = seed(url, as_of, close=6, remind=4, lapse=3, escalate=5, pairs=2, quiet=1)
    done = cli(env, "sweep", "--as-of", as_of.isoformat(), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(report["auto_closed"]) == seeded.close
    assert sorted(report["reminded"]) == seeded.remind
    assert sorted(report["reopen_lapsed"]) == seeded.lapse
    assert sorted(report["escalated"]) == seeded.escalate
    assert sorted((m["ticket"], m["into"]) for m in report["merged"]) == seeded.pairs
    expected_mails = len(seeded.close) + len(seeded.remind) + len(seeded.pairs) + 1  # + digest
    assert report["notifications_tried"] == expected_mails
    assert len(list((data_dir / "outgoing" / "new").iterdir())) == expected_mails

    engine: Engine = create_engine(url)
    try:
        with engine.connect() as conn:
            states = Counter(conn.scalars(select(OUTBOX.c.state)))
            closed = Counter(
                conn.scalars(
                    select(EVENTS.c.ticket_id).where(EVENTS.c.to_status == "closed_no_reply")
                )
            )
    finally:
        engine.dispose()
    assert states == {"sent": expected_mails}
    assert closed == Counter(seeded.close)

    again = cli(env, "sweep", "--as-of", as_of.isoformat(), "--json")
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    nothing = ("auto_closed", "reminded", "reopen_lapsed", "escalated", "merged")
    assert [second[k] for k in nothing] == [[]] * 5 and second["notifications_tried"] == 0
