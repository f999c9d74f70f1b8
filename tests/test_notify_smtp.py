"""Notifications over real SMTP: a recording aiosmtpd server is the smarthost (issue 3)."""

from __future__ import annotations

import asyncio
import base64
import email
import os
import signal
import smtplib
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from sqlalchemy import select

from gateway.mail import reply_address
from gateway.notify.build import Letter, build
from gateway.notify.senders import SmtpSender
from gateway.store import leases
from gateway.store.tables import Outbox
from gateway.testing import Captured, RecordingSMTP, RunningGateway, running_gateway
from tests.helpers import (
    SUPPORT,
    cli,
    dispatcher_passes,
    mail,
    one_pass_through_the_workers,
    plain_text,
    send,
    show,
    stop_dispatcher,
    until,
    wake_dispatcher,
    wire,
)


@pytest.fixture
def gw(settings, clock, smarthost) -> Iterator[RunningGateway]:
    with running_gateway(
        settings,
        clock,
        smarthost=smarthost.url,
        smarthost_starttls="no",
        notify_backoff_seconds=1,
        operator_copies=False,  # these tests count the customer's mails; test_operators_mail
    ) as running:
        running.gateway.wiring.desk.add_operator("Анна", "anna@example.com", None)
        yield running


def _text(msg: EmailMessage) -> str:
    return plain_text(msg)


def _html(msg: EmailMessage) -> str:
    return msg.get_body(("html",)).get_content()  # type: ignore[union-attr]


def _rows(gw: RunningGateway) -> list:
    with gw.gateway.sessions() as s:
        return list(s.execute(select(Outbox).order_by(Outbox.id)).scalars())


def _wait_rows(gw: RunningGateway, done: callable, timeout: float = 15) -> list:  # type: ignore[valid-type]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _rows(gw)
        if done(rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"outbox never got there: {[(r.kind, r.state) for r in _rows(gw)]}")


def test_lifecycle_mails_thread_and_carry_the_right_headers(gw, smarthost):
    """Created, operator reply, customer reply, close: each mail threads in the client."""
    first = mail(msgid="<first@example.ru>")
    assert send(gw, first)[0] == 250
    (created,) = smarthost.wait_for(1)
    msg = created.message
    reply_to = msg["Reply-To"]
    assert created.rcpt_tos == ["ivan@example.ru"]
    assert msg["From"].addresses[0].addr_spec == SUPPORT
    assert msg["To"] == "ivan@example.ru"
    assert msg["Subject"] == "[#1] Не работает сайт"
    assert msg["In-Reply-To"] == "<first@example.ru>"
    assert "<first@example.ru>" in msg["References"]
    assert msg["Message-ID"].endswith("@example.com>")
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg.get_content_type() == "multipart/alternative"
    assert "[#1]" in _text(msg) and "Ожидает ответа оператора" in _text(msg)
    assert "Ожидает ответа оператора" in _html(msg)
    # the envelope sender is this row's VERP bounce address, signed
    assert reply_address.read(created.mail_from, SUPPORT, gw.gateway.secret) == ("b", 1)
    assert reply_address.read(reply_to, SUPPORT, gw.gateway.secret) == ("t", 1)

    gw.gateway.wiring.desk.act(1, "Анна", "reply", text="Перезапустили PHP.\nПроверьте.")
    wake_dispatcher(gw)  # from this thread: through the loop, not Event.set() directly
    answer = smarthost.wait_for(2)[1].message
    assert answer["From"].addresses[0].addr_spec == SUPPORT  # never the operator's own address
    assert "Анна" in answer["From"].addresses[0].display_name
    assert answer["Auto-Submitted"] is None  # a person's words
    assert "Перезапустили PHP." in _text(answer) and "Проверьте." in _text(answer)
    assert answer["In-Reply-To"] == msg["Message-ID"]
    assert show(gw, 1)["status"] == "awaiting_customer"

    # The customer answers to the Reply-To address with a subject that lost its token.
    again = mail(subject="Re: сайт", msgid="<second@example.ru>", in_reply_to=None)
    assert send(gw, again, rcpts=(reply_to,))[0] == 250
    assert show(gw, 1)["status"] == "awaiting_operator"  # their own change: no mail (issue 13)

    assert send(gw, mail(subject="Re: [#1]", body="#close\n\nСпасибо, всё работает."))[0] == 250
    closed = smarthost.wait_for(3)[2].message
    assert show(gw, 1)["status"] == "closed"
    assert "Вы закрыли заявку" in _text(closed) and "откроется снова" in _text(closed)
    ids = {m.message["Message-ID"] for m in smarthost.mails}
    assert len(ids) == 3


