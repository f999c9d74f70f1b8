"""Intake throughput and latency: the gateway against an aiosmtpd server that does nothing.

Issue 2's targets: at 10 sessions the gateway (SQLite, WAL, synchronous=FULL,
every mail committed before 250) reaches at least half the no-op server's
rate, and its DATA→250 p99 stays under 25 ms at 10 persistent sessions.

Both servers run as child processes and are loaded the same way, alternating
round by round, so a noisy neighbour hurts both alike. ``smtp-source`` (C,
Debian's postfix package) makes the new-connection-per-message loads without
taking the CPU from the servers; aiosmtplib makes the persistent sessions
whose latency we time. At the end the gateway is stopped and its database
must hold exactly the mails it answered 250 to.

    .venv/bin/python bench/intake.py            # full run, about two minutes
    .venv/bin/python bench/intake.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import aiosmtplib

from gateway.testing import free_port, wait_for_banner

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SENDER = "customer@example.com"
SUPPORT = "support@example.com"


@dataclass
class Result:
    load: str
    server: str
    messages: int
    seconds: float
    rate: float
    p50_ms: float | None = None
    p99_ms: float | None = None


def start_noop(port: int) -> subprocess.Popen:
    """aiosmtpd's own CLI with its Sink handler: SMTP parsing and nothing else."""
    cmd = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
    proc = subprocess.Popen([*cmd, "-c", "aiosmtpd.handlers.Sink"])
    wait_for_banner(port, proc)
    return proc


