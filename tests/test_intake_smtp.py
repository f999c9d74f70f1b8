"""Intake over real SMTP sessions: mail becomes tickets (issue 2, DESIGN §1–§3)."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from email.header import Header

import pytest
from sqlalchemy import func, select, text

from gateway import views
from gateway.intake import retry_quarantined
from gateway.operations import Refused
from gateway.store.tables import Message, RawMail, Ticket
from gateway.testing import running_gateway
from tests.helpers import SUPPORT, mail, send, show, tickets, wire


@pytest.mark.writer_process
def test_new_mail_opens_a_ticket_awaiting_operator(gateway):
    """A customer's first mail becomes a numbered ticket in awaiting_operator."""
    code, reply = send(gateway, mail())
    assert code == 250 and reply.startswith("2.0.0 Stored: ticket #1")
    t = show(gateway, 1)
    assert t["status"] == "awaiting_operator"
    assert t["subject"] == "Не работает сайт"
    assert t["customer"] == "ivan@example.ru"
    assert t["notify"] is True and t["notify_address"] == "ivan@example.ru"
    assert t["awaiting_since"] is not None and t["closed_at"] is None
    assert [m["author"] for m in t["messages"]] == ["customer"]
    assert "502" in t["messages"][0]["text"]
    assert t["events"][0]["from"] is None and t["events"][0]["to"] == "awaiting_operator"


def test_unknown_sender_is_recorded_as_guest(gateway):
    """An unknown sender gets a ticket as an unverified guest, and the trace says so."""
    send(gateway, mail(sender="new@example.org"), sender="new@example.org")
    with gateway.gateway.sessions() as session:
        customers = views.customers(session)
    assert [(c["email"], c["verified"]) for c in customers] == [("new@example.org", False)]
    assert any("unverified guest" in step for step in show(gateway, 1)["messages"][0]["trace"])


def test_known_customer_is_identified(gateway):
    """A registered address is identified as that customer, not a new guest."""
    added = gateway.gateway.wiring.desk.add_customer("ivan@example.ru", "Иван")
    send(gateway, mail())
    t = show(gateway, 1)
    assert t["customer_id"] == added["id"]
    assert any(f"known as customer {added['id']}" in s for s in t["messages"][0]["trace"])


def test_unknown_sender_refused_at_rcpt_when_configured(settings, clock):
    """With unknown_senders=refuse, a stranger is refused in-session with how to register."""
    with running_gateway(settings, clock, unknown_senders="refuse") as gw:
        code, reply = send(gw, mail(sender="who@example.org"), sender="who@example.org")
        assert code == 550
        assert reply.startswith("5.7.1") and "Register" in reply
        gw.gateway.wiring.desk.add_customer("ok@example.org", "")
        assert send(gw, mail(sender="ok@example.org"), sender="ok@example.org")[0] == 250
        # A known envelope sender cannot smuggle in an unknown From.
        code, reply = send(gw, mail(sender="who@example.org"), sender="ok@example.org")
        assert code == 550 and "who@example.org" in reply
        assert len(tickets(gw)) == 1


def test_unserved_recipient_is_refused_with_550_511(gateway):
    """RCPT to an address we do not serve: 550 5.1.1 with a sentence; never a relay."""
    with smtplib.SMTP(gateway.host, gateway.port) as client:
        client.ehlo()
        client.mail("ivan@example.ru")
        code, reply = client.rcpt("someone@gmail.com")
        assert code == 550 and reply.decode().startswith("5.1.1")
        assert "support@example.com" in reply.decode()
        code, _ = client.rcpt("sales@example.com")
        assert code == 550


def test_reply_address_subaddress_is_served(gateway):
    """support+anything@domain is ours (reply addresses thread back through it)."""
    code, _ = send(gateway, mail(), rcpts=("support+t1.abc@example.com",))
    assert code == 250