def test_english_customer_gets_english_mail(settings, clock, smarthost):
    """HELPDESK_LOCALE=en: the same mails, in English, labels from the one table."""
    with running_gateway(
        settings, clock, smarthost=smarthost.url, smarthost_starttls="no", locale="en"
    ) as gw:
        assert send(gw, mail(subject="Site is down", body="502 since 9am"))[0] == 250
        msg = smarthost.wait_for(1)[0].message
    assert msg["Subject"] == "[#1] Site is down"
    assert "Awaiting operator reply" in _text(msg)
    assert "Ожидает" not in _text(msg)


def test_smarthost_that_answers_451_gets_the_mail_once_it_recovers(gw, smarthost, clock):
    """A 4xx is temporary: the row waits its backoff and goes out when the server recovers."""
    smarthost.refuse = ["451 4.3.0 try later"]
    assert send(gw, mail())[0] == 250
    (row,) = _wait_rows(gw, lambda rows: rows and rows[0].last_error)
    assert row.state == "pending" and "451" in row.last_error
    assert smarthost.mails == []
    clock.advance(seconds=2)  # past the first backoff
    wake_dispatcher(gw)  # from this thread: through the loop, not Event.set() directly
    (got,) = smarthost.wait_for(1)
    (row,) = _wait_rows(gw, lambda rows: rows[0].state == "sent")
    assert row.attempts == 2 and got.message["Message-ID"] == row.message_id


def test_a_450_at_rcpt_is_temporary_and_the_next_mail_on_the_connection_goes_out(
    gw, smarthost, clock
):
    """A 4xx at RCPT waits its backoff (the address is not marked); the transaction is reset,
    so the same connection then carries the mail once the box takes it (issue 16's lean send)."""
    smarthost.refuse_rcpt["ivan@example.ru"] = "450 4.2.1 <ivan@example.ru>: mailbox busy"
    assert send(gw, mail())[0] == 250
    (row,) = _wait_rows(gw, lambda rows: rows and rows[0].last_error)
    assert row.state == "pending" and "450 4.2.1" in row.last_error
    assert show(gw, 1)["notify_bounced"] is None
    del smarthost.refuse_rcpt["ivan@example.ru"]
    clock.advance(seconds=2)  # past the first backoff
    wake_dispatcher(gw)
    (got,) = smarthost.wait_for(1)
    (row,) = _wait_rows(gw, lambda rows: rows[0].state == "sent")
    assert row.attempts == 2 and got.message["Message-ID"] == row.message_id


def test_550_is_final_and_says_why(gw, smarthost):
    """A 5xx is permanent: the row is failed with the server's sentence, and can be retried."""
    smarthost.refuse = ["550 5.1.1 no such user"]
    assert send(gw, mail())[0] == 250
    (row,) = _wait_rows(gw, lambda rows: rows and rows[0].state == "failed")
    assert "550 5.1.1" in row.last_error
    assert gw.gateway.wiring.desk.retry_outbox(row.id).state == "pending"
    wake_dispatcher(gw)  # from this thread: through the loop, not Event.set() directly
    smarthost.wait_for(1)


