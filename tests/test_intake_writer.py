"""The intake writer runs in a child process; losing it must not lose or wrongly accept mail."""

from __future__ import annotations

import logging
import os
import signal
import time

import pytest
from sqlalchemy import func, select

from gateway.store.tables import Message, RawMail
from gateway.testing import RunningGateway, running_gateway
from tests.helpers import mail, send, tickets, until


def _stored_ids(gw: RunningGateway) -> set[str]:
    with gw.gateway.sessions() as s:
        return set(s.scalars(select(Message.message_id)))


@pytest.mark.writer_process
def test_killed_writer_defers_then_a_new_one_takes_over(gateway: RunningGateway) -> None:
    """After SIGKILL of the writer, mail gets 451 (never a false 250) until a new writer runs."""
    assert send(gateway, mail(msgid="<before@example.ru>"))[0] == 250
    old = gateway.gateway.writer_pid
    assert old is not None
    os.kill(old, signal.SIGKILL)

    answers: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        code, _ = send(gateway, mail(msgid="<after@example.ru>", subject="после сбоя"))
        answers.append(code)
        if code == 250:
            break
        time.sleep(0.2)
    assert answers[-1] == 250, f"no new writer took over: {answers}"
    assert set(answers) <= {250, 451}
    assert gateway.gateway.writer_pid not in (None, old)
    assert {"<before@example.ru>", "<after@example.ru>"} <= _stored_ids(gateway)
    with gateway.gateway.sessions() as s:
        assert s.scalar(select(func.count()).select_from(RawMail)) == 2


def test_thread_writer_stores_mail_the_same_way(settings, clock) -> None:
    """HELPDESK_INTAKE_WRITER=thread: the in-process writer gives the same result."""
    with running_gateway(settings, clock, intake_writer="thread") as gw:
        assert gw.gateway.writer_pid is None
        assert send(gw, mail(msgid="<thread@example.ru>"))[0] == 250
        assert send(gw, mail(msgid="<thread@example.ru>"))[0] == 250  # idempotent
        (ticket,) = tickets(gw)
        assert ticket["status"] == "awaiting_operator"
        assert _stored_ids(gw) == {"<thread@example.ru>"}


def _kill_next_writer(gw: RunningGateway, old: int) -> int:
    """Wait for the writer that replaces ``old`` to be spawned and kill it while it starts."""
    assert until(lambda: gw.gateway.writer_pid not in (None, old), timeout=30)
    pid = gw.gateway.writer_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return pid


@pytest.mark.writer_process
def test_a_writer_killed_while_starting_is_restarted_until_one_runs(
    gateway: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 14.1: failed restarts are retried forever with backoff; one log line per state."""
    caplog.set_level(logging.INFO, logger="gateway.writer")
    gw = gateway.gateway
    assert gw.writer_state == "running" and gw.writer_restarts == 0
    pid = gw.writer_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    for _ in range(3):  # every new writer dies while it starts (PostgreSQL away, OOM killer…)
        pid = _kill_next_writer(gateway, pid)
        assert until(lambda: gw.writer_state == "down")
    assert send(gateway, mail(msgid="<while-down@example.ru>"))[0] == 451
    assert until(lambda: gw.writer_state == "running", timeout=30), gw.writer_state
    assert gw.writer_restarts == 1
    assert send(gateway, mail(msgid="<after-down@example.ru>"))[0] == 250
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.writer"]
    assert sum("exited with" in line for line in lines) == 1, lines
    assert sum("cannot start" in line for line in lines) == 1, lines
    assert sum("running again" in line for line in lines) == 1, lines
