"""Hostile mail over real SMTP: one mail must not stall intake nor be refused for its shape
(issue 14, items 2, 3 and 11)."""

from __future__ import annotations

from tests.helpers import mail, send, show, wire


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