def test_size_limit_is_announced_and_enforced(settings, clock):
    """EHLO announces SIZE; a larger message gets 552 5.3.4 and nothing is stored."""
    with running_gateway(settings, clock, max_message_size=20_000) as gw:
        with smtplib.SMTP(gw.host, gw.port) as client:
            client.ehlo()
            assert client.esmtp_features["size"] == "20000"
        code, reply = send(gw, mail(body=("x" * 70 + "\n") * 430))
        assert code == 552 and reply.startswith("5.3.4"), reply
        assert tickets(gw) == []


@pytest.mark.parametrize(
    "subject",
    [
        "Re: [#1] Не работает сайт",
        "RE: RE: [#1] Не работает сайт",
        "Re[2]: [#1] Не работает сайт",
        "AW: WG: [#1] Не работает сайт",
        "SV: [#1] Не работает сайт",
        "Ответ: [#1] Не работает сайт",
        "Отв: Пересл.: [#1] Не работает сайт",
        "Fwd: Fw: [#1] Не работает сайт",
        Header("Ответ: [#1] Не работает сайт", "koi8-r").encode(),
    ],
)
def test_reply_threads_by_subject_token(gateway, subject):
    """The token behind any chain of prefixes (or in an encoded word) threads the reply."""
    send(gateway, mail())
    raw = mail(subject="placeholder", body="Вот логи.").as_bytes()
    raw = raw.replace(b"Subject: placeholder", f"Subject: {subject}".encode())
    code, reply = send(gateway, raw)
    assert code == 250 and "ticket #1" in reply, reply
    assert len(tickets(gateway)) == 1
    assert len(show(gateway, 1)["messages"]) == 2


def test_reply_threads_by_references_to_customers_own_message(gateway):
    """In-Reply-To/References naming a Message-ID already on a ticket threads, subject or not."""
    first = mail(msgid="<first@example.ru>")
    send(gateway, first)
    send(
        gateway, mail(subject="ещё вопрос", body="И почта тоже.", in_reply_to="<first@example.ru>")
    )
    send(gateway, mail(subject="и ещё", body="Логи.", references="<x@y> <first@example.ru>"))
    assert len(tickets(gateway)) == 1
    trace = show(gateway, 1)["messages"][1]["trace"]
    assert any("In-Reply-To" in s or "<first@example.ru>" in s for s in trace)


@pytest.mark.writer_process
def test_same_message_id_twice_has_one_effect(gateway):
    """A retry or a second recipient of the same Message-ID: 250, no second effect."""
    m = mail(msgid="<dup@example.ru>")
    assert send(gateway, m)[0] == 250
    code, reply = send(gateway, m)
    assert code == 250 and "Already stored" in reply
    code, _ = send(gateway, m, rcpts=(SUPPORT, "support+x@example.com"))
    assert code == 250
    assert len(tickets(gateway)) == 1
    with gateway.gateway.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 1
        assert s.scalar(select(func.count()).select_from(RawMail)) == 1


def _to_awaiting_customer(gw, number=1):
    gw.gateway.wiring.desk.add_operator("anna", "anna@example.com", None)
    gw.gateway.wiring.desk.act(number, "anna", "status", status="awaiting_customer")


def test_customer_reply_returns_ticket_to_awaiting_operator(gateway, clock):
    """A customer's reply in awaiting_customer sets awaiting_operator and restarts its clock."""
    send(gateway, mail())
    _to_awaiting_customer(gateway)
    clock.advance(days=2)
    send(gateway, mail(subject="Re: [#1] Не работает сайт", body="Проверил, снова 502."))
    t = show(gateway, 1)
    assert t["status"] == "awaiting_operator"
    assert t["awaiting_since"] == clock().isoformat()
    assert [e["to"] for e in t["events"]] == [
        "awaiting_operator",
        "awaiting_customer",
        "awaiting_operator",
    ]


def test_autoreply_is_flagged_and_changes_nothing(gateway, clock):
    """A vacation reply threading into a ticket is stored, flagged auto, and moves no clock."""
    send(gateway, mail())
    _to_awaiting_customer(gateway)
    before = show(gateway, 1)
    clock.advance(days=3)
    code, _ = send(
        gateway,
        mail(
            subject="Автоответ: Re: [#1] Не работает сайт",
            body="Я в отпуске до понедельника.",
            headers={"Auto-Submitted": "auto-replied"},
        ),
    )
    assert code == 250
    after = show(gateway, 1)
    assert after["status"] == "awaiting_customer"
    assert after["awaiting_since"] == before["awaiting_since"]
    assert after["messages"][-1]["flags"] == ["auto"]
    assert len(after["events"]) == len(before["events"])


