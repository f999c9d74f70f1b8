"""Mail to a smarthost that offers PIPELINING: MAIL, RCPT and DATA in one write (issue 16).

Each test is a real SMTP session with an aiosmtpd smarthost that says PIPELINING
in its EHLO, as Postfix, Exim and Sendmail do; ``data_with_rcpt`` counts the RCPTs
whose DATA had already arrived with them, which only a pipelining client makes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from gateway.notify.senders import (
    PermanentFailure,
    SmtpSender,
    TemporaryFailure,
)
from gateway.testing import RecordingSMTP, free_port, wait_for_banner

FROM = "bounces@example.com"


def _mail(n: int) -> bytes:
    return f"Subject: mail {n}\r\nMessage-ID: <{n}@example.com>\r\n\r\nТекст {n}\r\n".encode()


def _port(server: RecordingSMTP) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _run(server: RecordingSMTP, steps, timeout: float = 30) -> list[str]:
    """Send through one SmtpSender; each step's outcome: "sent" or the failure's class."""

    async def go() -> list[str]:
        sender = SmtpSender("127.0.0.1", _port(server), starttls=False, timeout=timeout)
        out = []
        for step in steps:
            try:
                await step(sender)
                out.append("sent")
            except (TemporaryFailure, PermanentFailure) as exc:
                out.append(type(exc).__name__)
        await sender.close()
        return out

    return asyncio.run(go())


def _send(n: int, to: str = "ivan@example.ru"):
    return lambda sender: sender.send(FROM, to, _mail(n))


@pytest.mark.parametrize("offered", [True, False], ids=["pipelining", "one-by-one"])
def test_mails_arrive_whole_on_one_connection_pipelined_when_offered(offered):
    with RecordingSMTP(pipelining=offered) as server:
        assert _run(server, [_send(n) for n in range(3)]) == ["sent"] * 3
        got = server.wait_for(3)
    assert [m.data for m in got] == [_mail(n) for n in range(3)]
    assert [m.rcpt_tos for m in got] == [["ivan@example.ru"]] * 3
    assert len(server.ehlo_names) == 1 and server.quits == 1  # one connection, closed politely
    assert server.data_with_rcpt == (3 if offered else 0)


def test_refusals_keep_the_pipelined_connection_in_step():
    """A refused recipient, a busy server and a rejected body each fail their own mail
    only: the next mail on the same connection arrives as it was written."""
    with RecordingSMTP() as server:
        server.refuse_rcpt["dead@example.ru"] = "550 5.1.1 no such mailbox"
        server.refuse[:] = ["451 4.3.0 busy", "554 5.6.0 rejected"]
        outcomes = _run(
            server,
            [_send(0, "dead@example.ru"), _send(1), _send(2), _send(3), _send(4)],
        )
        got = server.wait_for(2)
    assert outcomes == ["RecipientRefused", "TemporaryFailure", "PermanentFailure", "sent", "sent"]
    assert len(server.ehlo_names) == 1  # all on the connection the first one opened
    assert [m.data for m in got] == [_mail(3), _mail(4)]


def test_a_450_at_rcpt_is_temporary_not_a_dead_address():
    with RecordingSMTP() as server:
        server.refuse_rcpt["full@example.ru"] = "450 4.2.2 mailbox full"
        outcomes = _run(server, [_send(0, "full@example.ru"), _send(1)])
    assert outcomes == ["TemporaryFailure", "sent"]


def test_a_smarthost_that_restarts_costs_no_mail():
    """The smarthost closes the connection between two mails (a restart): the next mail
    goes on a new connection."""
    with RecordingSMTP() as server:

        async def restart(sender: SmtpSender) -> None:
            await asyncio.to_thread(server.drop_connections)
            await asyncio.sleep(0.1)  # the closed connection is noticed on the loop's turn

        outcomes = _run(server, [_send(0), restart, _send(1)])
        got = server.wait_for(2)
    assert outcomes == ["sent", "sent", "sent"]
    assert [m.data for m in got] == [_mail(0), _mail(1)]
    assert len(server.ehlo_names) == 2


def test_an_address_pipelining_cannot_carry_goes_the_library_way():
    """A quoted local part needs the library's quoting: that mail takes a connection of
    aiosmtplib's own, and the next plain one is pipelined again."""
    quoted = '"ivan petrov"@example.ru'
    with RecordingSMTP() as server:
        assert _run(server, [_send(0), _send(1, quoted), _send(2)]) == ["sent"] * 3
        got = server.wait_for(3)
    assert [m.rcpt_tos for m in got] == [["ivan@example.ru"], [quoted], ["ivan@example.ru"]]
    assert server.data_with_rcpt == 2


