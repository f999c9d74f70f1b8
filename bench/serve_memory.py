"""serve's memory over a long run, with the duplicate sweep running (issue 14, item 7).

The finding: serve grew from 92 MB to 564 MB over ~40,000 mails, following the
once-a-minute duplicate sweep, whose cost followed the whole tickets table. This
runs ``helpdesk serve`` (SQLite, three operators, a no-op smarthost) with the
sweep every ``--sweep-seconds``, sends the mix load of ``bench/mixload.py`` in
chunks, and after each chunk records the resident memory of serve and of each of
its children, and the total sweep time serve reports in its log.

    .venv/bin/python bench/serve_memory.py                 # 40,000 mails
    .venv/bin/python bench/serve_memory.py --mails 4000    # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile import children, rss_mb
from intake_mix import BIN, OPERATORS, ROOT, gateway_env, sink, stop
from mixload import make_load, run_load

from gateway.testing import free_port, wait_for_banner


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mails", type=int, default=40_000)
    ap.add_argument("--chunk", type=int, default=2_000)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--sweep-seconds", type=int, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "serve-memory.json")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="helpdesk-mem-"))
    url = f"sqlite:///{work / 'var' / 'helpdesk.db'}"
    port, smart = free_port(), free_port()
    env = gateway_env(work / "var", port, smart, url)
    env["HELPDESK_DEDUP_INTERVAL_SECONDS"] = str(args.sweep_seconds)
    subprocess.run([BIN / "helpdesk", "init"], env=env, check=True, capture_output=True)
    for name, address in OPERATORS:
        cmd = [BIN / "helpdesk", "operators", "add", name, address]
        subprocess.run(cmd, env=env, check=True, capture_output=True)
    smarthost = sink(smart)
    log = open(work / "serve.log", "w")  # noqa: SIM115 - closed in finally
    gateway = subprocess.Popen(
        [BIN / "helpdesk", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_banner(port, gateway, timeout=180)
    load = make_load(args.mails, seed=14)
    rows: list[dict] = []
    started = time.perf_counter()
    try:
        for at in range(0, args.mails, args.chunk):
            chunk = load[at : at + args.chunk]
            seconds, done = asyncio.run(run_load("127.0.0.1", port, chunk, args.sessions))
            refused = sum(1 for _, code, _ in done if code != 250)
            row = {
                "mails": at + len(chunk),
                "rate": round(len(chunk) / seconds, 1),
                "refused": refused,
                "serve_mb": round(rss_mb(gateway.pid), 1),
                "children_mb": [round(rss_mb(c), 1) for c in children(gateway.pid)],
                "elapsed_s": round(time.perf_counter() - started, 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        stop(gateway)
        stop(smarthost)
        log.close()
    sweeps = [
        line
        for line in (work / "serve.log").read_text().splitlines()
        if '"dedup' in line and "executed successfully" in line
    ]
    out = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "mails": args.mails,
        "sweep_seconds": args.sweep_seconds,
        "sweep_runs": len(sweeps),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