def test_crash_between_send_and_mark_resends_with_the_same_message_id(gw, smarthost, clock):
    """Guarantee 4: a row claimed and sent but never marked goes out again after its lease."""
    gw.gateway._dispatch_stop.set()  # the running dispatcher stops; we play its steps
    _wait_until(lambda: gw.gateway._dispatch_task.done())  # type: ignore[union-attr]
    assert send(gw, mail())[0] == 250
    with gw.gateway.sessions() as s, s.begin():
        (claimed,) = leases.leased(s, leases.lease_due(s, clock(), timedelta(minutes=5)))
    restarted = gw.gateway.make_dispatcher()  # what the next process would build
    builder = restarted._agents
    envelope, data = build(Letter.of(claimed), builder.templates, builder.rules)
    with smtplib.SMTP("127.0.0.1", int(smarthost.url.rsplit(":", 1)[1])) as c:
        c.sendmail(envelope, [claimed.to_address], data)
    # …and the process dies before marking the row sent. The next process:
    assert asyncio.run(restarted.run_once()) == 0  # leased: not yet
    clock.advance(minutes=6)
    assert asyncio.run(_once_and_close(restarted)) == 1
    first, second = smarthost.wait_for(2)
    assert first.message["Message-ID"] == second.message["Message-ID"] == claimed.message_id
    (row,) = _rows(gw)
    assert row.state == "sent" and row.attempts == 2


async def _once_and_close(dispatcher) -> int:
    try:
        return await dispatcher.run_once()
    finally:
        await dispatcher.close()