def test_a_smarthost_that_stops_answering_is_left_and_the_next_mail_reconnects():
    """No answer to the data within the timeout: the mail is tried again later (at worst
    a second copy with the same Message-ID), and that connection is not used again."""
    slow = {0}

    def stall(got) -> None:
        if b"mail 0" in got.data and slow:
            slow.clear()
            time.sleep(1.0)

    with RecordingSMTP(on_mail=stall) as server:
        outcomes = _run(server, [_send(0), _send(1)], timeout=0.3)
        server.wait_for(2)
    assert outcomes == ["TemporaryFailure", "sent"]
    assert len(server.ehlo_names) == 2


SMTP_SINK = Path("/usr/sbin/smtp-sink")


def test_postfix_smtp_sink_takes_pipelined_mail_as_written(tmp_path):
    """Postfix's own SMTP server code (``smtp-sink`` answers pipelined commands in one
    packet, as Postfix's smtpd does) gets every mail whole: envelope, headers, dots."""
    if not SMTP_SINK.exists():
        if os.environ.get("HELPDESK_REQUIRE_POSTFIX") == "1":
            pytest.fail(f"HELPDESK_REQUIRE_POSTFIX=1 but {SMTP_SINK} is absent")
        pytest.skip(f"{SMTP_SINK} is absent (apt-get install postfix)")
    dumps = Path(tempfile.mkdtemp(prefix="sink-"))  # smtp-sink writes as nobody
    dumps.chmod(0o777)
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    sink = subprocess.Popen([SMTP_SINK, *user, "-d", f"{dumps}/%M.", f"127.0.0.1:{port}", "16"])
    try:
        wait_for_banner(port, sink)

        async def twenty() -> bool:
            sender = SmtpSender("127.0.0.1", port, starttls=False)
            await sender.send(FROM, "user0@example.ru", _mail(0) + b".dot\r\n")
            rest = [(FROM, f"user{n}@example.ru", _mail(n) + b".dot\r\n") for n in range(1, 20)]
            assert await sender.send_many(rest) == [None] * 19  # each body with the next MAIL
            pipelined = sender._pipe is not None
            await sender.close()
            return pipelined

        assert asyncio.run(twenty())
        deadline = time.monotonic() + 10
        while len(list(dumps.iterdir())) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        got = sorted(p.read_bytes() for p in dumps.iterdir())
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(dumps, ignore_errors=True)
    assert len(got) == 20
    for n in range(20):
        (dump,) = [d for d in got if f"Subject: mail {n}\n".encode() in d]
        assert f"X-Rcpt-Args: <user{n}@example.ru>\n".encode() in dump
        written = (_mail(n) + b".dot\r\n").replace(b"\r\n", b"\n")
        assert dump.endswith(written + b"\n")  # the dump ends a transaction with a blank line


def _many(server: RecordingSMTP, mails: list[tuple[str, str, bytes]]) -> list[str]:
    async def go() -> list[str]:
        sender = SmtpSender("127.0.0.1", _port(server), starttls=False)
        fates = await sender.send_many(mails)
        await sender.close()
        return ["sent" if f is None else type(f).__name__ for f in fates]

    return asyncio.run(go())


def test_a_batch_sends_each_body_with_the_next_envelope_and_judges_each_mail():
    """A delivery worker's share goes out as one pipelined run: each body is written
    with the next mail's MAIL, RCPT and DATA. A refusal in the middle fails that mail
    only, and the mails around it arrive whole."""
    batch = [(FROM, "ivan@example.ru", _mail(n)) for n in range(6)]
    batch[2] = (FROM, "dead@example.ru", _mail(2))
    with RecordingSMTP() as server:
        server.refuse_rcpt["dead@example.ru"] = "550 5.1.1 no such mailbox"
        server.refuse[:] = ["451 4.3.0 busy"]  # the first body: mail 0
        outcomes = _many(server, batch)
        got = server.wait_for(4)
    assert outcomes == ["TemporaryFailure", "sent", "RecipientRefused", "sent", "sent", "sent"]
    assert [m.data for m in got] == [_mail(n) for n in (1, 3, 4, 5)]
    assert len(server.ehlo_names) == 1 and server.quits == 1
    assert server.next_with_data == 4  # each body but the last went with the next envelope


def test_a_batch_to_a_smarthost_without_pipelining_goes_one_by_one():
    batch = [(FROM, "ivan@example.ru", _mail(n)) for n in range(3)]
    with RecordingSMTP(pipelining=False) as server:
        assert _many(server, batch) == ["sent"] * 3
        got = server.wait_for(3)
    assert [m.data for m in got] == [_mail(n) for n in range(3)]
    assert server.next_with_data == 0 and server.data_with_rcpt == 0