def test_autoreply_does_not_reopen_a_closed_ticket(gateway, clock):
    """An out-of-office reply to a closed ticket leaves it closed."""
    send(gateway, mail())
    gateway.gateway.wiring.desk.add_operator("anna", "anna@example.com", None)
    gateway.gateway.wiring.desk.act(1, "anna", "close")
    clock.advance(days=1)
    send(
        gateway,
        mail(
            subject="Re: [#1] Не работает сайт",
            body="Out of office",
            headers={"X-Autoreply": "yes"},
        ),
    )
    assert show(gateway, 1)["status"] == "closed"
    assert len(tickets(gateway)) == 1


def test_close_command_closes_the_ticket(gateway, clock):
    """'#close' on the first line of the customer's reply closes it (customer closed it)."""
    send(gateway, mail())
    clock.advance(hours=5)
    send(
        gateway, mail(subject="Re: [#1] Не работает сайт", body="#close\nРазобрался сам, спасибо.")
    )
    t = show(gateway, 1)
    assert t["status"] == "closed" and t["closed_at"] == clock().isoformat()
    assert t["events"][-1]["reason"] == "closed by customer"
    assert "close" in t["messages"][-1]["flags"]


@pytest.mark.parametrize(
    "nudge", ["Когда вы ответите?", "Сколько ещё ждать?", "Any update?", "Посмотрите заявку №1"]
)
def test_nudge_is_flagged_and_keeps_the_queue_position(gateway, clock, nudge):
    """A nudge is stored and flagged, and awaiting_since stays where it was."""
    send(gateway, mail())
    since = show(gateway, 1)["awaiting_since"]
    clock.advance(hours=30)
    send(gateway, mail(subject="Re: [#1] Не работает сайт", body=nudge))
    t = show(gateway, 1)
    assert t["awaiting_since"] == since and t["status"] == "awaiting_operator"
    assert "nudge" in t["messages"][-1]["flags"]
    assert any(s.startswith("flag nudge") for s in t["messages"][-1]["trace"])


def test_closed_ticket_reopens_within_30_days(gateway, clock):
    """A customer message 29 days after closing reopens the ticket."""
    send(gateway, mail())
    gateway.gateway.wiring.desk.add_operator("anna", "anna@example.com", None)
    gateway.gateway.wiring.desk.act(1, "anna", "close")
    clock.advance(days=29)
    send(gateway, mail(subject="Re: [#1] Не работает сайт", body="Снова не работает."))
    t = show(gateway, 1)
    assert t["status"] == "awaiting_operator" and t["closed_at"] is None
    assert t["events"][-1]["reason"] == "reopened by customer"
    assert len(tickets(gateway)) == 1


def test_after_30_days_a_linked_follow_up_is_made(gateway, clock):
    """31 days after closing, the message opens a new ticket linked to the old one."""
    send(gateway, mail())
    gateway.gateway.wiring.desk.add_operator("anna", "anna@example.com", None)
    gateway.gateway.wiring.desk.act(1, "anna", "close")
    clock.advance(days=31)
    code, reply = send(gateway, mail(subject="Re: [#1] Не работает сайт", body="Снова 502."))
    assert code == 250 and "ticket #2" in reply
    assert show(gateway, 1)["status"] == "closed"
    new = show(gateway, 2)
    assert new["follow_up_of"] == 1 and new["status"] == "awaiting_operator"
    assert "follow_up" in new["messages"][0]["flags"]