def _wait_until(done, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _auto_responder(gateway_port: int, polite: bool):
    def answer(got: Captured) -> None:
        msg = got.message
        reply = EmailMessage()
        reply["From"] = "ivan@example.ru"
        reply["To"] = msg["Reply-To"]
        reply["Subject"] = f"Автоответ: {msg['Subject']}"
        reply["In-Reply-To"] = msg["Message-ID"]
        if polite:
            reply["Auto-Submitted"] = "auto-replied"
        reply.set_content("Я в отпуске до понедельника.")
        with smtplib.SMTP("127.0.0.1", gateway_port) as c:
            c.sendmail("ivan@example.ru", [msg["Reply-To"]], wire(reply))

    return answer


@pytest.mark.parametrize("polite", [True, False], ids=["rfc3834-responder", "naive-responder"])
def test_auto_responder_and_gateway_stop_after_one_exchange(settings, clock, polite):
    """Guarantee 5: a responder that answers every mail gets one mail from us, not a loop."""
    holder: dict[str, int] = {}
    with (
        RecordingSMTP(on_mail=lambda got: responder(got)) as smarthost,
        running_gateway(settings, clock, smarthost=smarthost.url, smarthost_starttls="no") as gw,
    ):
        holder["port"] = gw.port
        responder = _auto_responder(gw.port, polite)
        assert send(gw, mail())[0] == 250
        smarthost.wait_for(1)
        # The responder's answer is stored, with whatever it queued in the same commit…
        assert until(lambda: len(show(gw, 1)["messages"]) == 2)
        dispatcher_passes(gw)  # …and the dispatcher has had its chance to send that
        assert len(smarthost.mails) == 1
        assert [r.state for r in _rows(gw) if r.state == "pending"] == []
        ticket = show(gw, 1)
    assert len(ticket["messages"]) == 2  # the answer is stored on the ticket
    assert ticket["status"] == "awaiting_operator"
    if polite:
        assert "auto" in ticket["messages"][1]["flags"]


def test_subject_with_crlf_cannot_add_a_header(gw, smarthost):
    """A subject carrying CR/LF (encoded, so it survives SMTP) never becomes a header."""
    payload = base64.b64encode("Сайт\r\nBcc: victim@example.net\r\nX-Evil: 1".encode()).decode()
    raw = wire(mail(subject="placeholder"))
    evil = raw.replace(b"Subject: placeholder", f"Subject: =?utf-8?b?{payload}?=".encode())
    assert send(gw, evil)[0] == 250
    (got,) = smarthost.wait_for(1)
    assert got.rcpt_tos == ["ivan@example.ru"]
    raw_headers = got.data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in raw_headers and b"\r\nX-Evil:" not in raw_headers
    parsed = email.message_from_bytes(got.data, policy=default_policy)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert "Bcc: victim" in parsed["Subject"]  # kept as words on one line


def test_automatic_mails_to_one_address_are_rate_limited(settings, clock, smarthost):
    """At most auto_reply_limit automatic mails per window; the rest are kept as suppressed."""
    with running_gateway(
        settings, clock, smarthost=smarthost.url, smarthost_starttls="no", auto_reply_limit=3
    ) as gw:
        for n in range(5):
            assert send(gw, mail(subject=f"Проблема {n}"))[0] == 250
        smarthost.wait_for(3)
        # Settled: no row is pending any more, so nothing else can go out.
        rows = _wait_rows(
            gw, lambda rows: len(rows) == 5 and all(r.state != "pending" for r in rows)
        )
        assert len(smarthost.mails) == 3
        assert [r.state for r in rows] == ["sent"] * 3 + ["suppressed"] * 2
        assert "loop limit" in rows[4].last_error
        clock.advance(minutes=181)  # a new window
        assert send(gw, mail(subject="Проблема 6"))[0] == 250
        smarthost.wait_for(4)


def test_hard_bounce_stops_mail_to_the_address(gw, smarthost):
    """A DSN to the VERP address marks the address bouncing; no further mail goes there."""
    assert send(gw, mail())[0] == 250
    (created,) = smarthost.wait_for(1)
    dsn = (
        f"From: MAILER-DAEMON@mx.example.ru\r\nTo: {created.mail_from}\r\n"
        "Subject: Undelivered Mail\r\n"
        "Message-ID: <dsn1@mx.example.ru>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nUser unknown\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.ru\r\n\r\n"
        "Final-Recipient: rfc822; ivan@example.ru\r\nAction: failed\r\n"
        "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n--b--\r\n"
    )
    assert send(gw, dsn.encode(), sender="", rcpts=(created.mail_from,))[0] == 250
    ticket = show(gw, 1)
    assert ticket["status"] == "awaiting_operator"  # a bounce is not a customer's answer
    assert "auto" in ticket["messages"][-1]["flags"]
    assert any("5.1.1" in line for line in ticket["messages"][-1]["trace"])
    gw.gateway.wiring.desk.act(1, "Анна", "reply", text="Ответ")
    rows = _wait_rows(gw, lambda rows: len(rows) == 2)
    assert rows[1].state == "suppressed" and "bounced" in rows[1].last_error
    assert len(smarthost.mails) == 1  # and nothing answers the bounce itself


def test_notify_off_stops_notifications(gw, smarthost):
    """#notify off on the first line of a reply: no more mail about this ticket."""
    assert send(gw, mail())[0] == 250
    smarthost.wait_for(1)
    assert send(gw, mail(subject="Re: [#1]", body="#notify off\n\nДобавлю: и почта тоже."))[0]
    assert show(gw, 1)["notify"] is False
    answered = gw.gateway.wiring.desk.act(1, "Анна", "reply", text="Ответ")
    assert answered["notifications"] == []  # nothing queued for the customer…
    dispatcher_passes(gw)
    assert len(smarthost.mails) == 1  # …and nothing sent
    assert [r.kind for r in _rows(gw)] == ["created"]


def test_notify_to_needs_proof_from_the_customers_own_address(gw, smarthost):
    """#notify-to: the confirmation goes to the address mail goes to now (a From can be
    forged, issue 13); only a reply from it switches over — never one from the new address."""
    assert send(gw, mail())[0] == 250
    smarthost.wait_for(1)
    body = "#notify-to boss@example.ru\n\nПишите, пожалуйста, руководителю."
    assert send(gw, mail(subject="Re: [#1]", body=body))[0] == 250
    confirm = smarthost.wait_for(2)[1]
    assert confirm.rcpt_tos == ["ivan@example.ru"]
    assert "boss@example.ru" in plain_text(confirm.message)
    assert show(gw, 1)["notify_address"] == "ivan@example.ru"  # not before confirmation
    # the new address cannot confirm itself, even with the confirmation address in hand
    forged = confirm.message["Reply-To"]
    boss = mail(sender="boss@example.ru", subject="Re: подтверждение", body="Да")
    send(gw, boss, sender="boss@example.ru", rcpts=(forged,))
    assert show(gw, 1)["notify_address"] == "ivan@example.ru"
    other = mail(sender="mallory@example.net", body="Да")
    send(gw, other, sender="mallory@example.net", rcpts=(forged,))
    assert show(gw, 1)["notify_address"] == "ivan@example.ru"
    yes = mail(subject="Re: подтверждение", body="Да")
    assert send(gw, yes, rcpts=(forged,))[0] == 250
    assert show(gw, 1)["notify_address"] == "boss@example.ru"


def test_a_forged_notify_to_never_reaches_the_attacker(gw, smarthost):
    """A forged customer From with #notify-to attacker@: the real customer is asked; the
    attacker gets nothing and the ticket's mail stays with the customer."""
    assert send(gw, mail())[0] == 250
    smarthost.wait_for(1)
    forged = mail(subject="Re: [#1]", body="#notify-to eve@attacker.example\n\nСпасибо")
    assert send(gw, forged, sender="eve@attacker.example")[0] == 250
    confirm = smarthost.wait_for(2)[1]
    assert confirm.rcpt_tos == ["ivan@example.ru"]
    gw.gateway.wiring.desk.act(1, "Анна", "reply", text="Ответ по заявке")
    answer = smarthost.wait_for(3)[2]
    assert answer.rcpt_tos == ["ivan@example.ru"]
    assert all("eve@attacker.example" not in m.rcpt_tos for m in smarthost.mails)


def test_without_a_smarthost_mail_lands_in_a_maildir(gateway):
    """The embedded default: each notification is a file a person can open."""
    assert send(gateway, mail())[0] == 250
    new = gateway.gateway.settings.data_dir / "outgoing" / "new"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(new.glob("*")):
        time.sleep(0.05)
    (path,) = list(new.glob("*"))
    msg = email.message_from_bytes(path.read_bytes(), policy=default_policy)
    assert msg["Subject"] == "[#1] Не работает сайт"
    assert msg["Delivered-To"] == "ivan@example.ru"


def test_without_a_smarthost_a_backlog_from_the_workers_lands_in_the_maildir_too(gateway):
    """Twelve due rows: the delivery workers write them to the same Maildir serve would."""
    _twelve_through_the_workers(gateway)
    new = gateway.gateway.settings.data_dir / "outgoing" / "new"
    got = [email.message_from_bytes(p.read_bytes(), policy=default_policy) for p in new.glob("*")]
    assert sorted(m["Delivered-To"] for m in got) == sorted(f"c{n}@example.ru" for n in range(12))
    assert {r.state for r in _rows(gateway)} == {"sent"}


def test_a_backlog_is_built_and_sent_by_a_worker_process_and_all_of_it_marked(gw, smarthost):
    """Twelve due rows at once: built and sent off serve's loop by a delivery worker,
    each marked sent."""
    _twelve_through_the_workers(gw)
    got = smarthost.wait_for(12)
    assert sorted(g.rcpt_tos[0] for g in got) == sorted(f"c{n}@example.ru" for n in range(12))
    assert len({g.message["Message-ID"] for g in got}) == 12
    assert {r.state for r in _rows(gw)} == {"sent"}
    # The worker said goodbye on its way out: a smarthost logs a dropped connection.
    _wait_until(lambda: smarthost.quits >= 1)


def test_a_killed_delivery_worker_costs_a_retry_and_new_workers_take_over(gw, smarthost, clock):
    """The OOM killer takes the delivery workers: the next chunk is tried again after the
    backoff, by new workers; nothing stays leased, fails for good, or logs a traceback."""
    stop_dispatcher(gw)

    def twelve(first: int) -> None:
        for n in range(first, first + 12):
            assert send(gw, mail(subject=f"Заявка {n}", sender=f"c{n}@example.ru"))[0] == 250

    async def passes() -> list[int]:
        dispatcher = gw.gateway.make_dispatcher()
        try:
            twelve(0)
            claimed = [await dispatcher.run_once()]
            pool = dispatcher._agents._pool
            for pid in list(pool._processes):  # type: ignore[union-attr]
                os.kill(pid, signal.SIGKILL)
            while not pool._broken:  # type: ignore[union-attr]
                await asyncio.sleep(0.02)
            twelve(12)
            claimed.append(await dispatcher.run_once())
            retried = [r for r in _rows(gw) if r.state == "pending"]
            assert len(retried) == 12 and all("worker" in r.last_error for r in retried)
            clock.advance(seconds=2)  # past the first backoff
            claimed.append(await dispatcher.run_once())
            assert dispatcher._agents._pool is not pool
            return claimed
        finally:
            await dispatcher.close()

    assert asyncio.run(passes()) == [12, 12, 12]
    got = smarthost.wait_for(24)
    assert len({g.message["Message-ID"] for g in got}) == 24
    assert {r.state for r in _rows(gw)} == {"sent"}


def test_a_backlog_keeps_two_batches_out_and_sends_each_mail_once(gw, smarthost):
    """Past a full batch, the next is claimed and queued for the workers while they send
    the last: every notification still goes out exactly once, and all are marked sent."""
    stop_dispatcher(gw)
    for n in range(40):
        assert send(gw, mail(subject=f"Заявка {n}", sender=f"c{n}@example.ru"))[0] == 250
    due = len(_rows(gw))
    assert due >= 40

    async def drain() -> int:
        dispatcher = gw.gateway.make_dispatcher()
        dispatcher._rules = replace(dispatcher._rules, batch=12)  # a batch for the pool
        out, most = 0, 0
        send_batch = dispatcher._send

        async def counted(rows: list) -> None:
            nonlocal out, most
            out += 1
            most = max(most, out)
            try:
                await send_batch(rows)
            finally:
                out -= 1

        dispatcher._send = counted  # type: ignore[method-assign]
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop, poll=0.05))
        while dispatcher.passes == 0:  # the first pass that found less than a batch
            await asyncio.sleep(0.02)
        stop.set()
        await task
        return most

    assert asyncio.run(drain()) == 2
    got = smarthost.wait_for(due)
    assert len(got) == due
    assert len({g.message["Message-ID"] for g in got}) == due
    assert {r.state for r in _rows(gw)} == {"sent"}


