"""``helpdesk import`` (issue 6): an old support mailbox, replayed as if the gateway had run.

The archive is built here, message by message, so every expectation below is
known in advance: threads in Russian (KOI8-R, windows-1251) and English, the
operators' answers, a silence the 30-day rule closes, a reply after the reopen
window, a request sent twice, one mail stored twice, a forward to a colleague,
the team's own copy from the support address, an undated and an unparseable
entry. Every run is the real command: ``gateway.cli.main`` in-process, and a child
process where a signal or a terminal is the point.
"""

from __future__ import annotations

import email.policy
import fcntl
import json
import mailbox
import os
import pty
import re
import signal
import struct
import subprocess
import termios
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.helpers import HELPDESK, cli, kill_process_group, plain_text
from tests.support.sample_archive import OPERATORS, generate

T0 = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
SUPPORT = "support@example.com"


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    for name, address in (("Anna", "anna@example.com"), ("Boris", "boris@example.com")):
        assert cli(cli_env, "operators", "add", name, address).returncode == 0
    return cli_env


def _json(proc: subprocess.CompletedProcess) -> Any:
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


def msg(
    sender: str,
    to: str,
    subject: str,
    body: str,
    at: datetime | None,
    *,
    mid: str | None,
    reply_to: str | None = None,
    charset: str = "utf-8",
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    if at is not None:
        m["Date"] = format_datetime(at)
    if mid is not None:
        m["Message-ID"] = mid
    if reply_to is not None:
        m["In-Reply-To"] = reply_to
        m["References"] = reply_to
    for name, value in (headers or {}).items():
        m[name] = value
    m.set_content(body, charset=charset)
    return m


def archive() -> list[tuple[EmailMessage | bytes, datetime]]:
    """The support mailbox, each with its mbox ``From_`` date, in file order (not date order:
    the Sent folder was appended after the inbox)."""
    h = timedelta(hours=1)
    d = timedelta(days=1)
    ivan, bob, olga, petr = "ivan@client.ru", "bob@shop.com", "olga@firm.ru", "petr@site.ru"
    bob_request = msg(
        bob,
        SUPPORT,
        "Backup restore needed",
        "Please restore the backup of shop.com from 9 January, the uploads folder is gone.",
        T0 + 2 * d,
        mid="<t2-1@shop.com>",
    )
    inbox = [
        # 1. Ivan (KOI8-R): answered twice, then silent: closed by the 30-day rule.
        msg(
            ivan,
            SUPPORT,
            "Не работает почта",
            "Здравствуйте! Письма на ящик ivan@client.ru возвращаются с ошибкой 550.",
            T0,
            mid="<t1-1@client.ru>",
            charset="koi8-r",
        ),
        # his out-of-office answer to the operator: automatic, flagged, changes nothing
        msg(
            ivan,
            SUPPORT,
            "Автоответ: Re: Не работает почта",
            "Я в отпуске до понедельника.",
            T0 + 2 * h + timedelta(minutes=5),
            mid="<ooo@client.ru>",
            reply_to="<a1@example.com>",
            headers={"Auto-Submitted": "auto-replied"},
        ),
        msg(
            ivan,
            SUPPORT,
            "Re: Не работает почта",
            "Всё равно не работает, ошибка 550 5.1.1.\n\n> Проверьте, пожалуйста.",
            T0 + d - h,
            mid="<t1-2@client.ru>",
            reply_to="<a1@example.com>",
            charset="windows-1251",
        ),
        # 38 days after the close (day 31): past the reopen window, a follow-up ticket
        msg(
            ivan,
            SUPPORT,
            "Re: Не работает почта",
            "Снова ошибка 550, посмотрите ещё раз.",
            T0 + 69 * d,
            mid="<t1-3@client.ru>",
            reply_to="<a2@example.com>",
            charset="koi8-r",
        ),
        # 2. Bob (English): to support@ and to Boris, one Message-ID twice; re-sent later
        bob_request,
        bob_request,
        msg(
            bob,
            SUPPORT,
            "Backup restore needed",
            "Hello,\n\nPlease restore the backup of shop.com from 9 January, the uploads folder "
            "is gone.",
            T0 + 2 * d + 40 * timedelta(minutes=1),
            mid="<t2-2@shop.com>",
        ),
        msg(
            bob,
            SUPPORT,
            "Re: Backup restore needed",
            "#close\nThanks, all files are back!",
            T0 + 2 * d + 5 * h,
            mid="<t2-3@shop.com>",
            reply_to="<b1@example.com>",
        ),
        # 3. Olga (windows-1251): no answer yet, a nudge; stays waiting for us
        msg(
            olga,
            SUPPORT,
            "Продлить SSL-сертификат",
            "Сертификат для firm.ru истекает 20 января, продлите, пожалуйста.",
            T0 + 3 * d,
            mid="<t3-1@firm.ru>",
            charset="windows-1251",
        ),
        msg(
            olga,
            SUPPORT,
            "Re: Продлить SSL-сертификат",
            "Есть новости?",
            T0 + 4 * d,
            mid="<t3-2@firm.ru>",
            reply_to="<t3-1@firm.ru>",
            charset="windows-1251",
        ),
        # 4. Petr: no Message-ID and no Date (dated by the From_ line, keyed by its bytes)
        msg(petr, SUPPORT, "Доступ к панели", "Не могу войти в панель управления.", None, mid=None),
    ]
    sent = [
        msg(
            "Anna <anna@example.com>",
            ivan,
            "Re: Не работает почта",
            "Проверили настройки, попробуйте сейчас.\n\nАнна\n\n> Здравствуйте!",
            T0 + 2 * h,
            mid="<a1@example.com>",
            reply_to="<t1-1@client.ru>",
        ),
        msg(
            "Anna <anna@example.com>",
            ivan,
            "Re: Не работает почта",
            "Исправили запись MX, теперь должно работать.",
            T0 + d,
            mid="<a2@example.com>",
            reply_to="<t1-2@client.ru>",
        ),
        msg(
            "Boris <boris@example.com>",
            bob,
            "Re: Backup restore needed",
            "Restored, please check.",
            T0 + 2 * d + 3 * h,
            mid="<b1@example.com>",
            reply_to="<t2-1@shop.com>",
        ),
        # Anna forwards Olga's request to a colleague: an internal note, not an answer
        msg(
            "Anna <anna@example.com>",
            "gleb@example.com",
            "Fwd: Продлить SSL-сертификат",
            "Глеб, посмотри, пожалуйста.",
            T0 + 3 * d + h,
            mid="<fwd@example.com>",
            reply_to="<t3-1@firm.ru>",
        ),
        # the team's copy sent as support@ by no one the gateway knows: kept, ignored
        msg(
            SUPPORT,
            olga,
            "Re: Продлить SSL-сертификат",
            "Занимаемся.",
            T0 + 3 * d + 2 * h,
            mid="<team@example.com>",
            reply_to="<t3-1@firm.ru>",
        ),
    ]
    garbage = b"this line is not a header\nnor is this one\n"
    entries: list[tuple[EmailMessage | bytes, datetime]] = [
        (m, T0 + 5 * d if m["Date"] is None else datetime.now(UTC)) for m in inbox
    ]
    entries += [(m, datetime.now(UTC)) for m in sent]
    entries.append((garbage, T0 + 6 * d))
    return entries


def write_mbox(path: Path, entries: list[tuple[EmailMessage | bytes, datetime]]) -> Path:
    box = mailbox.mbox(path)
    box.lock()
    for m, from_date in entries:
        item = mailbox.mboxMessage(m if isinstance(m, bytes) else m.as_bytes())
        item.set_from("MAILER-DAEMON", time.gmtime(from_date.timestamp()))
        box.add(item)
    box.flush()
    box.unlock()
    box.close()
    return path


def write_maildir(path: Path, entries: list[tuple[EmailMessage | bytes, datetime]]) -> Path:
    box = mailbox.Maildir(path, create=True)
    for m, _ in entries:
        box.add(m if isinstance(m, bytes) else m.as_bytes())
    box.close()
    return path


def state(env: dict[str, str]) -> list[dict]:
    """Every ticket as ``helpdesk ticket show --json`` has it, minus the per-run ids."""
    shown = []
    for t in _json(cli(env, "tickets", "--json")):
        s = _json(cli(env, "ticket", "show", str(t["number"]), "--json"))
        for m in s["messages"]:
            m.pop("id", None)
        shown.append(s)
    return shown


def test_mbox_imports_to_the_expected_tickets(env, tmp_path):
    """Threads, operators' answers, the 30-day rules, duplicates and rejects come out as
    if the gateway had been running since the first mail; the report says so."""
    path = write_mbox(tmp_path / "support.mbox", archive())
    report = _json(cli(env, "import", str(path), "--json"))

    assert report["messages_read"] == 17
    assert report["copies_of_one_message"] == 1
    assert report["tickets_created"] == 5  # Ivan, Bob, Olga, Petr, Ivan's follow-up
    assert report["operator_messages"] == 4  # three answers and the forward
    assert [(d["message_id"], d["ticket"], d["kind"]) for d in report["duplicates"]] == [
        ("<t2-2@shop.com>", 2, "duplicate")
    ]
    [bad] = report["quarantined"]
    assert "no header lines" in bad["reason"]
    [team] = report["ignored"]
    assert team["message_id"] == "<team@example.com>"
    assert "helpdesk operators add" in team["reason"]
    assert report["dated_by"] == {"Date": 15, "From_ line": 2}
    assert report["rules_applied"]["auto_closed"] == 1
    assert report["open_tickets"] == [3, 4, 5]

    tickets = {t["number"]: t for t in state(env)}
    assert {n: t["status"] for n, t in tickets.items()} == {
        1: "closed_no_reply",
        2: "closed",
        3: "awaiting_operator",
        4: "awaiting_operator",
        5: "awaiting_operator",
    }
    ivan = tickets[1]
    assert [(m["author"], m["flags"]) for m in ivan["messages"]] == [
        ("customer", []),
        ("operator", []),
        ("customer", ["auto"]),
        ("customer", []),
        ("operator", []),
    ]
    assert ivan["messages"][0]["text"].startswith("Здравствуйте! Письма на ящик")  # KOI8-R
    assert ivan["messages"][3]["text"].startswith("Всё равно не работает")  # windows-1251
    answer = ivan["messages"][1]["text"]  # the new words only, the quote cut
    assert answer.startswith("Проверили настройки") and "Здравствуйте" not in answer
    # silent from the second answer (day 1, 09:00): closed within the hour after day 31
    closed = datetime.fromisoformat(ivan["closed_at"])
    due = T0 + timedelta(days=31)
    assert due < closed <= due + timedelta(hours=1)
    assert ivan["reopenable"] is False  # its window lapsed later in the replay
    assert ivan["events"][-1]["reason"].startswith("no reply for 30 days")

    follow_up = tickets[5]
    assert follow_up["follow_up_of"] == 1
    assert follow_up["customer"] == "ivan@client.ru"
    assert follow_up["created_at"] == (T0 + timedelta(days=69)).isoformat()

    bob = tickets[2]
    assert [(m["author"], m["flags"]) for m in bob["messages"]] == [
        ("customer", []),
        ("customer", ["duplicate"]),
        ("operator", []),
        ("customer", ["close"]),
    ]
    assert bob["closed_at"] == (T0 + timedelta(days=2, hours=5)).isoformat()

    olga = tickets[3]
    assert [(m["author"], m["flags"]) for m in olga["messages"]] == [
        ("customer", []),
        ("operator", ["note"]),
        ("customer", ["nudge"]),
    ]
    assert "not addressed to the customer" in " ".join(olga["messages"][1]["trace"])
    assert olga["awaiting_since"] == (T0 + timedelta(days=3)).isoformat()  # the nudge: no reset

    petr = tickets[4]
    assert petr["created_at"] == (T0 + timedelta(days=5)).isoformat()  # its From_ line

    # history is not news: nothing was queued to send
    assert _json(cli(env, "outbox", "--json")) == []


def test_a_second_run_changes_nothing(env, tmp_path):
    """Idempotent: everything is found stored (by Message-ID, or the bytes' hash for
    the one without), and no ticket, message or event changes."""
    path = write_mbox(tmp_path / "support.mbox", archive())
    first = _json(cli(env, "import", str(path), "--json"))
    before = state(env)
    again = _json(cli(env, "import", str(path), "--json"))
    assert again["already_imported"] == first["messages_read"] - first["copies_of_one_message"]
    assert again["tickets_created"] == 0 and again["duplicates"] == []
    assert state(env) == before


def test_dry_run_reports_the_same_and_writes_nothing(env, tmp_path, database_url):
    """--dry-run reports what the real import then does, and writes no ticket or quarantine row."""
    path = write_mbox(tmp_path / "support.mbox", archive())
    dry = _json(cli(env, "import", str(path), "--dry-run", "--json"))
    assert _json(cli(env, "tickets", "--json")) == []
    assert _json(cli(env, "quarantine", "list", "--json")) == []
    real = _json(cli(env, "import", str(path), "--json"))
    volatile = ("dry_run", "seconds", "messages_per_second")
    if not database_url.startswith("sqlite"):
        # PostgreSQL's sequences do not roll back: the real run's numbers come later
        volatile += ("duplicates", "quarantined", "open_tickets")
        assert [d["message_id"] for d in dry["duplicates"]] == ["<t2-2@shop.com>"]
        assert len(dry["quarantined"]) == len(real["quarantined"]) == 1
    assert {k: v for k, v in dry.items() if k not in volatile} == {
        k: v for k, v in real.items() if k not in volatile
    }


def test_notify_open_tells_only_the_open_tickets_customers_once(env, tmp_path):
    """--notify-open: one mail per ticket still open, in its customer's thread; none for
    history, and none again on a second run."""
    path = write_mbox(tmp_path / "support.mbox", archive())
    report = _json(cli(env, "import", str(path), "--notify-open", "--json"))
    assert report["notifications_queued"] == 3
    queued = _json(cli(env, "outbox", "--json"))
    assert sorted((r["ticket"], r["kind"], r["to"]) for r in queued) == [
        (3, "imported", "olga@firm.ru"),
        (4, "imported", "petr@site.ru"),
        (5, "imported", "ivan@client.ru"),
    ]
    again = _json(cli(env, "import", str(path), "--notify-open", "--json"))
    assert again["notifications_queued"] == 0
    assert len(_json(cli(env, "outbox", "--json"))) == 3

    # from now on the live rules apply: the open tickets are long unanswered, so the
    # operators get their digest; everything goes to the Maildir drop
    swept = _json(cli(env, "sweep", "--json"))
    assert swept["escalated"] == [3, 4, 5]
    assert swept["notifications_tried"] == 3 + 2  # and a digest to each operator
    drop = Path(env["HELPDESK_DATA_DIR"]) / "outgoing"
    parse = BytesParser(policy=email.policy.default).parsebytes
    box = mailbox.Maildir(drop, create=False)
    letters = {m["To"]: m for m in (parse(box.get_bytes(k)) for k in box.iterkeys())}
    body = plain_text(letters["olga@firm.ru"])
    assert "[#3]" in letters["olga@firm.ru"]["Subject"]
    assert "Мы перешли на новую систему заявок" in body


def test_maildir_and_several_paths_merge_into_one_date_order(env, tmp_path):
    """The inbox as a Maildir and the Sent folder as an mbox: one replay, in date order."""
    entries = archive()
    inbox = [e for e in entries[:11] if isinstance(e[0], EmailMessage) and e[0]["Date"]]
    sent = entries[11:16]
    maildir = write_maildir(tmp_path / "Maildir", inbox)
    mbox = write_mbox(tmp_path / "Sent.mbox", sent)
    report = _json(cli(env, "import", str(maildir), str(mbox), "--json"))
    assert report["messages_read"] == len(inbox) + len(sent)
    assert report["operator_messages"] == 4
    tickets = {t["number"]: t for t in state(env)}
    assert tickets[1]["status"] == "closed_no_reply"
    assert [m["author"] for m in tickets[1]["messages"]][:2] == ["customer", "operator"]


def test_the_text_report_and_clear_errors(env, tmp_path):
    """The text report sums up the import; a missing or wrong path is one clear line, exit 1."""
    path = write_mbox(tmp_path / "support.mbox", archive())
    proc = cli(env, "import", str(path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "messages read:            17" in out
    assert "<t2-2@shop.com> same request as #2" in out
    assert "quarantined:              1" in out

    for bad, says in (
        (tmp_path / "missing.mbox", b"does not exist"),
        (tmp_path, b"not a Maildir"),
    ):
        proc = cli(env, "import", str(bad))
        assert proc.returncode == 1 and says in proc.stderr, proc.stderr
        assert b"Traceback" not in proc.stderr
    notes = tmp_path / "notes.txt"
    notes.write_text("just some notes\n")
    proc = cli(env, "import", str(notes))
    assert proc.returncode == 1 and b"is not an mbox file" in proc.stderr


def test_a_terminal_sees_a_progress_bar(env, tmp_path):
    """On a terminal, stderr shows the count, the rate and the time left; piped, nothing."""
    path = write_mbox(tmp_path / "support.mbox", archive())
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        child = subprocess.Popen(
            [*HELPDESK, "import", str(path), "--dry-run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=follower,
        )
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            seen += chunk
        assert child.wait(timeout=60) == 0
    finally:
        os.close(leader)
    bar = seen.decode(errors="replace")
    assert "importing" in bar and "17/17" in bar and "msg/s" in bar, bar
    piped = cli(env, "import", str(path), "--dry-run")
    assert piped.returncode == 0 and piped.stderr == b""


@pytest.mark.slow
def test_an_interrupted_import_resumes_to_the_same_result(env, tmp_path, database_url):
    """Killed mid-way (SIGKILL: no chance to clean up), then run again: the same tickets,
    messages and events as one uninterrupted run; SIGINT stops with a clear message."""
    path = tmp_path / "big.mbox"
    generate(path, 3000, seed=11)
    for name, address in OPERATORS:
        cli(env, "operators", "add", name, address)

    engine = create_engine(database_url)
    try:
        child = subprocess.Popen(
            [*HELPDESK, "import", str(path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while _count(engine) < 600 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()
        kill_process_group(child)  # its parsing workers, orphaned by the kill
        partial = _count(engine)
        assert 0 < partial < 3000, "the kill came too late to interrupt anything"

        resumed = _json(cli(env, "import", str(path), "--json"))
        assert resumed["already_imported"] == partial
        interrupted = _snapshot(engine)
    finally:
        engine.dispose()

    # the same archive, uninterrupted, into a second database
    other = {**env, "HELPDESK_DATA_DIR": str(tmp_path / "var2")}
    if database_url.startswith("sqlite"):
        other["HELPDESK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'other.db'}"
    else:
        other["HELPDESK_DATABASE_URL"] = database_url.replace(
            "search_path%3D", "search_path%3Dother_"
        )
        _create_schema(database_url)
    assert cli(other, "init").returncode == 0
    for name, address in OPERATORS:
        cli(other, "operators", "add", name, address)
    whole = _json(cli(other, "import", str(path), "--json"))
    assert whole["already_imported"] == 0
    engine = create_engine(other["HELPDESK_DATABASE_URL"])
    try:
        assert _snapshot(engine) == interrupted
    finally:
        engine.dispose()
        if not database_url.startswith("sqlite"):
            _drop_schema(database_url)

    # SIGINT (Ctrl-C) is a clear one-line answer, and what was committed stays
    third = {**env, "HELPDESK_DATA_DIR": str(tmp_path / "var3")}
    third["HELPDESK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'third.db'}"
    assert cli(third, "init").returncode == 0
    engine = create_engine(third["HELPDESK_DATABASE_URL"])
    try:
        child = subprocess.Popen(
            [*HELPDESK, "import", str(path)],
            env=third,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while _count(engine) == 0 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
        assert child.returncode == 130, err
        assert (
            err.decode()
            .strip()
            .splitlines()[-1]
            .endswith("what was committed is kept, so run the same command again to continue")
        )
        assert b"Traceback" not in err
        assert _count(engine) > 0
    finally:
        engine.dispose()


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM raw_mails")) or 0


def _snapshot(engine) -> list[tuple]:
    """Tickets with their messages and events, by content (PostgreSQL's sequences do
    not roll back, so numbers after a kill may differ from an uninterrupted run)."""
    with engine.connect() as conn:
        tickets = conn.execute(
            text(
                "SELECT t.id, c.email, t.subject, t.status, t.created_at, t.awaiting_since,"
                " t.closed_at, t.reopenable, t.reminded_for FROM tickets t"
                " JOIN customers c ON c.id = t.customer_id"
            )
        ).all()
        messages = conn.execute(
            text(
                "SELECT ticket_id, message_id, author_kind, flags, created_at FROM messages"
                " ORDER BY created_at, message_id"
            )
        ).all()
        events = conn.execute(
            text("SELECT ticket_id, at, actor, from_status, to_status, reason FROM events")
        ).all()
    key = {t.id: (t.email, str(t.created_at)) for t in tickets}

    def named(reason: str) -> str:  # "the request of #473 again": the ticket, not its number
        return re.sub(r"#(\d+)", lambda m: str(key.get(int(m.group(1)), m.group(0))), reason)

    return [
        sorted((key[t.id], *map(str, t[2:])) for t in tickets),
        sorted((key[m.ticket_id], *map(str, m[1:])) for m in messages),
        sorted((key[e.ticket_id], *map(str, e[1:-1]), named(e.reason or "")) for e in events),
    ]


def _create_schema(database_url: str) -> None:
    _admin(database_url, 'CREATE SCHEMA "other_{schema}"')


def _drop_schema(database_url: str) -> None:
    _admin(database_url, 'DROP SCHEMA "other_{schema}" CASCADE')


def _admin(database_url: str, sql: str) -> None:
    schema = database_url.rsplit("search_path%3D", 1)[1]
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql.format(schema=schema)))
    finally:
        engine.dispose()
