"""Intake's duplicate check per message at 1,000 and at 1,000,000 tickets.

Issue 5's target: the check a new request does — ``store.tickets.dedup_candidates``
(the customer's open tickets and those closed in the last 30 days, through
``ix_tickets_customer_status``) then ``desk.dedup.best_match`` — costs the
same per message whatever the size of the table.

For each backend (SQLite with the gateway's engine settings; PostgreSQL in a
schema of its own) every size is loaded side by side: customers get a handful
of tickets each (one to nine, five on average) spread over two years, every
ticket with the request fingerprint intake stores (``request_digest``,
``request_norm``) of a request written from templates in Russian and English
with varied sites, error codes, addresses and dates. Most tickets are
closed, some open; every 20th customer is a busy one (an agency, a shop) with
half the tickets of the last 30 days. The tables are filled in bulk (the
loader of ``bench/sweep.py``) and ``ANALYZE``d.

The same 2,000 requests are then checked on each size, in five rounds that
take the sizes in turn (a slow moment of the machine falls on all alike):
55 % new requests of existing customers, 15 % exact and 20 % near repeats (a
greeting added, a word changed) of the customer's latest ticket, 10 % from
customers with no tickets; 40 % of those from existing customers are from
the busy ones. Each check's time is split into the query and the match, and
the candidate query's plan is shown. Last, whole mails (one per customer)
go through ``intake.prepare`` + ``intake.ingest``, 25 to a transaction as a
group commit has them, the sizes in turn; for those, ``messages``,
``raw_mails`` and ``outbox`` start empty (only customers and tickets are
loaded).

    .venv/bin/python bench/dedup.py                          # 1,000 and 1,000,000
    .venv/bin/python bench/dedup.py --sizes 1000,100000 --backends sqlite
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import time
from array import array
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import Engine

# bench/ is on the path when run as ``python bench/dedup.py``: the loader and plans are shared
from sweep import HISTORY_DAYS, Backend, BulkWriter, Watch, explain, open_backend

from gateway import intake
from gateway.desk import dedup
from gateway.desk.model import OPEN_STATUSES, Policy
from gateway.notify.enqueue import Notices
from gateway.outcome import Delivery
from gateway.store import db, tickets

OPEN_VALUES = frozenset(s.value for s in OPEN_STATUSES)
DAY = timedelta(days=1)
SUPPORT = "support@example.com"
ACTIVE_EVERY = 20  # every 20th customer is a busy one

# --- requests as customers write them ------------------------------------------------------

TEMPLATES = {
    "ru": [
        (
            "Не открывается сайт {site}",
            "Здравствуйте! С утра сайт {site} не открывается, браузер пишет {code}. "
            "Вчера вечером всё работало, мы ничего не меняли. Проверьте, пожалуйста.",
        ),
        (
            "Ошибка {code} на {site}",
            "Добрый день. На {site} периодически появляется ошибка {code}, чаще по вечерам. "
            "Тариф {plan}. Можно посмотреть логи веб-сервера за {date}?",
        ),
        (
            "Не приходит почта на {mailbox}",
            "Здравствуйте, со вчерашнего дня не приходят письма на ящик {mailbox}. "
            "Отправители получают ответ «{smtp}». Место в ящике есть.",
        ),
        (
            "Продлить SSL для {site}",
            "Добрый день! Сертификат на {site} истекает {date}. Продлите, пожалуйста, "
            "или подскажите, как включить Let's Encrypt в панели.",
        ),
        (
            "Медленно работает {site}",
            "Сайт {site} открывается по 10–15 секунд, в панели нагрузка CPU 100 %. "
            "PHP {php}. Что можно сделать, не переходя на другой тариф?",
        ),
        (
            "Нет подключения к базе {db}",
            "Здравствуйте. Скрипт на {site} пишет SQLSTATE[HY000] [2002] Connection refused "
            "при подключении к базе {db}. Пароль не меняли.",
        ),
        (
            "Перенос сайта {site}",
            "Хотим перенести {site} с другого хостинга. Архив около {size} ГБ, база {db}. "
            "Поможете с переносом? Когда лучше это делать?",
        ),
        (
            "Заблокирован IP {ip}",
            "Наш офисный IP {ip} заблокирован: не заходим ни по FTP, ни по SSH на {site}. "
            "Разблокируйте, пожалуйста.",
        ),
        (
            "Вопрос по счёту {invoice}",
            "Добрый день, по счёту {invoice} деньги списали дважды, {date}. "
            "Прошу проверить и вернуть лишнее на карту.",
        ),
        (
            "Не могу войти в панель",
            "Не получается войти в панель управления: «неверный пароль», хотя пароль верный. "
            "Логин {login}, входил с IP {ip}.",
        ),
    ],
    "en": [
        (
            "Site {site} is down",
            "Hello, since this morning {site} does not open, the browser says {code}. "
            "It worked last night and we changed nothing. Could you have a look?",
        ),
        (
            "Error {code} on {site}",
            "Hi, {site} shows error {code} from time to time, mostly in the evening. "
            "We are on the {plan} plan. Can you check the web server logs for {date}?",
        ),
        (
            "Mail to {mailbox} bounces",
            "Hello, since yesterday mail to {mailbox} is not delivered. Senders get "
            '"{smtp}". The mailbox is not full.',
        ),
        (
            "Renew SSL for {site}",
            "Hi! The certificate of {site} expires on {date}. Please renew it, or tell me "
            "how to turn on Let's Encrypt in the panel.",
        ),
        (
            "{site} is slow",
            "{site} takes 10-15 seconds to load and the panel shows CPU at 100 %. "
            "PHP {php}. What can we do without changing the plan?",
        ),
        (
            "Cannot connect to database {db}",
            "Hello. The script on {site} says SQLSTATE[HY000] [2002] Connection refused "
            "when it connects to {db}. The password has not changed.",
        ),
        (
            "Moving {site} to you",
            "We want to move {site} from another host. The archive is about {size} GB, "
            "database {db}. Can you help, and when is the best time?",
        ),
        (
            "IP {ip} blocked",
            "Our office IP {ip} is blocked: neither FTP nor SSH to {site} works. "
            "Please unblock it.",
        ),
        (
            "Invoice {invoice} charged twice",
            "Hello, invoice {invoice} was charged twice on {date}. "
            "Please check and refund the difference to the card.",
        ),
        (
            "Cannot log in to the panel",
            "I cannot log in to the control panel: 'wrong password', though it is right. "
            "Login {login}, from IP {ip}.",
        ),
    ],
}
TAILS = {
    "ru": ["", "", " Спасибо!", " Это срочно, у нас интернет-магазин.", " Договор {contract}."],
    "en": ["", "", " Thanks!", " This is urgent, it is our shop.", " Contract {contract}."],
}
AGAIN = {
    "ru": ["Повторно пишу, ответа нет. ", "Добрый день ещё раз! ", "Напоминаю: "],
    "en": ["Writing again, no answer yet. ", "Hello again! ", "Reminder: "],
}
CODES = [
    "500",
    "502",
    "503",
    "504",
    "403",
    "404",
    "ERR_SSL_PROTOCOL_ERROR",
    "ERR_TOO_MANY_REDIRECTS",
]
SMTP = ["550 5.1.1 user unknown", "552 5.2.2 mailbox full", "451 4.7.1 greylisted"]
TLDS = ["ru", "com", "net", "org", "рф", "su"]
WORDS = ["shop", "blog", "studio", "cafe", "auto", "dom", "stroy", "med", "tour", "mebel"]


def request_of(r: random.Random, locale: str) -> tuple[str, str]:
    """(subject, text) of one request, identifiers drawn from ``r``."""
    subject, body = r.choice(TEMPLATES[locale])
    site = f"{r.choice(WORDS)}-{r.randrange(10**5)}.{r.choice(TLDS)}"
    slots = {
        "site": site,
        "code": r.choice(CODES),
        "plan": r.choice(["Старт", "Бизнес", "Pro", "Start"]),
        "date": f"{r.randrange(1, 29):02d}.{r.randrange(1, 13):02d}.2026",
        "mailbox": f"{r.choice(['info', 'sales', 'office', 'ivan'])}@{site}",
        "smtp": r.choice(SMTP),
        "php": r.choice(["7.4", "8.1", "8.2", "8.3"]),
        "db": f"db_{r.randrange(10**4)}",
        "size": str(r.randrange(1, 40)),
        "ip": f"{r.randrange(1, 224)}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(256)}",
        "invoice": f"{r.randrange(10**6):06d}",
        "login": f"u{r.randrange(10**6)}",
        "contract": f"{r.randrange(10**5)}-{r.randrange(100)}",
    }
    text = body.format(**slots) + r.choice(TAILS[locale]).format(**slots)
    return subject.format(**slots), text


def ticket_request(t: int, locale: str, seed: int) -> tuple[str, str]:
    """Ticket ``t``'s request, the same every time it is asked for."""
    return request_of(random.Random(t * 1_000_003 + seed), locale)


