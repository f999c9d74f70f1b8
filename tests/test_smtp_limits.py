"""Session limits over real sockets: one client cannot take the port (issue 14, item 4)."""

from __future__ import annotations

import logging
import smtplib
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from gateway.testing import RunningGateway, running_gateway
from tests.helpers import mail, send, until


def _connect(gw: RunningGateway) -> tuple[socket.socket, str]:
    """A raw connection and its first line (the banner, or a refusal)."""
    sock = socket.create_connection((gw.host, gw.port), timeout=10)
    return sock, sock.makefile("rb").readline().decode().strip()


@contextmanager
def _limited(settings, clock, **limits) -> Iterator[RunningGateway]:
    with running_gateway(settings, clock, **limits) as gw:
        yield gw


def test_sessions_per_client_address_are_capped_with_a_clear_421(settings, clock, caplog):
    """The third session from one address gets 421 4.7.0; one line in the log, no traceback."""
    caplog.set_level(logging.INFO)
    with _limited(settings, clock, smtp_max_sessions_per_address=2) as gw, ExitStack() as open_:
        for _ in range(2):
            sock, banner = _connect(gw)
            open_.callback(sock.close)
            assert banner.startswith("220 ")
        refusals = []
        for _ in range(5):
            sock, line = _connect(gw)
            sock.close()
            refusals.append(line)
        expected = "421 4.7.0 Too many connections from your address"
        assert all(r.startswith(expected) for r in refusals)
        open_.close()  # the two idle sessions end: the address may connect again
        assert until(lambda: send(gw, mail())[0] == 250)
        assert not [r for r in caplog.records if r.exc_info]
        limit_lines = [r for r in caplog.records if r.name == "gateway.smtp.limits"]
        assert len(limit_lines) == 1


def test_sessions_in_all_are_capped(settings, clock):
    """Beyond the total, a session is refused with 421 4.7.0 before any command."""
    limits = {"smtp_max_sessions": 3, "smtp_max_sessions_per_address": 0}
    with _limited(settings, clock, **limits) as gw, ExitStack() as open_:
        for _ in range(3):
            sock, banner = _connect(gw)
            open_.callback(sock.close)
            assert banner.startswith("220 ")
        sock, line = _connect(gw)
        sock.close()
        assert line.startswith("421 4.7.0 Too many connections to this server")


def test_noop_does_not_keep_an_idle_session_open(settings, clock):
    """A NOOP every little while cannot defeat the idle timeout: 421 4.4.2, then closed."""
    with _limited(settings, clock, smtp_idle_timeout_seconds=1) as gw:
        client = smtplib.SMTP(gw.host, gw.port, timeout=10)
        client.ehlo("client.example.ru")
        started, answers = time.monotonic(), []
        with pytest.raises(smtplib.SMTPServerDisconnected):
            while time.monotonic() - started < 10:
                answers.append(client.noop())
                time.sleep(0.2)  # the client's own pace, far below the timeout
        assert time.monotonic() - started < 5
        assert answers and answers[-1][0] in (250, 421)
        client.close()