def test_admin_closed_ticket_is_never_reopened(gateway, clock):
    """An administratively closed ticket stays locked: a reply becomes a follow-up."""
    send(gateway, mail())
    gateway.gateway.wiring.desk.add_operator("anna", "anna@example.com", None)
    gateway.gateway.wiring.desk.act(1, "anna", "admin_close", reason="нарушение договора")
    clock.advance(days=1)
    send(gateway, mail(subject="Re: [#1] Не работает сайт", body="Почему закрыли?"))
    old = show(gateway, 1)
    assert old["status"] == "closed" and old["locked"] is True
    assert show(gateway, 2)["follow_up_of"] == 1


@pytest.mark.writer_process
def test_stranger_with_a_token_is_held_not_appended(gateway):
    """Someone else's mail carrying ticket #1's token is held, and the status does not move."""
    send(gateway, mail())
    send(
        gateway,
        mail(subject="Re: [#1] Не работает сайт", body="#close", sender="evil@example.net"),
        sender="evil@example.net",
    )
    t = show(gateway, 1)
    assert t["status"] == "awaiting_operator"
    held = t["messages"][-1]
    assert held["author"] == "stranger" and "held" in held["flags"]


@pytest.mark.writer_process
def test_unparseable_mail_is_quarantined_and_retried(gateway):
    """Bytes that are not a message: 250, kept raw in quarantine, listed, retried on demand."""
    code, reply = send(gateway, b"\x00\x01\x02 not a mail at all \xff\xfe")
    assert code == 250 and "operator" in reply
    rows = _quarantine(gateway)
    assert len(rows) == 1 and rows[0]["reason"].startswith("cannot parse")
    wiring = gateway.gateway.wiring
    with pytest.raises(Refused):
        retry_quarantined(wiring.sessions, 999, wiring.intake, wiring.clock())
    outcome = retry_quarantined(wiring.sessions, rows[0]["id"], wiring.intake, wiring.clock())
    assert outcome.kind.value == "quarantined"
    assert _quarantine(gateway)[0]["attempts"] == 2


def _quarantine(gw):
    from gateway import views

    with gw.gateway.sessions() as s:
        return views.quarantine(s, everything=False)


@pytest.mark.writer_process
def test_database_failure_answers_451_and_keeps_nothing(gateway):
    """If the commit cannot happen the client gets 451 4.3.0, and nothing is half-stored."""
    send(gateway, mail())
    engine = gateway.gateway.engine
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE messages RENAME TO messages_away"))
    try:
        code, reply = send(gateway, mail(msgid="<while-broken@example.ru>", subject="другая"))
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE messages_away RENAME TO messages"))
    assert code == 451 and reply.startswith("4.3.0")
    with gateway.gateway.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1
        assert s.scalar(select(func.count()).select_from(RawMail)) == 1
    assert send(gateway, mail(msgid="<while-broken@example.ru>", subject="другая"))[0] == 250


def test_lmtp_answers_data_once_per_recipient(settings, clock):
    """LMTP (RFC 2033): one reply per accepted recipient, one effect for the mail."""
    with running_gateway(settings, clock, listen="lmtp://127.0.0.1:0") as gw:
        with smtplib.LMTP(gw.host, gw.port) as client:
            client.ehlo_or_helo_if_needed()
            client.mail("ivan@example.ru")
            assert client.rcpt(SUPPORT)[0] == 250
            assert client.rcpt("support+t1.x@example.com")[0] == 250
            assert client.rcpt("nobody@example.org")[0] == 550
            client.putcmd("data")
            assert client.getreply()[0] == 354
            client.send(wire(mail()) + b"\r\n.\r\n")
            first = client.getreply()
            second = client.getreply()
        assert first[0] == second[0] == 250
        assert len(tickets(gw)) == 1


def test_trace_explains_every_step(gateway):
    """ticket show carries a decision trace: how the mail was classified, identified, threaded."""
    send(gateway, mail())
    trace = show(gateway, 1)["messages"][0]["trace"]
    assert any("new ticket" in s for s in trace)
    assert any("ivan@example.ru" in s for s in trace)


def test_time_moves_without_sleeping(gateway, clock):
    """The gateway reads the injected clock: created_at is the frozen moment, not the wall."""
    start = clock()
    send(gateway, mail())
    clock.advance(timedelta(days=400))
    assert show(gateway, 1)["created_at"] == start.isoformat()
