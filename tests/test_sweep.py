"""The 30-day rules, the unanswered watch and the dedup sweep (gateway.schedule, issue 5).

Mail comes in over real SMTP, the clock is a FrozenClock moved by days (never
slept through, guarantee 7), the sweep runs as ``app.runs.run_sweep`` (what
``helpdesk sweep`` calls) or as the command itself (``gateway.cli.main``), and every
notification is counted where it lands: an aiosmtpd smarthost that records
what the dispatcher sent.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import event, func, select, text

from gateway import intake
from gateway.app.gateway import Gateway
from gateway.app.runs import run_sweep
from gateway.clock import FrozenClock
from gateway.config import Settings
from gateway.notify.render import long_date
from gateway.outcome import Delivery
from gateway.schedule.jobs import merge_duplicates
from gateway.schedule.sweep import sweep
from gateway.store import tickets as ticket_store
from gateway.store.tables import Event, Outbox, Ticket
from gateway.testing import RecordingSMTP, RunningGateway, running_gateway
from tests.helpers import SUPPORT, cli, mail, send, show, tickets, until, wire

TEAM = "team@example.com"
IVAN = "ivan@example.ru"
# serve's own scheduler runs every job once at start, then stays out of the way:
# each test runs the sweep itself, at the moments it chooses.
QUIET = {
    f"{job}_interval_seconds": 86400
    for job in ("auto_close", "remind", "reopen", "escalate", "dedup")
}
REPORT_KEYS = ("auto_closed", "reminded", "reopen_lapsed", "escalated", "merged")
OPERATOR_COPIES = frozenset({"operator_message"})
NOTHING: dict[str, list] = {key: [] for key in REPORT_KEYS}


# --- fixtures and helpers ---------------------------------------------------------------


def _start(settings: Settings, clock: FrozenClock, smarthost: RecordingSMTP, **overrides):
    return running_gateway(
        settings,
        clock,
        smarthost=smarthost.url,
        smarthost_starttls="no",
        team_address=TEAM,
        **{**QUIET, **overrides},
    )


def _ready(gw: RunningGateway) -> RunningGateway:
    scheduler = gw.gateway.scheduler
    assert scheduler is not None
    assert until(lambda: all(n >= 1 for n in scheduler.runs.values())), scheduler.runs
    gw.gateway.wiring.desk.add_operator("Анна", "anna@example.com", None)
    return gw


@pytest.fixture
def gw(settings, clock, smarthost) -> Iterator[RunningGateway]:
    with _start(settings, clock, smarthost) as running:
        yield _ready(running)


@dataclass(frozen=True)
class Sent:
    """A notification as the smarthost got it, with the outbox row's kind."""

    kind: str
    to: str
    ticket: int | None
    message_id: str
    message: EmailMessage = field(compare=False)

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def _outbox(gw: RunningGateway) -> list[Outbox]:
    with gw.gateway.sessions() as s:
        return list(s.execute(select(Outbox).order_by(Outbox.id)).scalars())


def _wake(gw: RunningGateway) -> None:
    """Let serve's dispatcher look now rather than at its next one-second poll."""
    dispatcher = gw.gateway.dispatcher
    assert dispatcher is not None
    gw._loop.call_soon_threadsafe(dispatcher.wake.set)


def _settle(gw: RunningGateway, smarthost: RecordingSMTP) -> list[Sent]:
    """Wait until every outbox row is dealt with and at the smarthost; all mail sent so far."""

    def done() -> bool:
        rows = _outbox(gw)
        if any(r.state == "pending" for r in rows):
            _wake(gw)
            return False
        return len(smarthost.mails) >= sum(r.state == "sent" for r in rows)

    assert until(done), [(r.id, r.kind, r.state, r.last_error) for r in _outbox(gw)]
    return _sent(gw, smarthost)


def _sent(gw: RunningGateway, smarthost: RecordingSMTP) -> list[Sent]:
    """What the smarthost got, in the order the rows were written (sending is parallel).

    Operators' copies of each customer message (issue 4) are left out: the
    rules here are about what customers and the team are told.
    """
    rows = {r.message_id: r for r in _outbox(gw)}
    out = []
    for captured in smarthost.mails:
        msg = captured.message
        row = rows[msg["Message-ID"]]
        if row.kind in OPERATOR_COPIES:
            continue
        out.append((row.id, Sent(row.kind, row.to_address, row.ticket_id, row.message_id, msg)))
    return [sent for _, sent in sorted(out, key=lambda pair: pair[0])]