def _twelve_through_the_workers(gw: RunningGateway) -> None:
    """Twelve requests while the dispatcher is stopped; then one pass through the workers."""
    stop_dispatcher(gw)
    for n in range(12):
        assert send(gw, mail(subject=f"Заявка {n}", sender=f"c{n}@example.ru"))[0] == 250
    assert one_pass_through_the_workers(gw) == 12


def test_smarthost_with_starttls_and_auth(settings, clock, tmp_path, monkeypatch):
    """A smarthost that requires STARTTLS and AUTH gets the mail with the configured login."""
    import ssl
    import subprocess

    from aiosmtpd.smtp import AuthResult

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    make_cert = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    make_cert += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
    make_cert += ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(make_cert, check=True, capture_output=True)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the gateway trusts this test's CA only
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    with (
        RecordingSMTP(
            tls_context=server_tls,
            require_starttls=True,
            authenticator=authenticator,
            auth_require_tls=True,
        ) as smarthost,
        running_gateway(
            settings,
            clock,
            smarthost=smarthost.url,
            smarthost_starttls="yes",
            smarthost_user="helpdesk",
            smarthost_password="s3cret",
        ) as gw,
    ):
        assert send(gw, mail())[0] == 250
        (got,) = smarthost.wait_for(1)
    assert got.rcpt_tos == ["ivan@example.ru"]
    assert logins == [(b"helpdesk", b"s3cret")]
    assert smarthost.data_with_rcpt == 1  # pipelined inside TLS, after the login


