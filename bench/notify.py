"""Dispatcher throughput: outbox rows to a no-op aiosmtpd smarthost over a reused connection.

Issue 3's target: at least 300 notifications a second on this 2-core machine.
The outbox is filled first (the time to fill it is intake's cost, not the
dispatcher's); then the dispatcher drains it — claim, render both templates,
compose, send, mark — and the rate is rows sent over wall time. The smarthost
is aiosmtpd's own ``Sink`` in a child process, or Postfix's ``smtp-sink`` (C).

    .venv/bin/python bench/notify.py            # 5000 notifications
    .venv/bin/python bench/notify.py --quick    # 500
    .venv/bin/python bench/notify.py --smarthost smtp-sink
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from gateway.app.gateway import Gateway
from gateway.clock import FrozenClock
from gateway.config import load_settings
from gateway.outcome import Delivery
from gateway.store import db
from gateway.store.tables import Outbox
from gateway.testing import free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intake_mix import sink as no_op_server

ROOT = Path(__file__).resolve().parents[1]


def fill(gw: Gateway, customers: int, per_customer: int) -> None:
    """One ticket per customer (its 'created' row), then status mails to reach the count."""
    for n in range(customers):
        raw = (
            f"From: Клиент {n} <c{n}@example.net>\r\nTo: support@example.com\r\n"
            f"Subject: Не открывается сайт {n}\r\nMessage-ID: <bench{n}@example.net>\r\n\r\n"
            "Здравствуйте! После переноса сайт отдаёт 502. Помогите, пожалуйста.\r\n"
        ).encode()
        gw.ingest_now(Delivery(f"c{n}@example.net", ("support@example.com",), raw))
    assert gw.rules.notices is not None
    with db.transaction(gw.sessions) as session:
        for n in range(customers):
            for _ in range(per_customer - 1):
                gw.rules.notices.one(
                    session,
                    n + 1,
                    "status",
                    gw.clock(),
                    extra={"old_status": "awaiting_customer", "new_status": "awaiting_operator"},
                )


async def drain(gw: Gateway) -> tuple[int, float]:
    dispatcher = gw.make_dispatcher()
    started = time.perf_counter()
    sent = 0
    try:
        while claimed := await dispatcher.run_once():
            sent += claimed
    finally:
        await dispatcher.close()
    return sent, time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--smarthost",
        choices=("aiosmtpd", "smtp-sink"),
        default="aiosmtpd",
        help="the no-op smarthost: aiosmtpd's Sink, or Postfix's smtp-sink (apt install postfix)",
    )
    args = ap.parse_args()
    customers, per_customer = (100, 5) if args.quick else (500, 10)
    work = Path(tempfile.mkdtemp(prefix="helpdesk-bench-notify-"))
    port = free_port()
    sink = no_op_server(port, args.smarthost)
    try:
        settings = load_settings(
            environ={},
            data_dir=work,
            domain="example.com",
            smarthost=f"smtp://127.0.0.1:{port}",
            smarthost_starttls="no",
            auto_reply_limit=1_000_000,  # the bench mails each customer many times
        )
        gw = Gateway(settings, FrozenClock(datetime.now(UTC)))
        gw.init_database()
        t0 = time.perf_counter()
        fill(gw, customers, per_customer)
        filled = time.perf_counter() - t0
        sent, secs = asyncio.run(drain(gw))
        with gw.sessions() as session:
            states = dict(
                session.execute(select(Outbox.state, func.count()).group_by(Outbox.state)).all()
            )
        gw.close()
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(work, ignore_errors=True)
    rate = sent / secs
    print(f"outbox filled with {customers * per_customer} rows in {filled:.1f} s")
    print(f"dispatched {sent} notifications in {secs:.2f} s: {rate:.0f} mails/s")
    print(f"outbox states after: {states}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"notify{'-smtp-sink' if args.smarthost == 'smtp-sink' else ''}-{stamp}"
    (out / f"{name}{'-quick' if args.quick else ''}.json").write_text(
        json.dumps(
            {
                "when": stamp,
                "smarthost": args.smarthost,
                "sent": sent,
                "seconds": secs,
                "rate": rate,
                "states": states,
            }
        )
    )
    return 0 if states.get("sent") == customers * per_customer else 1


if __name__ == "__main__":
    sys.exit(main())