def _kinds(sent: list[Sent]) -> list[tuple[str, str, int | None]]:
    return [(s.kind, s.to, s.ticket) for s in sent]


def _run(gw: RunningGateway, at: datetime) -> dict:
    """``helpdesk sweep --as-of AT`` in-process: the rules, then the due mail sent."""
    result = run_sweep(gw.gateway.wiring, as_of=at, dry_run=False)
    return {k: result[k] for k in REPORT_KEYS}


def _open(
    gw: RunningGateway,
    subject: str = "Не работает сайт",
    body: str = "Сайт example.ru с утра отдаёт 502 Bad Gateway, заказы не проходят.",
    sender: str = IVAN,
) -> int:
    code, reply = send(gw, mail(subject, body, sender=sender), sender=sender)
    assert code == 250, reply
    return int(reply.rsplit("#", 1)[1])


def _reply_by_customer(gw: RunningGateway, number: int, body: str, sender: str = IVAN) -> str:
    subject = f"Re: [#{number}] {show(gw, number)['subject']}"
    code, reply = send(gw, mail(subject, body, sender=sender), sender=sender)
    assert code == 250, reply
    return reply


def _answer(gw: RunningGateway, number: int, text: str = "Перезапустили PHP, проверьте.") -> None:
    gw.gateway.wiring.desk.act(number, "Анна", "reply", text=text)
    assert show(gw, number)["status"] == "awaiting_customer"


def _events(gw: RunningGateway, number: int, to: str) -> list[dict]:
    return [e for e in show(gw, number)["events"] if e["to"] == to]


# --- auto-close ---------------------------------------------------------------------------


def test_awaiting_customer_closes_after_30_days_and_the_customer_is_told_once(gw, smarthost, clock):
    """Days 29 and 30 leave it; day 31 closes it: one event, one auto_closed mail; rerun: none."""
    number = _open(gw)
    _answer(gw, number)
    t0 = clock()
    assert _kinds(_settle(gw, smarthost)) == [
        ("created", IVAN, number),
        ("operator_reply", IVAN, number),
    ]

    for days in (29, 30):  # "more than 30 days": the 30th day itself still waits
        clock.set(t0 + timedelta(days=days))
        assert _run(gw, clock())["auto_closed"] == []
        assert show(gw, number)["status"] == "awaiting_customer"

    clock.set(t0 + timedelta(days=31))
    assert _run(gw, clock()) == {**NOTHING, "auto_closed": [number]}
    t = show(gw, number)
    assert t["status"] == "closed_no_reply" and t["awaiting_since"] is None
    assert t["closed_at"] == clock().isoformat() and t["reopenable"] is True
    [event] = _events(gw, number, "closed_no_reply")
    assert event["from"] == "awaiting_customer" and event["actor"] == "system:scheduler"
    assert "31 days" in event["reason"]
    sent = _settle(gw, smarthost)
    [closed] = [s for s in sent if s.kind == "auto_closed"]
    assert closed.to == IVAN and closed.message["To"] == IVAN
    assert closed.message["Subject"] == f"[#{number}] Не работает сайт"
    assert closed.message["Auto-Submitted"] == "auto-generated"
    assert "31 день" in closed.text and "Закрыта без ответа" in closed.text
    assert f"[#{number}]" in closed.text

    history = show(gw, number)["events"]
    assert _run(gw, clock() + timedelta(hours=1)) == NOTHING
    assert show(gw, number)["events"] == history
    assert _settle(gw, smarthost) == sent


# --- the reminder -------------------------------------------------------------------------