def test_the_smarthost_hears_our_domain_in_ehlo_and_the_brand_in_from(settings, clock, smarthost):
    """EHLO names HELPDESK_EHLO_NAME (default: the domain), never localhost; From is the brand."""
    with running_gateway(
        settings, clock, smarthost=smarthost.url, smarthost_starttls="no", brand="Хостинг Пример"
    ) as gw:
        assert send(gw, mail())[0] == 250
        (created,) = smarthost.wait_for(1)
    assert smarthost.ehlo_names and set(smarthost.ehlo_names) == {"example.com"}
    assert created.message["From"].addresses[0].display_name == "Хостинг Пример"
    assert created.message["Content-Language"] == "ru"
    with running_gateway(
        settings,
        clock,
        smarthost=smarthost.url,
        smarthost_starttls="no",
        ehlo_name="mx.example.com",
    ) as gw:
        assert send(gw, mail(subject="Другое"))[0] == 250
        smarthost.wait_for(2)
    assert smarthost.ehlo_names[-1] == "mx.example.com"


GMAIL_STYLE_BOUNCE = (
    "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
    "To: {to}\r\nSubject: Delivery Status Notification (Failure)\r\n"
    "Message-ID: <gm1@mail.gmail.com>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=UTF-8\r\n\r\n"
    "This is an automatically generated Delivery Status Notification\r\n\r\n"
    "Delivery to the following recipient failed permanently:\r\n\r\n"
    "     ivan@example.ru\r\n\r\n"
    "Technical details of permanent failure:\r\n"
    "The email account that you tried to reach does not exist.\r\n"
)


