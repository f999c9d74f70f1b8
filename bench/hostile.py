"""Hostile mail and idle connections beside ordinary intake (issue 14, "Done means").

Runs a real ``helpdesk serve`` (intake writer in its child process) on a fresh
SQLite database (or ``--database-url``) and measures the rate of ordinary mail
(one mail a session, from 127.0.0.1) twice: alone, then beside

* 300 idle connections held open from 15 other loopback addresses
  (127.0.0.2-16, 20 each: the per-address limit), re-opened when closed;
* the 150,000-References mail (4.1 MB), once (``--flood``: again and again);
* a 21 MB Russian text in windows-1251 that names no charset, once (or again and again).

``--flood`` measures what a stream of 25 MB of hostile mail every two seconds
costs: receiving it is work the single SMTP core cannot share.

It reports both rates, their ratio (target ≥ 0.8), the answers and times of
the hostile mails, and the peak RSS of serve and of the writer (target
< 300 MB each), sampled from /proc every 0.2 s.

    nice .venv/bin/python bench/hostile.py [--seconds 20] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from email.utils import make_msgid
from pathlib import Path

from gateway.testing import free_port, wait_for_banner

SUPPORT = "support@example.com"
IDLE_ADDRESSES = [f"127.0.0.{n}" for n in range(2, 17)]


def ordinary(n: int) -> bytes:
    return (
        f"From: c{n % 50}@example.ru\r\nTo: {SUPPORT}\r\nSubject: Заявка {n}\r\n"
        f"Message-ID: {make_msgid(domain='example.ru')}\r\nContent-Type: text/plain; "
        f"charset=utf-8\r\n\r\nСайт {n} отдаёт 502 с утра, помогите.\r\n"
    ).encode()


def many_references() -> bytes:
    refs = "\r\n ".join(f"<ref{i}.{'x' * 8}@mail.example.ru>" for i in range(150_000))
    return (
        f"From: ivan@example.ru\r\nTo: {SUPPORT}\r\nSubject: Re: refs\r\n"
        f"Message-ID: {make_msgid(domain='example.ru')}\r\nReferences: {refs}\r\n\r\nтекст\r\n"
    ).encode()


def russian_no_charset(megabytes: int = 21) -> bytes:
    line = "Здравствуйте, сайт не работает с утра, ошибка 502, помогите пожалуйста.\r\n"
    body = (line * (megabytes * (1 << 20) // len(line))).encode("cp1251")
    head = (
        f"From: petr@example.ru\r\nTo: {SUPPORT}\r\nSubject: big\r\n"
        f"Message-ID: {make_msgid(domain='example.ru')}\r\n\r\n"
    )
    return head.encode() + body


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Peaks(threading.Thread):
    def __init__(self, serve: int) -> None:
        super().__init__(daemon=True)
        self.serve, self.peak = serve, {"serve": 0.0, "writer": 0.0}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.peak["serve"] = max(self.peak["serve"], rss_mb(self.serve))
            for child in children(self.serve):
                self.peak["writer"] = max(self.peak["writer"], rss_mb(child))


def send(port: int, data: bytes, sender: str = "c@example.ru", timeout: float = 120) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as c:
        return (c.sendmail(sender, [SUPPORT], data) and 0) or 250


def ordinary_load(port: int, seconds: float, clients: int = 4) -> float:
    """Mails stored per second with ``clients`` sequential senders, one mail a session."""
    done, stop, counter = [0], time.monotonic() + seconds, iter(range(10**9))
    lock = threading.Lock()

    def client() -> None:
        while time.monotonic() < stop:
            try:
                send(port, ordinary(next(counter)))
                with lock:
                    done[0] += 1
            except (OSError, smtplib.SMTPException):
                time.sleep(0.05)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0] / (time.monotonic() - start)


def idle_connections(port: int, stop: threading.Event, held: list[int]) -> None:
    """Keep 300 idle sessions open from 15 addresses; count those the server holds."""
    socks: list[socket.socket] = []
    while not stop.is_set():
        for address in IDLE_ADDRESSES:
            while sum(1 for s in socks if s.getsockname()[0] == address) < 20:
                s = socket.socket()
                s.bind((address, 0))
                try:
                    s.connect(("127.0.0.1", port))
                except OSError:
                    s.close()
                    break
                socks.append(s)
        held[0] = len(socks)
        stop.wait(1.0)
        alive = []
        for s in socks:  # a closed one (idle timeout, refusal) reads EOF: re-open it
            s.setblocking(False)
            try:
                gone = s.recv(4096, socket.MSG_PEEK) == b""
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            s.setblocking(True)
            if gone:
                s.close()
            else:
                alive.append(s)
        socks = alive
    for s in socks:
        s.close()


def hostile_mails(port: int, stop: threading.Event, log: list[dict], flood: bool) -> None:
    mails = [("150k References", many_references()), ("21 MB no charset", russian_no_charset())]
    rounds = 10**9 if flood else 1
    for _ in range(rounds):
        if stop.is_set():
            return
        for name, data in mails:
            if stop.is_set():
                return
            t = time.monotonic()
            try:
                code = send(port, data, timeout=300)
            except smtplib.SMTPResponseException as exc:
                code = exc.smtp_code
            except (OSError, smtplib.SMTPException) as exc:
                code = f"{exc.__class__.__name__}"  # type: ignore[assignment]
            log.append({"mail": name, "code": code, "seconds": round(time.monotonic() - t, 2)})


def private_schema(url: str) -> tuple[str, Callable[[], None]]:
    """On PostgreSQL a schema of our own (as the tests do), dropped at the end."""
    if not url.startswith("postgresql"):
        return url, lambda: None
    from sqlalchemy import create_engine, text

    schema = "hostile_" + uuid.uuid4().hex[:10]
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", drop


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--flood", action="store_true", help="send the hostile mails continuously")
    ap.add_argument("--no-idle", action="store_true", help="leave the idle connections out")
    ap.add_argument("--no-mails", action="store_true", help="leave the hostile mails out")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hostile-"))
    database_url, drop_schema = private_schema(args.database_url)
    port = free_port()
    env = {
        **os.environ,
        "HELPDESK_DATA_DIR": str(tmp / "var"),
        "HELPDESK_DATABASE_URL": database_url or f"sqlite:///{tmp / 'helpdesk.db'}",
        "HELPDESK_DOMAIN": "example.com",
        "HELPDESK_LISTEN": f"smtp://127.0.0.1:{port}",
        "HELPDESK_HTTP_LISTEN": "",
    }
    helpdesk = [sys.executable, "-m", "gateway.cli"]
    subprocess.run([*helpdesk, "init"], env=env, check=True, capture_output=True)
    log = (tmp / "serve.log").open("wb")
    serve = subprocess.Popen([*helpdesk, "serve"], env=env, stdout=log, stderr=log)
    try:
        wait_for_banner(port, serve)
        peaks = Peaks(serve.pid)
        peaks.start()
        ordinary_load(port, 3)  # warm up
        alone = ordinary_load(port, args.seconds)
        stop, held, answers = threading.Event(), [0], []
        hostile = []
        if not args.no_idle:
            hostile.append(threading.Thread(target=idle_connections, args=(port, stop, held)))
        if not args.no_mails:
            mails = (port, stop, answers, args.flood)
            hostile.append(threading.Thread(target=hostile_mails, args=mails))
        for t in hostile:
            t.start()
        time.sleep(1)  # the idle sessions are open and the first hostile mail is on its way
        beside = ordinary_load(port, args.seconds)
        stop.set()
        for t in hostile:
            t.join()
        peaks.stop.set()
        result = {
            "ordinary_alone_per_s": round(alone, 1),
            "ordinary_beside_hostile_per_s": round(beside, 1),
            "ratio": round(beside / alone, 2) if alone else None,
            "idle_connections_held": held[0],
            "hostile_mails": answers,
            "peak_rss_mb": {k: round(v) for k, v in peaks.peak.items()},
        }
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    finally:
        serve.terminate()
        serve.wait(60)
        log.close()
        drop_schema()


if __name__ == "__main__":
    sys.exit(main())