def test_one_reminder_per_waiting_period(gw, smarthost, clock):
    """Day 23 reminds once, reruns never; a reply stops the close; a new wait, a new reminder."""
    number = _open(gw)
    _answer(gw, number)
    t0 = clock()

    clock.set(t0 + timedelta(days=23) - timedelta(minutes=1))
    assert _run(gw, clock())["reminded"] == []
    clock.set(t0 + timedelta(days=23))
    assert _run(gw, clock()) == {**NOTHING, "reminded": [number]}
    [reminder] = [s for s in _settle(gw, smarthost) if s.kind == "reminder"]
    assert reminder.to == IVAN and reminder.message["Subject"].startswith(f"[#{number}] ")
    close_on = long_date((t0 + timedelta(days=30)).date().isoformat(), "ru")  # "8 января 2027 г."
    assert "7 дней" in reminder.text and close_on in reminder.text
    assert show(gw, number)["reminded_for"] == t0.isoformat()

    for later in (timedelta(0), timedelta(hours=5), timedelta(days=3)):  # same day, days later
        assert _run(gw, t0 + timedelta(days=23) + later)["reminded"] == []
    clock.set(t0 + timedelta(days=26))
    assert [s.kind for s in _settle(gw, smarthost)].count("reminder") == 1

    _reply_by_customer(gw, number, "Всё ещё 502, PHP не помог.")
    assert show(gw, number)["status"] == "awaiting_operator"
    clock.set(t0 + timedelta(days=31))
    report = _run(gw, clock())
    assert report["auto_closed"] == [] and report["reminded"] == []
    assert show(gw, number)["status"] == "awaiting_operator"

    clock.set(t1 := t0 + timedelta(days=32))
    _answer(gw, number, "Поменяли версию PHP, проверьте ещё раз.")
    clock.set(t1 + timedelta(days=23))
    assert _run(gw, clock())["reminded"] == [number]
    reminders = [s for s in _settle(gw, smarthost) if s.kind == "reminder"]
    assert len(reminders) == 2
    assert long_date((t1 + timedelta(days=30)).date().isoformat(), "ru") in reminders[1].text


# --- the reopen window --------------------------------------------------------------------


def test_reopen_window_lapses_after_30_days(gw, smarthost, clock):
    """Day 29 after closing, mail reopens; past 30 the sweep marks it and mail makes a follow-up."""
    a = _open(gw)
    b = _open(gw, "Почта не ходит", "Письма на info@example.org возвращаются.", "olga@example.ru")
    t0 = clock()
    for n in (a, b):
        gw.gateway.wiring.desk.act(n, "Анна", "close")
        assert show(gw, n)["reopenable"] is True

    clock.set(t0 + timedelta(days=29))
    assert _run(gw, clock())["reopen_lapsed"] == []
    _reply_by_customer(gw, a, "Снова 502 с утра.")
    assert show(gw, a)["status"] == "awaiting_operator"
    assert len(tickets(gw)) == 2

    clock.set(t0 + timedelta(days=31))
    assert _run(gw, clock())["reopen_lapsed"] == [b]
    old = show(gw, b)
    assert old["status"] == "closed" and old["reopenable"] is False
    reply = _reply_by_customer(gw, b, "Опять возвращаются.", sender="olga@example.ru")
    assert f"ticket #{b + 1}" in reply
    new = show(gw, b + 1)
    assert new["follow_up_of"] == b and new["status"] == "awaiting_operator"
    assert show(gw, b)["status"] == "closed"
    follow_up = [s for s in _settle(gw, smarthost) if s.kind == "follow_up"]
    assert [(s.to, s.ticket) for s in follow_up] == [("olga@example.ru", b + 1)]
    assert f"#{b}" in follow_up[0].text
    assert _run(gw, clock() + timedelta(hours=1))["reopen_lapsed"] == []


# --- the unanswered watch -----------------------------------------------------------------