def fingerprint(subject: str, text: str) -> tuple[str, str]:
    """(request_digest, request_norm) exactly as intake stores them."""
    normalized = dedup.request_text(subject, text)
    return dedup.digest(normalized), normalized[: dedup.KEEP_CHARS]


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
    "reopenable",
    "request_digest",
    "request_norm",
)


@dataclass
class Loaded:
    tickets: int
    customers: int  # with tickets
    new_customers: int  # without
    owner: array  # ticket → customer
    locale: list[str]  # customer → locale
    statuses: dict[str, int]
    seconds: dict


def email_of(c: int) -> str:
    return f"client{c}@{['example.ru', 'example.net', 'corp.example.com'][c % 3]}"


def load(backend: Backend, n: int, now: datetime, seed: int) -> Loaded:
    rng = random.Random(seed)
    ts, bl = backend.fmt_ts(), backend.fmt_bool()
    naive_now = now.replace(tzinfo=None)
    start = naive_now - DAY * HISTORY_DAYS
    customers = max(1, n // 5)
    extra = max(20, customers // 100)
    locale = [""] + ["ru" if rng.random() < 0.75 else "en" for _ in range(customers + extra)]
    # a handful each: every customer's count is 1..9, then trimmed to n in all
    counts: list[int] = []
    while len(counts) < n:
        for c in range(1, customers + 1):
            counts.extend([c] * rng.randint(1, 9))
    del counts[n:]
    rng.shuffle(counts)  # a customer's tickets are spread over the two years
    owner = array("i", [0, *counts])
    del counts
    # every 20th customer is busy (an agency, a shop): half of the last 30 days' tickets are theirs
    busy = max(1, customers // ACTIVE_EVERY)
    for t in range(int(n * (1 - 30 / HISTORY_DAYS)) + 1, n + 1):
        if rng.random() < 0.5:
            owner[t] = ACTIVE_EVERY * (rng.randrange(busy) + 1)
    statuses: dict[str, int] = {}

    def customer_rows() -> Iterator[tuple]:
        for c in range(1, customers + extra + 1):
            name = rng.choice(["Иван Петров", "Мария Смирнова", "John Smith", "Linda Green"])
            yield (c, email_of(c), name, bl(c <= customers), locale[c], ts(start))

    def ticket_rows() -> Iterator[tuple]:
        for t in range(1, n + 1):
            c = owner[t]
            loc = locale[c]
            created = start + DAY * HISTORY_DAYS * (t - rng.random()) / n
            age = (naive_now - created) / DAY
            awaiting = closed = None
            r = rng.random()
            if r < (0.5 if age < 7 else 0.03):
                status = rng.choice(["awaiting_operator", "in_progress", "awaiting_customer"])
                awaiting = created + (naive_now - created) * rng.random()
            else:
                status = "closed_no_reply" if rng.random() < 0.15 else "closed"
                closed = min(created + DAY * rng.uniform(0.05, 15), naive_now - DAY * 0.01)
            statuses[status] = statuses.get(status, 0) + 1
            subject, request = ticket_request(t, loc, seed)
            digest, norm = fingerprint(subject, request)
            reopenable = closed is None or closed >= naive_now - DAY * 30
            yield (
                t,
                subject,
                c,
                status,
                bl(True),
                email_of(c),
                loc,
                ts(created),
                ts(closed or awaiting or created),
                ts(awaiting),
                ts(closed),
                bl(False),
                bl(reopenable),
                digest,
                norm,
            )

    writer = BulkWriter(backend)
    cols = ("id", "email", "name", "verified", "locale", "created_at")
    writer.write("customers", cols, customer_rows())
    writer.write("tickets", TICKET_COLUMNS, ticket_rows())
    analyze = writer.finish()
    seconds = {k: round(v, 1) for k, v in writer.seconds.items()} | {"analyze": round(analyze, 1)}
    return Loaded(n, customers, extra, owner, locale, dict(sorted(statuses.items())), seconds)


# --- the requests --------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    kind: str  # new | exact | near | new_customer
    customer: int
    subject: str
    text: str
    normalized: str


def requests(loaded: Loaded, count: int, seed: int) -> list[Request]:
    """The same mix at every size: new, exact and near repeats, new customers."""
    rng = random.Random(seed + 1)
    picks: list[tuple[str, int]] = []
    for _ in range(count):
        r = rng.random()
        if r < 0.10:
            picks.append(
                ("new_customer", loaded.customers + 1 + rng.randrange(loaded.new_customers))
            )
        else:
            kind = "new" if r < 0.65 else "exact" if r < 0.80 else "near"
            if rng.random() < 0.4:  # the busy customers write more often
                busy = max(1, loaded.customers // ACTIVE_EVERY)
                picks.append((kind, ACTIVE_EVERY * (rng.randrange(busy) + 1)))
            else:
                picks.append((kind, rng.randrange(loaded.customers) + 1))
    wanted = {c for k, c in picks if k in ("exact", "near")}
    latest: dict[int, int] = {}
    for t in range(1, loaded.tickets + 1):  # tickets are numbered in time order
        c = loaded.owner[t]
        if c in wanted:
            latest[c] = t
    out = []
    for kind, c in picks:
        loc = loaded.locale[c]
        if kind in ("new", "new_customer") or c not in latest:
            subject, text = request_of(rng, loc)
        else:
            subject, text = ticket_request(latest[c], loc, seed)
            if kind == "near":
                text = rng.choice(AGAIN[loc]) + text.replace("пожалуйста", "плиз", 1).replace(
                    "Please", "Kindly", 1
                )
        out.append(Request(kind, c, subject, text, dedup.request_text(subject, text)))
    return out


# --- timing --------------------------------------------------------------------------------


@dataclass
class Timing:
    backend: str
    tickets: int
    checks: int
    query_us: float  # median over rounds of the mean per message
    match_us: float
    total_us: float
    p50_us: float
    p99_us: float
    rounds_total_us: list[float]
    normalize_us: float
    candidates_mean: float
    outcomes: dict[str, int]
    ingest_us: float | None
    ingest_outcomes: dict[str, int]
    load_seconds: float
    load_detail: dict
    statuses: dict[str, int]
    plan: list[str]
    plan_without_stats: list[str] | None


def check_all(
    sessions, reqs: list[Request], since: datetime, policy: Policy
) -> tuple[list[float], list[float], int, dict[str, int]]:
    """Each request's (query, match) seconds; candidates seen; what matched."""
    queries, matches = [], []
    candidates = 0
    outcomes: dict[str, int] = {}
    for i in range(0, len(reqs), 100):
        with sessions() as session, session.begin():
            session.connection()  # BEGIN now, not inside the first timed query
            for q in reqs[i : i + 100]:
                t0 = time.perf_counter()
                rows = tickets.dedup_candidates(session, q.customer, since)
                t1 = time.perf_counter()
                found = [
                    dedup.Candidate(r.id, r.status in OPEN_VALUES, r.request_digest, r.request_norm)
                    for r in rows
                ]
                match = dedup.best_match(q.normalized, found, policy.duplicate_similarity)
                t2 = time.perf_counter()
                queries.append(t1 - t0)
                matches.append(t2 - t1)
                candidates += len(rows)
                what = "none" if match is None else "exact" if match.exact else "near"
                what += "" if match is None else (" open" if match.open else " closed")
                key = f"{q.kind} → {what}"
                outcomes[key] = outcomes.get(key, 0) + 1
    return queries, matches, candidates, outcomes


def mails(reqs: list[Request], count: int, now: datetime, tag: str) -> list[Delivery]:
    """A mail for each of the first ``count`` requests of distinct customers."""
    out: list[Delivery] = []
    seen: set[int] = set()
    for i, q in enumerate(reqs):
        if len(out) == count:
            break
        if q.customer in seen:
            continue
        seen.add(q.customer)
        msg = EmailMessage()
        msg["From"] = f"Клиент {q.customer} <{email_of(q.customer)}>"
        msg["To"] = SUPPORT
        msg["Subject"] = q.subject
        msg["Date"] = format_datetime(now)
        mid = hashlib.sha1(f"{tag}-{i}-{q.text}".encode()).hexdigest()[:20]
        msg["Message-ID"] = f"<{mid}.{i}@{email_of(q.customer).split('@')[1]}>"
        msg.set_content(q.text + "\n\n-- \nС уважением,\nклиент\n")
        out.append(Delivery(email_of(q.customer), (SUPPORT,), msg.as_bytes()))
    return out


def ingest_all(
    sessions, deliveries: list[Delivery], now: datetime, outcomes: dict[str, int]
) -> float:
    """Seconds for the mails through prepare + ingest, 25 to a transaction (a group commit)."""
    rules = intake.IntakeRules(
        support=SUPPORT,
        domain="example.com",
        secret=b"x" * 32,
        own_id_domains=frozenset({"example.com"}),
        notices=Notices(support=SUPPORT, domain="example.com", secret=b"x" * 32),
    )
    t0 = time.perf_counter()
    for i in range(0, len(deliveries), 25):
        with sessions() as session, session.begin():
            for d in deliveries[i : i + 25]:
                got = intake.ingest(session, intake.prepare(d), rules, now)
                outcomes[got.kind.value] = outcomes.get(got.kind.value, 0) + 1
    return time.perf_counter() - t0


def capture_plan(engine: Engine, sessions, customer: int, since: datetime) -> list[str]:
    watch = Watch()
    with watch.on(engine), sessions() as session, session.begin():
        tickets.dedup_candidates(session, customer, since)
    (statement, parameters), *_ = watch.first.values()
    return explain(engine, statement, parameters)


@dataclass
class Size:
    """One loaded database and what was measured on it so far."""

    n: int
    backend: Backend
    sessions: object
    loaded: Loaded
    reqs: list[Request]
    load_seconds: float
    normalize_us: float
    q_means: list[float] = field(default_factory=list)
    m_means: list[float] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)
    candidates: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    ingest_seconds: float = 0.0
    ingest_outcomes: dict[str, int] = field(default_factory=dict)


def one_backend(
    name: str, sizes: list[int], checks: int, rounds: int, ingest_count: int, seed: int
) -> list[Timing]:
    """Every size loaded side by side, then measured round by round in turn: a slow
    moment of the machine falls on all sizes alike."""
    now = datetime.now(UTC).replace(microsecond=0)
    policy = Policy()
    since = now - timedelta(days=policy.reopen_days)
    with contextlib.ExitStack() as stack:
        found: list[Size] = []
        for n in sizes:
            backend = stack.enter_context(open_backend(name, f"dedup{n}"))
            t0 = time.perf_counter()
            db.upgrade(backend.engine)
            loaded = load(backend, n, now, seed)
            load_seconds = time.perf_counter() - t0
            print(f"  {name} {n:,}: loaded in {load_seconds:.0f} s {loaded.seconds}", flush=True)
            reqs = requests(loaded, checks, seed)
            t0 = time.perf_counter()
            for q in reqs:
                dedup.request_text(q.subject, q.text)
            normalize_us = (time.perf_counter() - t0) / len(reqs) * 1e6
            sessions = db.session_factory(backend.engine)
            check_all(sessions, reqs[:200], since, policy)  # statement cache, page cache
            found.append(Size(n, backend, sessions, loaded, reqs, load_seconds, normalize_us))
        for _ in range(rounds):
            for z in found:
                qs, ms, z.candidates, z.outcomes = check_all(z.sessions, z.reqs, since, policy)
                z.q_means.append(statistics.fmean(qs) * 1e6)
                z.m_means.append(statistics.fmean(ms) * 1e6)
                z.totals.extend(a + b for a, b in zip(qs, ms, strict=True))
        plans = {}
        for z in found:
            sample = next(q.customer for q in z.reqs if q.kind == "exact")
            plans[z.n] = capture_plan(z.backend.engine, z.sessions, sample, since)
        if ingest_count:
            batches = {z.n: mails(z.reqs, ingest_count, now, "timed") for z in found}
            for z in found:  # warm up
                ingest_all(z.sessions, mails(z.reqs[::-1], 25, now, "warm"), now, {})
            for i in range(0, ingest_count, 25):
                for z in found:
                    part = batches[z.n][i : i + 25]
                    z.ingest_seconds += ingest_all(z.sessions, part, now, z.ingest_outcomes)
        timings = []
        for z in found:
            plan_without = None
            if name == "sqlite":  # the gateway never runs ANALYZE: what SQLite picks without it
                assert z.backend.sqlite_path is not None
                z.backend.engine.dispose()
                con = sqlite3.connect(z.backend.sqlite_path, isolation_level=None)
                con.execute("DROP TABLE IF EXISTS sqlite_stat1")
                con.close()
                sample = next(q.customer for q in z.reqs if q.kind == "exact")
                plan_without = capture_plan(z.backend.engine, z.sessions, sample, since)
            per_round = [a + b for a, b in zip(z.q_means, z.m_means, strict=True)]
            totals = sorted(z.totals)
            ingested = sum(z.ingest_outcomes.values())
            timings.append(
                Timing(
                    backend=name,
                    tickets=z.n,
                    checks=len(z.reqs),
                    query_us=round(statistics.median(z.q_means), 1),
                    match_us=round(statistics.median(z.m_means), 1),
                    total_us=round(statistics.median(per_round), 1),
                    p50_us=round(totals[len(totals) // 2] * 1e6, 1),
                    p99_us=round(totals[int(len(totals) * 0.99)] * 1e6, 1),
                    rounds_total_us=[round(x, 1) for x in per_round],
                    normalize_us=round(z.normalize_us, 1),
                    candidates_mean=round(z.candidates / len(z.reqs), 2),
                    outcomes=dict(sorted(z.outcomes.items())),
                    ingest_us=round(z.ingest_seconds / ingested * 1e6) if ingested else None,
                    ingest_outcomes=z.ingest_outcomes,
                    load_seconds=round(z.load_seconds, 1),
                    load_detail=z.loaded.seconds,
                    statuses=z.loaded.statuses,
                    plan=plans[z.n],
                    plan_without_stats=plan_without,
                )
            )
        return timings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,1000000", help="ticket counts, smallest first")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--checks", type=int, default=2000, help="requests checked per round")
    ap.add_argument("--rounds", type=int, default=5, help="rounds, the sizes in turn")
    ap.add_argument(
        "--ingest", type=int, default=150, help="whole mails (one per customer); 0 = none"
    )
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--json-out", type=Path, help="write the JSON result here (default: stdout)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    timings: list[Timing] = []
    started = time.perf_counter()
    for name in args.backends.split(","):
        print(f"{name}: {', '.join(f'{n:,}' for n in sizes)} tickets …", flush=True)
        for t in one_backend(name, sizes, args.checks, args.rounds, args.ingest, args.seed):
            timings.append(t)
            print(f"  {t.tickets:,} tickets:")
            print(
                f"  check {t.total_us:.0f} µs/message (query {t.query_us:.0f} + match"
                f" {t.match_us:.0f}; rounds {t.rounds_total_us}), p50 {t.p50_us:.0f}"
                f" p99 {t.p99_us:.0f} µs, {t.candidates_mean} candidates on average;"
                f" whole ingest {t.ingest_us} µs/mail",
                flush=True,
            )
            print(f"  statuses {t.statuses}")
            print(f"  outcomes {t.outcomes}")
            print(f"  ingest outcomes {t.ingest_outcomes}")
            print("  plan of the candidate query:\n" + "\n".join("    " + x for x in t.plan))
            if t.plan_without_stats is not None:
                print("  … and without sqlite_stat1 (the gateway never runs ANALYZE):")
                print("\n".join("    " + x for x in t.plan_without_stats))
    summary = report(timings, sizes)
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")
    result = {
        "when": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
        },
        "summary": summary,
        "runs": [asdict(t) for t in timings],
    }
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
        print(f"written to {args.json_out}")
    else:
        print(json.dumps(result, ensure_ascii=False))
    return 0


def report(timings: list[Timing], sizes: list[int]) -> list[dict]:
    print(
        f"\n{'backend':10} {'tickets':>9} {'load s':>7} {'query µs':>8} {'match µs':>8}"
        f" {'check µs':>8} {'p99 µs':>7} {'ratio':>6} {'ingest µs/mail':>14} {'ratio':>6}"
    )
    summary = []
    for name in dict.fromkeys(t.backend for t in timings):
        mine = {t.tickets: t for t in timings if t.backend == name}
        small = mine.get(min(sizes))
        for n in sizes:
            t = mine.get(n)
            if t is None:
                continue
            ratio = t.total_us / small.total_us if small else None
            iratio = (
                t.ingest_us / small.ingest_us if small and t.ingest_us and small.ingest_us else None
            )
            summary.append(
                {
                    "backend": name,
                    "tickets": n,
                    "check_us": t.total_us,
                    "query_us": t.query_us,
                    "match_us": t.match_us,
                    "p99_us": t.p99_us,
                    "ratio_to_smallest": round(ratio, 2) if ratio else None,
                    "ingest_us": t.ingest_us,
                    "ingest_ratio_to_smallest": round(iratio, 2) if iratio else None,
                }
            )
            print(
                f"{name:10} {n:>9,} {t.load_seconds:>7.0f} {t.query_us:>8.0f} {t.match_us:>8.0f}"
                f" {t.total_us:>8.0f} {t.p99_us:>7.0f} {ratio or 0:>6.2f}"
                f" {t.ingest_us or 0:>14.0f} {iratio or 0:>6.2f}"
            )
    return summary


if __name__ == "__main__":
    sys.exit(main())
