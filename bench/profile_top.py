"""The top of a py-spy profile: where a process tree's samples go, by function.

    .venv/bin/python bench/profile_top.py bench/results/profile/gateway0.txt [--top 25]

Reads py-spy's raw (collapsed) output: one stack per line, frames separated by
``;``, the sample count last. Prints, per process, the share of samples whose
innermost frame is each function (self) and the share whose stack holds it
anywhere (inclusive) — enough to say where the CPU goes in a closing note.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>[^ ]+) \((?P<file>[^:)]+)(?::\d+)?\)$")


def _name(frame: str) -> str:
    found = _FRAME.match(frame.strip())
    if not found:
        return frame.strip()
    path = found["file"]
    for marker in ("site-packages/", "python3.11/", "/gateway/"):
        if marker in path:
            path = ("gateway/" if marker == "/gateway/" else "") + path.split(marker, 1)[1]
    return f"{found['func']} ({path})"


def _process(frame: str) -> str:
    """``process 123:"python -m gateway.intake.writer"`` → a short name of the process."""
    label = frame.split(":", 1)[1].strip('"') if ":" in frame else frame
    if "multiprocessing" in label:
        return "worker process (notification builder or parse pool)"
    if "intake.writer" in label:
        return "intake writer"
    return label.rsplit("/", 1)[-1]


def top(path: Path, count: int) -> str:
    by_process: dict[str, tuple[Counter, Counter, list[int]]] = defaultdict(
        lambda: (Counter(), Counter(), [0])
    )
    for line in path.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        frames = stack.split(";")
        processes = [f for f in frames if f.startswith("process ")]
        process = _process(processes[-1]) if processes else "process"
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        own, inclusive, total = by_process[process]
        n = int(samples)
        total[0] += n
        if frames:
            own[_name(frames[-1])] += n
        for name in {_name(f) for f in frames}:
            inclusive[name] += n
    out = []
    for process, (own, inclusive, total) in sorted(by_process.items(), key=lambda p: -p[1][2][0]):
        out.append(f"{process}: {total[0]} samples")
        out.append("  self:")
        out += [f"    {n / total[0]:6.1%}  {name}" for name, n in own.most_common(count)]
        out.append("  inclusive:")
        out += [f"    {n / total[0]:6.1%}  {name}" for name, n in inclusive.most_common(count)]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profile", type=Path)
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args()
    print(top(args.profile, args.top))


if __name__ == "__main__":
    main()