def test_unanswered_ticket_goes_to_the_team_in_one_digest_a_day(gw, smarthost, clock):
    """25 h awaiting an operator → one digest; nudges do not reset the clock; again after 24 h."""
    number = _open(gw)
    answered = _open(gw, "Почта не ходит", "Письма на info@example.org возвращаются.")
    _answer(gw, answered)
    t0 = clock()
    for hours, nudge in ((10, "Когда вы ответите?"), (20, "Сколько ещё ждать?")):
        clock.set(t0 + timedelta(hours=hours))
        _reply_by_customer(gw, number, nudge)
    t = show(gw, number)
    assert t["awaiting_since"] == t0.isoformat()
    assert [m["flags"] for m in t["messages"][1:]] == [["nudge"], ["nudge"]]

    clock.set(t0 + timedelta(hours=23))
    assert _run(gw, clock())["escalated"] == []
    clock.set(t0 + timedelta(hours=25))
    assert _run(gw, clock()) == {**NOTHING, "escalated": [number]}
    [digest] = [s for s in _settle(gw, smarthost) if s.kind == "escalation"]
    assert digest.to == TEAM and digest.ticket is None
    assert digest.message["Subject"] == "Без ответа дольше 24 ч.: 1"
    assert f"[#{number}] «Не работает сайт»" in digest.text
    assert "Ждёт ответа: 25 ч." in digest.text and "2 раза" in digest.text
    assert f"[#{answered}]" not in digest.text

    clock.set(t0 + timedelta(hours=26))
    assert _run(gw, clock())["escalated"] == []
    clock.set(t0 + timedelta(hours=49))
    assert _run(gw, clock())["escalated"] == [number]
    digests = [s for s in _settle(gw, smarthost) if s.kind == "escalation"]
    assert len(digests) == 2 and "Ждёт ответа: 49 ч." in digests[1].text


# --- dry run, through the real command ----------------------------------------------------


def _cli_env(settings: Settings, smarthost: RecordingSMTP) -> dict[str, str]:
    return {
        **os.environ,
        "HELPDESK_DATA_DIR": str(settings.data_dir),
        "HELPDESK_DATABASE_URL": settings.db_url,
        "HELPDESK_DOMAIN": "example.com",
        "HELPDESK_SMARTHOST": smarthost.url,
        "HELPDESK_SMARTHOST_STARTTLS": "no",
        "HELPDESK_TEAM_ADDRESS": TEAM,
    }


def _sweep_cli(env: dict[str, str], at: datetime, *flags: str) -> dict:
    proc = cli(env, "sweep", "--as-of", at.isoformat(), "--json", *flags)
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


def _footprint(settings: Settings) -> tuple:
    """Everything a sweep may change: ticket rows, the history, the outbox."""
    probe = Gateway(settings)
    try:
        with probe.sessions() as s:
            rows = s.execute(
                select(
                    Ticket.id,
                    Ticket.status,
                    Ticket.awaiting_since,
                    Ticket.closed_at,
                    Ticket.reopenable,
                    Ticket.reminded_for,
                    Ticket.escalated_at,
                    Ticket.duplicate_of,
                ).order_by(Ticket.id)
            ).all()
            events = s.scalar(select(func.count()).select_from(Event))
            outbox = s.scalar(select(func.count()).select_from(Outbox))
        return [tuple(r) for r in rows], events, outbox
    finally:
        probe.close()


def test_dry_run_reports_what_the_real_run_then_does_and_changes_nothing(
    settings, clock, smarthost, monkeypatch
):
    """`helpdesk sweep --as-of T --dry-run --json` = the real run's numbers; nothing moves."""
    with _start(settings, clock, smarthost) as running:
        gw = _ready(running)
        t0 = clock()
        closing = _open(gw)
        _answer(gw, closing)
        lapsing = _open(gw, "Почта не ходит", "Письма на info@example.org возвращаются.", "o@ex.ru")
        gw.gateway.wiring.desk.act(lapsing, "Анна", "close")
        clock.set(t0 + timedelta(days=8))
        reminding = _open(gw, "Не открывается панель", "Панель panel.example.ru: 403.", "p@ex.ru")
        _answer(gw, reminding)
        clock.set(t0 + timedelta(days=31) - timedelta(hours=25))
        unanswered = _open(gw, "Нет доступа по SSH", "ssh на 10.0.0.7 отвечает timeout.", "m@ex.ru")
        clock.set(t0 + timedelta(days=31) - timedelta(minutes=30))
        copy = {
            "subject": "Не продлился домен",
            "body": "Домен example.su не продлился.",
            "sender": "d@ex.ru",
        }
        _race(gw, monkeypatch, mail(**copy), mail(**copy), sender="d@ex.ru")
        _settle(gw, smarthost)
        mailed = len(smarthost.mails)
    # The command alone now, as from cron with no serve running.
    env = _cli_env(settings, smarthost)
    at = t0 + timedelta(days=31)
    footprint = _footprint(settings)

    dry = _sweep_cli(env, at, "--dry-run")
    expected = {
        "auto_closed": [closing],
        "reminded": [reminding],
        "reopen_lapsed": [lapsing],
        "escalated": [unanswered],
        "merged": [{"ticket": unanswered + 2, "into": unanswered + 1}],
    }
    assert {k: dry[k] for k in REPORT_KEYS} == expected
    assert dry["dry_run"] is True and dry["as_of"] == at.isoformat()
    assert _footprint(settings) == footprint
    assert len(smarthost.mails) == mailed

    real = _sweep_cli(env, at)
    assert {k: real[k] for k in REPORT_KEYS} == expected and real["dry_run"] is False
    statuses, _, _ = _footprint(settings)
    assert [r[1] for r in statuses] == [
        "closed_no_reply",
        "closed",
        "awaiting_customer",
        "awaiting_operator",
        "awaiting_operator",
        "closed",
    ]
    got = smarthost.wait_for(mailed + 4)[mailed:]
    assert sorted(m.rcpt_tos[0] for m in got) == sorted([IVAN, "p@ex.ru", TEAM, "d@ex.ru"])


