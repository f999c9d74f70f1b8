"""How many of the corpus's bounce mails (MANIFEST category ``bounce-dsn``) are read as a
permanent failure (issue 13): ``python bench/bounces.py [--reader dsn|bounce]``.

``dsn`` is the RFC 3464/6533 reader alone (31 of 66; before issue 13 it read 28);
``bounce`` adds flufl.bounce, what intake uses now (51 of 66). The rest are delays and
relays, which must not count, and reports naming no recipient.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from gateway.mail import bounce, dsn

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reader", choices=("dsn", "bounce"), default="bounce")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    read = bounce.hard_failure if args.reader == "bounce" else dsn.hard_failure
    with open(args.corpus / "MANIFEST.tsv", encoding="utf-8") as manifest:
        rows = [
            r for r in csv.DictReader(manifest, delimiter="\t") if r["category"] == "bounce-dsn"
        ]
    found = [r["path"] for r in rows if read((args.corpus / r["path"]).read_bytes())]
    print(f"{args.reader}: {len(found)} of {len(rows)} bounce mails read as a permanent failure")


if __name__ == "__main__":
    main()
