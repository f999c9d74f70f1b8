"""``GET /healthz`` and ``GET /metrics`` for the sysadmin (issue 14, item 17): on the page's
listener of a running gateway, and their failing answers from a real database that is
away or a notification that waits too long."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import smtplib
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from gateway.app.pipe import ingest_once
from gateway.app.wiring import Wiring
from gateway.clock import FrozenClock
from gateway.config import Settings
from gateway.outcome import Delivery, Origin, OutcomeKind, Tally
from gateway.testing import running_gateway
from gateway.web import monitoring
from tests.helpers import mail, send, until
from tests.web.conftest import Web, web_settings


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of a Prometheus exposition, None when absent."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(f"{name}{{{want}}}" if want else name) + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else None


def test_healthz_and_metrics_on_the_page_listener(web: Web):
    """A healthy gateway answers 200; /metrics counts stored and refused mails, tickets by
    status, pending notifications and the scheduled jobs' runs, in Prometheus format."""
    client = web.client()
    health = client.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok" and health.json()["database"] == "ok"
    assert health.json()["writer"] == "running"
    assert send(web.gw, mail())[0] == 250
    with smtplib.SMTP(web.gw.host, web.gw.port, timeout=30) as smtp:
        smtp.ehlo("client.example.ru")
        smtp.mail("ivan@example.ru")
        assert smtp.rcpt("nobody@example.com")[0] == 550
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.text
    assert _sample(text, "helpdesk_mails_total", result="accepted", reason="stored") == 1
    assert _sample(text, "helpdesk_mails_total", result="refused", reason="unknown_recipient") == 1
    assert _sample(text, "helpdesk_mails_total", result="deferred", reason="deferred") == 0
    assert _sample(text, "helpdesk_tickets", status="awaiting_operator") == 1
    assert _sample(text, "helpdesk_database_up") == 1
    assert _sample(text, "helpdesk_writer_up") == 1
    assert _sample(text, "helpdesk_writer_restarts_total") == 0
    assert _sample(text, "helpdesk_outbox_notifications", state="failed") == 0
    assert "# TYPE helpdesk_mails_total counter" in text
    assert until(
        lambda: (
            (_sample(client.get("/metrics").text, "helpdesk_sweep_runs_total", job="dedup") or 0)
            >= 1
        )
    )
    assert _sample(client.get("/metrics").text, "helpdesk_sweep_seconds_total", job="dedup") > 0


def test_monitoring_can_be_turned_off(settings: Settings, clock: FrozenClock):
    """HELPDESK_HTTP_MONITORING=false: both answer 404 like any unknown page."""
    off = web_settings(settings, http_monitoring=False)
    with running_gateway(off, clock) as gw:
        host, port = gw.gateway.http_bound
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=30) as client:
            assert client.get("/healthz").status_code == 404
            assert client.get("/metrics").status_code == 404


def _get(probe: monitoring.Probe, path: str) -> httpx.Response:
    """The monitoring routes alone, served in-process (ASGI) to one request."""
    app = Starlette(routes=monitoring.routes(probe))

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    return asyncio.run(fetch())


@pytest.fixture
def wiring(settings: Settings, clock: FrozenClock):
    w = Wiring(settings, clock)
    w.init_database()
    try:
        yield w
    finally:
        w.close()


def _probe(w: Wiring, clock: FrozenClock, writer=("running", 0)) -> monitoring.Probe:
    return monitoring.Probe(
        sessions=w.sessions,
        clock=clock,
        tally=Tally(),
        writer=lambda: writer,
        sweeps=dict,
        outbox_max_age=timedelta(seconds=w.settings.health_outbox_seconds),
    )


def test_healthz_is_503_when_a_due_notification_waits_too_long(wiring, clock):
    """No dispatcher sends the 'created' notice: past health_outbox_seconds, /healthz fails."""
    outcome = ingest_once(
        wiring,
        Delivery("ivan@example.ru", ("support@example.com",), mail().as_bytes(), Origin.PIPE),
    )
    assert outcome.kind is OutcomeKind.STORED
    probe = _probe(wiring, clock)
    assert _get(probe, "/healthz").status_code == 200
    clock.advance(seconds=wiring.settings.health_outbox_seconds + 60)
    late = _get(probe, "/healthz")
    assert late.status_code == 503 and "outbox" in late.json()["status"]
    assert late.json()["outbox_due_age_seconds"] > wiring.settings.health_outbox_seconds
    text = _get(probe, "/metrics").text
    assert _sample(text, "helpdesk_outbox_notifications", state="pending") >= 1
    age = _sample(text, "helpdesk_outbox_oldest_pending_age_seconds")
    assert age is not None and age > wiring.settings.health_outbox_seconds


def test_healthz_is_503_when_the_database_is_away_or_the_writer_restarts(wiring, clock):
    """A database that refuses connections, or a writer not running: 503 naming the check."""
    away = Wiring(
        replace(wiring.settings, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"),
        clock,
    )
    try:
        answer = _get(_probe(away, clock), "/healthz")
        assert answer.status_code == 503 and "database" in answer.json()["status"]
        assert _sample(_get(_probe(away, clock), "/metrics").text, "helpdesk_database_up") == 0
    finally:
        away.close()
    restarting = _probe(wiring, clock, writer=("restarting", 3))
    answer = _get(restarting, "/healthz")
    assert answer.status_code == 503 and "writer" in answer.json()["status"]
    text = _get(restarting, "/metrics").text
    assert _sample(text, "helpdesk_writer_up") == 0
    assert _sample(text, "helpdesk_writer_restarts_total") == 3


@pytest.mark.writer_process
def test_a_killed_writer_shows_in_health_and_metrics(web: Web):
    """The writer child killed: serve starts another, and /healthz and /metrics count the
    restart (the gateway's own writer_state and writer_restarts, read live)."""
    client = web.client()
    assert client.get("/healthz").json()["writer"] == "running"
    pid = web.gw.gateway.writer_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)

    def restarted() -> bool:
        health = client.get("/healthz")
        return health.status_code == 200 and health.json()["writer_restarts"] >= 1

    assert until(restarted, 60), client.get("/healthz").text
    text = client.get("/metrics").text
    assert _sample(text, "helpdesk_writer_restarts_total") >= 1
    assert _sample(text, "helpdesk_writer_up") == 1
