"""The pipe's cost beside LMTP (issue 14, item 15): what an MTA pays per mail.

Postfix's pipe transport starts ``helpdesk ingest`` once per mail; its LMTP client
hands the same mails to a running ``helpdesk serve``. This pipes N mails (200 by
default), one process each and one after another, as a pipe transport with
``helpdesk_destination_recipient_limit = 1`` and one delivery agent does; then
delivers the same number over LMTP, one session per mail, to ``serve``. It reports
mails/s of each, the CPU seconds per piped mail (user + system of the child, from
``getrusage``) and per LMTP mail (the server and its writer, from /proc). The target
is ≤ 0.2 s of CPU per piped mail (three times rt-mailgate's rate).

    nice .venv/bin/python bench/pipe.py             # 200 mails each way
    nice .venv/bin/python bench/pipe.py --count 20  # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from gateway.testing import free_port, wait_for_banner

BIN = Path(sys.executable).parent
SUPPORT = "support@example.com"
TARGET_CPU = 0.2


def message(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Клиент {n} <customer{n % 50}@example.ru>"
    msg["To"] = SUPPORT
    msg["Subject"] = f"Не работает сайт {n}"
    msg["Message-ID"] = make_msgid(domain="example.ru")
    msg["Date"] = "Mon, 07 Dec 2026 10:00:00 +0300"
    msg.set_content(f"Здравствуйте! Сайт номер {n} отдаёт 502 с утра, посмотрите, пожалуйста.")
    return msg.as_bytes()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tree_cpu(root: int) -> float:
    """User + system seconds of a process and all its descendants now alive (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, (parent, _) in stats.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(stats[pid][1] for pid in tree if pid in stats)


def run_pipe(env: dict[str, str], count: int) -> dict[str, float]:
    cpu0, t0 = children_cpu(), time.perf_counter()
    for n in range(count):
        proc = subprocess.run(
            [
                BIN / "helpdesk",
                "ingest",
                "--sender",
                f"customer{n % 50}@example.ru",
                "--recipient",
                SUPPORT,
            ],
            input=message(n),
            capture_output=True,
            env=env,
        )
        if proc.returncode != 0:
            raise SystemExit(f"ingest exited {proc.returncode}: {proc.stderr.decode()}")
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    return {"mails": count, "seconds": wall, "rate": count / wall, "cpu_per_mail": cpu / count}


def run_lmtp(env: dict[str, str], count: int) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen(
        [BIN / "helpdesk", "serve"],
        env={**env, "HELPDESK_LISTEN": f"lmtp://127.0.0.1:{port}", "HELPDESK_HTTP_LISTEN": ""},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_banner(port, server)
        cpu0, t0 = tree_cpu(server.pid), time.perf_counter()
        for n in range(count):
            with smtplib.LMTP("127.0.0.1", port) as client:
                refused = client.sendmail(f"customer{n % 50}@example.ru", [SUPPORT], message(n))
                if refused:
                    raise SystemExit(f"LMTP refused: {refused}")
        wall, cpu = time.perf_counter() - t0, tree_cpu(server.pid) - cpu0
    finally:
        server.terminate()
        server.wait(30)
    return {"mails": count, "seconds": wall, "rate": count / wall, "cpu_per_mail": cpu / count}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=200, help="mails each way (default 200)")
    ap.add_argument("--json-out", type=Path, help="also write the figures here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pipe-") as tmp:
        base = {
            "PATH": os.environ.get("PATH", ""),
            "HELPDESK_DOMAIN": "example.com",
            "HELPDESK_SECRET": "bench",
        }
        envs = {
            way: {**base, "HELPDESK_DATA_DIR": str(Path(tmp) / way)} for way in ("pipe", "lmtp")
        }
        for env in envs.values():
            subprocess.run([BIN / "helpdesk", "init"], env=env, check=True, capture_output=True)
        results = {
            "pipe": run_pipe(envs["pipe"], args.count),
            "lmtp": run_lmtp(envs["lmtp"], args.count),
        }
    pipe, lmtp = results["pipe"], results["lmtp"]
    print(
        f"pipe: {pipe['rate']:6.1f} mails/s  {pipe['cpu_per_mail']:.3f} s CPU per mail "
        f"(target ≤ {TARGET_CPU} s: {'met' if pipe['cpu_per_mail'] <= TARGET_CPU else 'NOT met'})"
    )
    print(
        f"lmtp: {lmtp['rate']:6.1f} mails/s  {lmtp['cpu_per_mail']:.3f} s CPU per mail "
        "(serve and its writer; one session per mail)"
    )
    print(
        f"pipe costs {pipe['cpu_per_mail'] / max(lmtp['cpu_per_mail'], 1e-9):.1f}× LMTP's CPU "
        f"per mail; LMTP is {lmtp['rate'] / pipe['rate']:.1f}× faster"
    )
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
