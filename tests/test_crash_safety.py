"""Guarantee 1: killing the server mid-load loses no mail that got 250."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from gateway.store.tables import Message, RawMail
from gateway.testing import free_port, wait_for_banner
from tests.helpers import HELPDESK, SUPPORT, cli, kill_process_group, mail, wire


def _serve(env: dict[str, str]) -> subprocess.Popen:
    log = Path(env["HELPDESK_DATA_DIR"]).parent / "serve.log"
    with log.open("ab") as out:
        return subprocess.Popen(
            [*HELPDESK, "serve"], env=env, stdout=out, stderr=out, start_new_session=True
        )


@pytest.mark.slow
def test_sigkill_mid_load_loses_no_acknowledged_mail(tmp_path: Path, database_url: str):
    """Every Message-ID that got 250 before SIGKILL is in the database after it."""
    port = free_port()
    env = {
        **os.environ,
        "HELPDESK_DATA_DIR": str(tmp_path / "var"),
        "HELPDESK_DATABASE_URL": database_url,
        "HELPDESK_DOMAIN": "example.com",
        "HELPDESK_LISTEN": f"smtp://127.0.0.1:{port}",
        "HELPDESK_HTTP_LISTEN": "",
    }
    init = cli(env, "init")
    assert init.returncode == 0, init.stderr
    proc = _serve(env)
    wait_for_banner(port, proc)

    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            msgid = f"<crash-{n}-{i}@example.ru>"
            i += 1
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
                    c.sendmail("ivan@example.ru", [SUPPORT], wire(mail(msgid=msgid, body=f"#{i}")))
                with lock:
                    acknowledged.append(msgid)
            except (OSError, smtplib.SMTPException):
                if stop.is_set() or proc.poll() is not None:
                    return

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    kill_process_group(proc)  # its writer and render-pool children, orphaned by the kill
    stop.set()
    for t in threads:
        t.join(15)
    assert len(acknowledged) >= 60, "the load did not get going"

    engine = create_engine(database_url)
    with engine.connect() as conn:
        keys = set(conn.scalars(select(RawMail.idem_key)))
        stored = set(conn.scalars(select(Message.message_id)))
    engine.dispose()
    lost = [m for m in acknowledged if f"mid:{m}" not in keys or m not in stored]
    assert lost == [], f"{len(lost)} of {len(acknowledged)} acknowledged mails lost"

    # And the gateway starts again on the same database after the crash.
    proc = _serve(env)
    try:
        wait_for_banner(port, proc)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
            c.sendmail("ivan@example.ru", [SUPPORT], wire(mail(msgid="<after@example.ru>")))
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
