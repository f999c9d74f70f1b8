"""Trust and abuse over real SMTP sessions (issue 14, items 8-10)."""

from __future__ import annotations

import base64
import smtplib

from sqlalchemy import func, select

from gateway.store.tables import RawMail
from gateway.testing import running_gateway
from tests.helpers import mail, send, show, wire


def _raw_count(gw) -> int:
    with gw.gateway.sessions() as s:
        return s.scalar(select(func.count()).select_from(RawMail))


def test_another_senders_mail_with_a_taken_message_id_is_stored_and_flagged(gateway):
    """Issue 14.8: the first sender of a Message-ID cannot pre-empt someone else's mail."""
    ivan = mail(msgid="<same@example.ru>")
    petr = mail(
        subject="Счёт не пришёл",
        body="Добрый день, не пришёл счёт за ноябрь.",
        sender="petr@example.org",
        msgid="<same@example.ru>",
    )
    assert send(gateway, ivan)[0] == 250
    code, text = send(gateway, petr, sender="petr@example.org")
    assert (code, text.split(":")[0]) == (250, "2.0.0 Stored"), text
    (message,) = show(gateway, 2)["messages"]
    assert message["text"].startswith("Добрый день") and "reused_id" in message["flags"]
    assert show(gateway, 1)["messages"][0]["flags"] == []
    for again, sender in ((petr, "petr@example.org"), (ivan, "ivan@example.ru")):
        code, text = send(gateway, again, sender=sender)  # retries: still one effect each
        assert (code, text.split(":")[0]) == (250, "2.0.0 Already stored, nothing changed")
    assert _raw_count(gateway) == 2


def test_postmaster_is_accepted_bare_and_at_our_domain(gateway):
    """Issue 14.10: RFC 5321 §4.5.1 — mail to postmaster is taken, not refused with 550."""
    for rcpt in ("postmaster@example.com", "Postmaster"):
        code, text = send(gateway, mail(to=rcpt), rcpts=(rcpt,))
        assert code == 250, text


def test_the_customers_port_offers_no_auth_and_no_starttls(gateway):
    """Issue 14.10: port 25 neither advertises AUTH nor points to a STARTTLS it lacks."""
    with smtplib.SMTP(gateway.host, gateway.port, timeout=10) as client:
        code, features = client.ehlo("client.example.ru")
        assert code == 250 and b"AUTH" not in features and b"STARTTLS" not in features
        code, text = client.docmd("AUTH", "PLAIN AGl2YW4Ac2VjcmV0")
        assert (code, text.decode()[:5]) == (502, "5.5.1") and b"STARTTLS" not in text
        assert client.docmd("STARTTLS")[0] == 502


def test_recipients_per_mail_are_capped(settings, clock):
    """Issue 14.10: RCPT beyond the limit gets 452 4.5.3; the mail goes to the ones taken."""
    with (
        running_gateway(settings, clock, smtp_max_recipients=3) as gw,
        smtplib.SMTP(gw.host, gw.port, timeout=10) as client,
    ):
        client.ehlo("client.example.ru")
        client.mail("ivan@example.ru")
        codes = [client.rcpt(f"support+{i}@example.com")[0] for i in range(4)]
        assert codes == [250, 250, 250, 452]
        assert client.data(wire(mail()))[0] == 250


def test_a_nul_in_mail_from_gets_one_clear_refusal(gateway):
    """Issue 14.10: NUL in MAIL FROM is 553 5.1.7 on every backend, not 451 for ever."""
    with smtplib.SMTP(gateway.host, gateway.port, timeout=10) as client:
        client.ehlo("client.example.ru")
        code, text = client.mail("iv\x00an@example.ru")
        assert (code, text.decode()[:5]) == (553, "5.1.7")


def test_a_nul_in_the_content_makes_the_same_ticket_on_every_backend(gateway):
    """Issue 14.10: a NUL in the body or subject is dropped from the text: a ticket, always."""
    subject = "=?utf-8?b?" + base64.b64encode("Сайт\x00 лежит".encode()).decode() + "?="
    raw = wire(mail(subject="placeholder", body="Ошибка 502"))
    raw = raw.replace(b"placeholder", subject.encode())
    raw = raw.replace("Ошибка 502".encode(), "Ошибка\x00 502".encode())
    code, text = send(gateway, raw)
    assert (code, text.split(":")[0]) == (250, "2.0.0 Stored"), text
    ticket = show(gateway, 1)
    assert ticket["subject"] == "Сайт лежит"
    assert ticket["messages"][0]["text"].startswith("Ошибка 502")