def test_dry_run_counts_the_notifications_the_real_run_sends(gw, smarthost, clock):
    """A dry run says how many mails the real run will send: here one auto_closed."""
    number = _open(gw)
    _answer(gw, number)
    _settle(gw, smarthost)
    written = len(_outbox(gw))
    at = clock.advance(days=31)
    dry = run_sweep(gw.gateway.wiring, as_of=at, dry_run=True)
    real = run_sweep(gw.gateway.wiring, as_of=at, dry_run=False)
    assert real["auto_closed"] == [number] and len(_outbox(gw)) == written + 1
    assert dry["notifications_due"] == 1  # is 0: the auto_closed row was rolled back


# --- the dedup sweep ----------------------------------------------------------------------


def _race(
    gw: RunningGateway,
    monkeypatch: pytest.MonkeyPatch,
    first: EmailMessage,
    second: EmailMessage,
    sender: str = IVAN,
) -> None:
    """Store two copies the way two instances accepting them at once would.

    On PostgreSQL the second copy is ingested in another thread (another
    instance) while the first one's transaction is still open; the first
    commits only once the second has read the duplicate catcher's candidates
    (it then waits for the first's lock on the customer's address, or is
    done), so neither saw the other's ticket: the race the dedup sweep exists
    for. SQLite has one writer at a time and cannot interleave them; there
    each copy runs in its own transaction with the candidates as that
    snapshot showed them: none.
    """
    g = gw.gateway
    g.wiring.desk.add_customer(sender, "")  # known already: the racing copies do not insert it
    a, b = (intake.prepare(Delivery(sender, (SUPPORT,), wire(c))) for c in (first, second))
    if g.engine.dialect.name != "postgresql":
        monkeypatch.setattr(ticket_store, "dedup_candidates", lambda *args, **kwargs: [])
        for prep in (a, b):
            with g.sessions() as session, session.begin():
                assert intake.ingest(session, prep, g.rules, g.clock()).ticket is not None
        monkeypatch.undo()
        return
    pid: queue.Queue[int] = queue.Queue()
    outcomes = []

    def other_instance() -> None:
        with g.sessions() as session, session.begin():
            pid.put(session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            outcomes.append(intake.ingest(session, b, g.rules, g.clock()))

    def waiting(backend: int) -> bool:
        with g.sessions() as s:
            query = text("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = :p AND NOT granted)")
            return bool(s.scalar(query, {"p": backend}))

    with g.sessions() as session:
        session.begin()
        outcomes.append(intake.ingest(session, a, g.rules, g.clock()))
        racer = threading.Thread(target=other_instance)
        racer.start()
        backend = pid.get(timeout=15)
        assert until(lambda: not racer.is_alive() or waiting(backend))
        session.commit()
    racer.join(30)
    assert len(outcomes) == 2 and all(o.ticket is not None for o in outcomes), outcomes


def test_dedup_sweep_merges_copies_that_raced_past_intake(gw, smarthost, clock, monkeypatch):
    """Two open tickets, one request: the later merged into the earlier; the customer told once."""
    first, second = mail(msgid="<copy1@example.ru>"), mail(msgid="<copy2@example.ru>")
    _race(gw, monkeypatch, first, second)
    assert [(t["number"], t["status"]) for t in tickets(gw)] == [
        (1, "awaiting_operator"),
        (2, "awaiting_operator"),
    ]
    created = _settle(gw, smarthost)
    assert _kinds(created) == [("created", IVAN, 1), ("created", IVAN, 2)]

    clock.advance(minutes=5)
    assert _run(gw, clock()) == {**NOTHING, "merged": [{"ticket": 2, "into": 1}]}
    later, earlier = show(gw, 2), show(gw, 1)
    assert later["status"] == "closed" and later["duplicate_of"] == 1
    assert later["messages"] == [] and later["reopenable"] is False
    assert later["events"][-1]["actor"] == "system:dedup-sweep"
    assert "duplicate of #1" in later["events"][-1]["reason"]
    assert [m["message_id"] for m in earlier["messages"]] == [
        "<copy1@example.ru>",
        "<copy2@example.ru>",
    ]
    assert earlier["status"] == "awaiting_operator" and earlier["duplicate_of"] is None
    [notice] = _settle(gw, smarthost)[len(created) :]
    assert (notice.kind, notice.to, notice.ticket) == ("duplicate", IVAN, 1)
    assert notice.message["Subject"] == "[#1] Не работает сайт"
    assert "#2" in notice.text and "#1" in notice.text

    assert _run(gw, clock() + timedelta(minutes=1)) == NOTHING
    # A reply to the merged ticket's mail follows the merge into the earlier ticket.
    reply = _reply_by_customer(gw, 2, "Добавляю логи: 502 на каждый запрос.")
    assert "ticket #1" in reply and len(show(gw, 1)["messages"]) == 3
    assert len([s for s in _settle(gw, smarthost) if s.kind == "duplicate"]) == 1


def test_sweep_function_takes_the_time_it_is_handed(gw, clock):
    """schedule.sweep with serve's sessions: the rules read `now` as given, not the clock."""
    number = _open(gw)
    _answer(gw, number)
    rules = gw.gateway.wiring.sweep_rules()
    sessions = gw.gateway.sessions
    assert sweep(sessions, rules, clock() + timedelta(days=31), dry_run=True).auto_closed == [
        number
    ]
    assert show(gw, number)["status"] == "awaiting_customer"  # dry: rolled back
    report = sweep(sessions, rules, clock() + timedelta(days=31))
    assert report.auto_closed == [number] and not report.dry_run
    assert show(gw, number)["status"] == "closed_no_reply"


def test_serves_dedup_job_reads_the_texts_of_customers_with_new_tickets_only(
    gw, clock, monkeypatch
):
    """Issue 14.7: the job's cost follows the window's new tickets, not all tickets in it."""
    for i in range(15):  # earlier in the window: two different requests each, compared before
        for n in range(2):
            sender = f"c{i}@example.ru"
            body = f"Клиент {i}, заявка {n}: " + " ".join(f"слово{i}x{n}x{k}" for k in range(9))
            request = mail(sender=sender, subject=f"Тема {i}/{n}", body=body)
            assert send(gw, request, sender=sender)[0] == 250
    clock.advance(minutes=30)
    _race(gw, monkeypatch, mail(msgid="<new1@example.ru>"), mail(msgid="<new2@example.ru>"))
    clock.advance(minutes=1)
    engine = gw.gateway.engine
    read: list[object] = []

    def statements(conn, cursor, statement, parameters, context, executemany) -> None:
        if "request_norm" in statement:
            values = parameters.values() if isinstance(parameters, dict) else parameters
            read.extend(values)

    rules = replace(gw.gateway.wiring.sweep_rules(), dedup_fresh=timedelta(minutes=2))
    event.listen(engine, "before_cursor_execute", statements)
    try:
        with gw.gateway.sessions() as session, session.begin():
            merged = merge_duplicates(session, rules, clock())
    finally:
        event.remove(engine, "before_cursor_execute", statements)
    assert merged == [(32, 31)]
    assert sorted(read) == [31, 32]