def start_gateway(port: int, data_dir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "HELPDESK_DATA_DIR": str(data_dir),
        "HELPDESK_LISTEN": f"smtp://127.0.0.1:{port}",
        "HELPDESK_DOMAIN": "example.com",
        "HELPDESK_HTTP_LISTEN": "",  # intake alone is measured
    }
    env.pop("HELPDESK_DATABASE_URL", None)
    subprocess.run([BIN / "helpdesk", "init"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen([BIN / "helpdesk", "serve"], env=env)
    wait_for_banner(port, proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def smtp_source(port: int, sessions: int, size: int, count: int) -> float:
    """Seconds for ``count`` messages, one connection each, ``sessions`` at a time."""
    cmd = ["smtp-source", "-s", str(sessions), "-m", str(count), "-l", str(size)]
    cmd += ["-f", SENDER, "-t", SUPPORT, f"127.0.0.1:{port}"]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or done.stderr.strip():
        raise SystemExit(f"smtp-source failed: {done.stderr.strip() or done.returncode}")
    return elapsed


def sample_mail(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Клиент {n} <{SENDER}>"
    msg["To"] = SUPPORT
    msg["Subject"] = f"Сайт не открывается, заявка {n}"
    msg["Message-ID"] = make_msgid(domain="bench.example.net")
    msg.set_content(("Здравствуйте! После переноса сайт отдаёт ошибку 502. " * 30)[:2000])
    return msg.as_bytes()


async def persistent(
    port: int, sessions: int, count: int, rate: float | None = None
) -> tuple[float, list[float]]:
    """``sessions`` connections kept open; the time of each DATA until its 250.

    With ``rate`` the sessions together offer that many mails a second (each
    sends on a fixed schedule, at once when behind); without, each sends its
    next mail as soon as the last is answered. Mails are built beforehand so
    the client spends its CPU on SMTP only.
    """
    latencies: list[float] = []
    per_session = count // sessions
    bodies = [sample_mail(n) for n in range(per_session * sessions)]
    loop = asyncio.get_running_loop()
    interval = sessions / rate if rate else 0.0
    t0 = loop.time() + (0.5 if rate else 0.0)

    async def one(index: int) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
        await client.connect()
        await client.ehlo()
        for i in range(per_session):
            body = bodies[index * per_session + i]
            if interval:
                await asyncio.sleep(t0 + (i + index / sessions) * interval - loop.time())
            await client.mail(SENDER)
            await client.rcpt(SUPPORT)
            started = time.perf_counter()
            reply = await client.data(body)
            latencies.append(time.perf_counter() - started)
            if reply.code != 250:
                raise SystemExit(f"DATA answered {reply.code} {reply.message}")
        await client.quit()

    await asyncio.gather(*(one(i) for i in range(sessions)))
    return loop.time() - t0, latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small counts, one round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    if shutil.which("smtp-source") is None:
        print("smtp-source not found: apt-get install postfix (the daemon need not run)")
        return 2
    scale = 0.1 if args.quick else 1.0
    rounds = 1 if args.quick else args.rounds
    loads = [  # name, sessions, size, messages
        ("10 sessions, 2 KB, new connection each", 10, 2048, int(3000 * scale)),
        ("1 session, 2 KB", 1, 2048, int(1000 * scale)),
        ("10 sessions, 50 KB", 10, 51200, int(1000 * scale)),
    ]
    persistent_loads = [  # name, offered rate (None: as fast as answered), messages
        ("10 persistent sessions, closed loop", None, int(4000 * scale)),
        ("10 persistent sessions, 100 msg/s offered", 100.0, int(3000 * scale)),
    ]

    work = Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))
    noop_port, gw_port = free_port(), free_port()
    noop = start_noop(noop_port)
    gateway = start_gateway(gw_port, work)
    results: list[Result] = []
    sent_to_gateway = 0
    try:
        smtp_source(noop_port, 10, 2048, 200)  # warm both up
        smtp_source(gw_port, 10, 2048, 200)
        sent_to_gateway += 200
        for _ in range(rounds):
            for name, sessions, size, count in loads:
                for server, port in (("no-op", noop_port), ("gateway", gw_port)):
                    secs = smtp_source(port, sessions, size, count)
                    results.append(Result(name, server, count, secs, count / secs))
                    sent_to_gateway += count if server == "gateway" else 0
            for name, rate, count in persistent_loads:
                for server, port in (("no-op", noop_port), ("gateway", gw_port)):
                    secs, lat = asyncio.run(persistent(port, 10, count, rate))
                    p50, p99 = percentile(lat, 0.50), percentile(lat, 0.99)
                    results.append(Result(name, server, len(lat), secs, len(lat) / secs, p50, p99))
                    sent_to_gateway += len(lat) if server == "gateway" else 0
    finally:
        stop(noop)
        stop(gateway)

    with sqlite3.connect(work / "helpdesk.db") as con:
        stored = con.execute("select count(*) from raw_mails").fetchone()[0]
    shutil.rmtree(work, ignore_errors=True)

    summary = report(results)
    print(f"\nmails answered 250 by the gateway: {sent_to_gateway}; rows in raw_mails: {stored}")
    ok = stored == sent_to_gateway
    print("every accepted mail stored:", "yes" if ok else "NO")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out / f"intake-{stamp}{'-quick' if args.quick else ''}.json"
    out.write_text(
        json.dumps(
            {
                "when": stamp,
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "rounds": rounds,
                "summary": summary,
                "runs": [asdict(r) for r in results],
                "accepted": sent_to_gateway,
                "stored": stored,
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    print(f"written to {out}")
    return 0 if ok else 1


def report(results: list[Result]) -> list[dict]:
    """Median over rounds per load and server; the ratio is gateway / no-op."""
    summary = []
    head = f"{'no-op msg/s':>11} {'gateway msg/s':>13} {'ratio':>5}"
    lat = f"{'no-op p50/p99 ms':>17} {'gateway p50/p99 ms':>19}"
    print(f"\n{'load':42} {head} {lat}")
    for load in dict.fromkeys(r.load for r in results):
        line: dict = {"load": load}
        for server in ("no-op", "gateway"):
            rows = [r for r in results if r.load == load and r.server == server]
            key = server.replace("-", "")
            line[f"{key}_rate"] = round(statistics.median(r.rate for r in rows), 1)
            if rows[0].p50_ms is not None:
                line[f"{key}_p50_ms"] = round(statistics.median(r.p50_ms or 0 for r in rows), 1)
                line[f"{key}_p99_ms"] = round(statistics.median(r.p99_ms or 0 for r in rows), 1)
        line["ratio"] = round(line["gateway_rate"] / line["noop_rate"], 3)
        summary.append(line)
        out = f"{load:42} {line['noop_rate']:>11.0f} {line['gateway_rate']:>13.0f}"
        out += f" {line['ratio']:>5.2f}"
        if "gateway_p50_ms" in line:
            out += f" {line['noop_p50_ms']:>8.1f}/{line['noop_p99_ms']:<8.1f}"
            out += f" {line['gateway_p50_ms']:>9.1f}/{line['gateway_p99_ms']:<9.1f}"
        print(out)
    return summary


if __name__ == "__main__":
    sys.exit(main())
