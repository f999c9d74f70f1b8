"""Hostile mail over real SMTP: one mail must not stall intake nor be refused for its shape
(issue 14, items 2, 3 and 11)."""

from __future__ import annotations

import json
import pickle
import socket
import subprocess
import sys

import pytest
from sqlalchemy import select

from gateway.outcome import Delivery, Origin, Trust
from gateway.store.tables import RawMail
from gateway.testing import running_gateway
from tests.helpers import SUPPORT, cli, mail, send, show, tickets, wire


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
    """A Russian mail in windows-1251 whose text part names no charset (the issue's case)."""
    line = "Здравствуйте, сайт не работает с утра, ошибка 502, помогите пожалуйста.\r\n"
    body = (line * (megabytes * (1 << 20) // len(line) + 1)).encode("cp1251")
    head = (  # multipart, so the parser reads all of it (a single part is read from 2 MiB)
        "From: ivan@example.ru\r\nTo: support@example.com\r\nSubject: big\r\n"
        "Message-ID: <big@example.ru>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        "Content-Type: text/plain\r\n\r\n"
    )
    return head.encode() + body + b"--b--\r\n"


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


def test_the_pipe_reads_a_mail_under_the_same_budget(cli_env):
    """Issue 14.3: ``helpdesk ingest`` quarantines a mail over the CPU budget and exits 0."""
    env = {**cli_env, "HELPDESK_INTAKE_CPU_BUDGET_SECONDS": "0.05"}
    envelope = ("--sender", "ivan@example.ru", "--recipient", "support@example.com")
    done = cli(env, "ingest", *envelope, stdin=_russian_without_charset(8))
    assert done.returncode == 0, done.stderr
    listed = cli(env, "quarantine", "list", "--json")
    assert b"over the intake budget" in listed.stdout


def test_data_read_in_chunks_keeps_dots_and_a_pipelined_command(gateway):
    """DATA in chunks: dot-stuffing undone exactly (RFC 5321 §4.5.2); QUIT sent with it is read."""
    body = "Строки с точками:\r\n.\r\n..двe\r\n.одна\r\nконец"
    stuffed = "\r\n".join("." + x if x.startswith(".") else x for x in body.split("\r\n"))
    head = "From: ivan@example.ru\r\nSubject: dots\r\nContent-Type: text/plain; charset=utf-8\r\n"
    with socket.create_connection((gateway.host, gateway.port), timeout=10) as sock:
        replies = sock.makefile("rb")
        assert replies.readline().startswith(b"220")
        envelope = ("MAIL FROM:<ivan@example.ru>", "RCPT TO:<support@example.com>", "DATA")
        for command in ("EHLO x.example", *envelope):
            sock.sendall(command.encode() + b"\r\n")
            while replies.readline()[3:4] == b"-":
                pass
        sock.sendall((head + "\r\n" + stuffed + "\r\n.\r\nQUIT\r\n").encode())
        assert replies.readline().startswith(b"250 2.0.0 Stored")
        assert replies.readline().startswith(b"221")
    assert show(gateway, 1)["messages"][0]["text"] == body.replace("\r\n", "\n")


_GROUP = """
import json, pickle, sys
from gateway.intake.budget import prepare_all
group, cpu, memory = pickle.load(sys.stdin.buffer)
out = prepare_all(group, cpu, memory)
print(json.dumps([[p.parsed.subject if p.parsed else None, p.parse_error] for p in out]))
"""


@pytest.mark.parametrize(
    ("cpu", "memory", "reason"), [(0.05, 1024, "s of CPU"), (10.0, 16, "MiB of memory")]
)
def test_one_mail_over_the_budget_in_a_group_leaves_its_neighbours_read(cpu, memory, reason):
    """The writer reads a group under one memory window and a CPU timer per mail: the
    mail over the budget is quarantined, the ones before and after it are read. In a
    fresh interpreter, as the writer child is: what a long test run has mapped already
    would hide the memory budget."""
    group = [
        Delivery("a@example.ru", (SUPPORT,), wire(mail(subject="До")), Origin.SMTP, Trust.CLAIM),
        Delivery("b@example.ru", (SUPPORT,), _russian_without_charset(8), Origin.SMTP, Trust.CLAIM),
        Delivery("c@example.ru", (SUPPORT,), wire(mail(subject="После")), Origin.SMTP, Trust.CLAIM),
    ]
    done = subprocess.run(
        [sys.executable, "-c", _GROUP],
        input=pickle.dumps((group, cpu, memory)),
        capture_output=True,
        check=True,
    )
    (before, _), (heavy, why), (after, _) = json.loads(done.stdout)
    assert (before, heavy, after) == ("До", None, "После")
    assert reason in why
