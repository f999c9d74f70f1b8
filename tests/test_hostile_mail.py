"""Hostile mail over real SMTP: one mail must not stall intake nor be refused for its shape
(issue 14, items 2, 3 and 11)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.store.tables import RawMail
from gateway.testing import running_gateway
from tests.helpers import mail, send, show, tickets, wire


def test_a_reply_with_a_huge_references_header_threads_into_its_ticket(gateway):
    """Issue 14.2: 30,000 References still thread by the nearest id, and intake goes on."""
    assert send(gateway, mail(msgid="<first@example.ru>"))[0] == 250
    refs = "\r\n ".join([f"<old{i}@example.ru>" for i in range(30_000)] + ["<first@example.ru>"])
    reply = wire(mail(subject="Re: сайт", body="Всё ещё 502", msgid="<reply@example.ru>"))
    head, _, body = reply.partition(b"\r\n\r\n")
    reply = head + b"\r\nReferences: " + refs.encode() + b"\r\n\r\n" + body
    code, text = send(gateway, reply)
    assert code == 250, text
    assert [m["text"] for m in show(gateway, 1)["messages"]][-1].startswith("Всё ещё 502")
    assert send(gateway, mail(subject="Другая заявка", body="другое"))[0] == 250


def _russian_without_charset(megabytes: int) -> bytes:
    """A plain-text Russian mail in windows-1251 that names no charset (the issue's case)."""
    line = "Здравствуйте, сайт не работает с утра, ошибка 502, помогите пожалуйста.\r\n"
    body = (line * (megabytes * (1 << 20) // len(line) + 1)).encode("cp1251")
    head = (
        "From: ivan@example.ru\r\nTo: support@example.com\r\nSubject: big\r\n"
        "Message-ID: <big@example.ru>\r\nContent-Type: text/plain\r\n\r\n"
    )
    return head.encode() + body


def _quarantined(gw) -> list[str]:
    with gw.gateway.sessions() as s:
        rows = s.scalars(select(RawMail).where(RawMail.state == "quarantined")).all()
        return [r.error or "" for r in rows]


@pytest.mark.writer_process
@pytest.mark.parametrize(
    ("budget", "reason"),
    [
        ({"intake_cpu_budget_seconds": 0.05}, "s of CPU"),
        ({"intake_memory_budget_mb": 16}, "MiB of memory"),
    ],
)
def test_a_mail_over_the_intake_budget_is_quarantined_and_intake_goes_on(
    settings, clock, budget, reason
):
    """Issue 14.3: a mail over the CPU or memory budget is kept in quarantine with the reason."""
    with running_gateway(settings, clock, **budget) as gw:
        code, text = send(gw, _russian_without_charset(8))
        assert code == 250, text
        assert "quarantine" in text
        (error,) = _quarantined(gw)
        assert "over the intake budget" in error and reason in error
        assert send(gw, mail(subject="Обычное письмо"))[0] == 250
        assert [t["subject"] for t in tickets(gw)] == ["Обычное письмо"]


def test_a_big_russian_mail_without_charset_is_read_from_a_sample(gateway):
    """Issue 14.3: 8 MB of undeclared windows-1251 becomes a readable (cut) ticket text."""
    code, text = send(gateway, _russian_without_charset(8))
    assert code == 250, text
    (message,) = show(gateway, 1)["messages"]
    assert message["text"].startswith("Здравствуйте, сайт не работает")
    assert len(message["text"]) <= 1 << 20


def test_a_line_of_64_kib_in_data_is_accepted(gateway):
    """Issue 14.11: real mail with a line far over 1,000 octets is stored, not refused for good."""
    long_line = ("Лог: " + "x" * 65_000).encode()
    raw = wire(mail(msgid="<long@example.ru>")).replace(
        b"\r\n\r\n", b"\r\n\r\n" + long_line + b"\r\n", 1
    )
    assert max(len(line) for line in raw.split(b"\r\n")) > 64_000
    code, text = send(gateway, raw)
    assert code == 250, text
    assert "x" * 1000 in show(gateway, 1)["messages"][0]["text"]
