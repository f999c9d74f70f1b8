"""The rules on a timer inside ``helpdesk serve`` (gateway.schedule, APScheduler 3).

The sweep's rules are tested in test_sweep; here: that serve really runs
them by itself, on the intervals the settings give, with the injected clock,
and stops cleanly while a job may be running.
"""

from __future__ import annotations

from datetime import timedelta

from gateway.clock import FrozenClock
from gateway.testing import RunningGateway, running_gateway
from tests.helpers import mail, send, show, until

FAST = {
    "auto_close_interval_seconds": 1,
    "remind_interval_seconds": 1,
    "reopen_interval_seconds": 1,
    "escalate_interval_seconds": 1,
    "dedup_interval_seconds": 1,
}


def _awaiting_customer(gw: RunningGateway) -> int:
    gw.gateway.wiring.desk.add_operator("Анна", "anna@example.com", None)
    code, _ = send(gw, mail())
    assert code == 250
    gw.gateway.wiring.desk.act(1, "Анна", "reply", text="Проверьте, пожалуйста.")
    assert show(gw, 1)["status"] == "awaiting_customer"
    return 1


def test_serve_auto_closes_on_its_own_when_the_clock_passes_30_days(settings, clock: FrozenClock):
    """No one runs `sweep`: serve's scheduler closes the ticket once 30 days have passed."""
    with running_gateway(settings, clock, **FAST) as gw:
        number = _awaiting_customer(gw)
        scheduler = gw.gateway.scheduler
        assert scheduler is not None
        # Two more auto-close runs at day 0 (the second began after the reply): nothing is due.
        runs = scheduler.runs["auto_close"]
        assert until(lambda: scheduler.runs["auto_close"] >= runs + 2)
        assert show(gw, number)["status"] == "awaiting_customer"
        clock.advance(days=31)
        assert until(lambda: show(gw, number)["status"] == "closed_no_reply")
        events = show(gw, number)["events"]
        closes = [e for e in events if e["to"] == "closed_no_reply"]
        assert len(closes) == 1 and closes[0]["actor"] == "system:scheduler"
        assert gw.gateway.scheduler is not None
        assert all(n >= 1 for n in gw.gateway.scheduler.runs.values())


def test_the_intervals_are_settings(settings, clock: FrozenClock):
    """With an hour between auto-close runs, a ticket due after start waits for the next run."""
    slow = {**FAST, "auto_close_interval_seconds": 3600}
    with running_gateway(settings, clock, **slow) as gw:
        number = _awaiting_customer(gw)
        assert until(lambda: gw.gateway.scheduler.runs["auto_close"] >= 1)  # the run at start
        clock.advance(days=31)
        assert until(lambda: gw.gateway.scheduler.runs["remind"] >= 3)  # other jobs tick on
        assert show(gw, number)["status"] == "awaiting_customer"


def test_serve_stops_cleanly_with_the_scheduler_running(settings, clock: FrozenClock):
    """SIGTERM-like stop while jobs tick: no error, the loop and the scheduler end."""
    gw = running_gateway(settings, clock, **FAST)
    with gw as running:
        _awaiting_customer(running)
        clock.advance(timedelta(days=31))
        assert until(lambda: show(running, 1)["status"] == "closed_no_reply")
        assert running.gateway.scheduler is not None and running.gateway.scheduler.running
    assert not running.gateway.scheduler.running  # stop() raised nothing and left no job