def test_a_gmail_style_bounce_without_rfc3464_stops_mail_too(gw, smarthost):
    """A bounce with no delivery-status part (Gmail's plain text) marks the address too."""
    assert send(gw, mail())[0] == 250
    (created,) = smarthost.wait_for(1)
    bounce = GMAIL_STYLE_BOUNCE.format(to=created.mail_from).encode()
    assert send(gw, bounce, sender="", rcpts=(created.mail_from,))[0] == 250
    assert show(gw, 1)["notify_bounced"], show(gw, 1)


def test_a_550_at_rcpt_marks_the_address_and_the_operator_is_told(gw, smarthost, settings):
    """The smarthost refuses the address at RCPT: the address is marked like a bounce, and an
    operator's answer then says it was not sent — in `ticket reply`, `ticket show` and the page's
    data — instead of exiting 0 in silence."""
    smarthost.refuse_rcpt["ivan@example.ru"] = "550 5.1.1 <ivan@example.ru>: user unknown"
    assert send(gw, mail())[0] == 250
    rows = _wait_rows(gw, lambda rows: rows and rows[0].state != "pending")
    assert rows[0].state == "failed" and "550 5.1.1" in rows[0].last_error
    ticket = show(gw, 1)
    assert "550 5.1.1" in (ticket["notify_bounced"] or "")

    env = {
        "HELPDESK_DATA_DIR": str(settings.data_dir),
        "HELPDESK_DATABASE_URL": settings.database_url,
        "HELPDESK_DOMAIN": "example.com",
    }
    done = cli(env, "ticket", "reply", "1", "--as", "Анна", "--text", "Проверьте, пожалуйста.")
    assert done.returncode == 0
    assert b"not sent" in done.stderr and b"bounced" in done.stderr
    shown = cli(env, "ticket", "show", "1").stdout.decode()
    assert "WARNING:" in shown and "NOT SENT: operator_reply to ivan@example.ru" in shown
    [undelivered] = show(gw, 1)["undelivered"]
    assert undelivered["kind"] == "operator_reply" and undelivered["state"] == "suppressed"


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-by-one"])
def test_lines_that_begin_with_a_dot_arrive_as_they_were_written(pipelining):
    """Our own bytes skip aiosmtplib's line-ending pass (issue 16), so the dot-stuffing is
    ours: a lone "." would end the mail early, a ".htaccess" would lose its dot. A mail not
    in wire form (bare LF) still goes the library's way and arrives with CRLF."""
    wired = b"Subject: dots\r\n\r\n.\r\n..two\r\n.htaccess is read first\r\nend\r\n"
    bare = b"Subject: bare\n\n.\nlone LF\n"

    async def both(port: int) -> None:
        sender = SmtpSender("127.0.0.1", port, starttls=False)
        await sender.send("bounces@example.com", "ivan@example.ru", wired)
        await sender.send("bounces@example.com", "ivan@example.ru", bare)
        await sender.close()

    with RecordingSMTP(pipelining=pipelining) as smarthost:
        asyncio.run(both(int(smarthost.url.rsplit(":", 1)[1])))
        first, second = smarthost.wait_for(2)
    assert smarthost.data_with_rcpt == (2 if pipelining else 0)
    assert first.data == wired
    assert second.data == bare.replace(b"\n", b"\r\n")
