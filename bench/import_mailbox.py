"""``helpdesk import`` on a generated support mailbox of 100,000 messages.

Issue 6's target: at least 1,000 messages/s on SQLite on this machine, for the
whole command (reading the archive's dates, sorting, the replay through intake
and the 30-day rules, the report).

The mailbox (``tests/support/sample_archive.py``) is what a support team's archive
looks like: about 27,000 conversations of 6,000 customers over two years,
answered by five operators, with silences the 30-day rule closes, nudges,
requests sent twice under new Message-IDs and mails that reached the archive
twice. It is cached in the temp dir between runs.

The import runs as the real command (``helpdesk import PATH --json``) in a
child process on a fresh SQLite database; then a second run over the same
file shows the cost of a resume that finds everything stored.

    .venv/bin/python bench/import_mailbox.py                  # 100,000 messages
    .venv/bin/python bench/import_mailbox.py --messages 5000  # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the generator lives in tests/
from tests.support.sample_archive import OPERATORS, generate

BIN = Path(sys.executable).parent


def helpdesk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "helpdesk"), *args], env=env, capture_output=True, text=True, check=True
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--json-out", type=Path, help="also write the figures here")
    args = ap.parse_args()

    cache = Path(tempfile.gettempdir()) / f"helpdesk-bench-import-{args.messages}-{args.seed}.mbox"
    if not cache.exists():
        t = time.perf_counter()
        generate(cache, args.messages, args.seed)
        print(f"generated {cache} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    expected = json.loads(cache.with_suffix(".json").read_text())
    size_mb = cache.stat().st_size / 1e6

    work = Path(tempfile.mkdtemp(prefix="helpdesk-bench-import-"))
    env = {**os.environ, "HELPDESK_DATA_DIR": str(work), "HELPDESK_DOMAIN": "example.com"}
    env.pop("HELPDESK_DATABASE_URL", None)
    helpdesk(env, "init")
    for name, address in OPERATORS:
        helpdesk(env, "operators", "add", name, address)

    runs = []
    for label in ("first import", "second run (everything already stored)"):
        t = time.perf_counter()
        report = json.loads(helpdesk(env, "import", str(cache), "--json").stdout)
        wall = time.perf_counter() - t
        runs.append(
            {
                "run": label,
                "messages": report["messages_read"],
                "wall_seconds": round(wall, 2),
                "messages_per_second": round(report["messages_read"] / wall),
                "report": {k: v for k, v in report.items() if not isinstance(v, list)}
                | {k: len(v) for k, v in report.items() if isinstance(v, list)},
            }
        )
        print(
            f"{label}: {report['messages_read']:,} messages in {wall:.1f} s = "
            f"{report['messages_read'] / wall:,.0f} msg/s (whole command)",
            file=sys.stderr,
        )
    first = runs[0]["report"]
    print(f"\nmailbox: {args.messages:,} messages, {size_mb:.0f} MB, {cache}")
    print(
        f"generated: {expected['conversations']:,} conversations, {expected['resent']:,} re-sent,"
        f" {expected['copies']:,} copies, {expected['operator_answers']:,} operator answers,"
        f" {expected['silent']:,} left silent"
    )
    print(
        f"imported:  {first['tickets_created']:,} tickets, "
        f"{first['duplicates_collapsed']:,} duplicates collapsed, "
        f"{first['copies_of_one_message']:,} copies, {first['operator_messages']:,} operator "
        f"messages, {first['rules_applied']['auto_closed']:,} closed by the 30-day rule"
    )
    print(f"{'run':<44}{'wall s':>8}{'msg/s':>8}")
    for r in runs:
        print(f"{r['run']:<44}{r['wall_seconds']:>8}{r['messages_per_second']:>8}")
    target = runs[0]["messages_per_second"] >= 1000
    print(f"target ≥ 1,000 msg/s on SQLite: {'met' if target else 'NOT met'}")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(
            json.dumps(
                {
                    "machine": platform.platform(),
                    "cpus": os.cpu_count(),
                    "mailbox": {"messages": args.messages, "mb": round(size_mb, 1)},
                    "expected": expected,
                    "runs": runs,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
