"""Intake at a real support address's mix, measured honestly (issue 16).

The load (``bench/mixload.py``): distinct customers, Russian in three charsets and
English, about 2 KB, 30 % replies threading by In-Reply-To into their request.
The gateway runs as ``helpdesk serve`` with three operators (each customer message
is copied to all three) and a no-op smarthost (aiosmtpd's Sink) that really receives
every notification. The same client sends the same mails, ten sessions, a new
connection per mail, to the gateway and to aiosmtpd's no-op server in alternating
rounds, so a noisy neighbour hurts both alike.

Measured: throughput of both and the ratio; CPU per mail of the gateway's whole
process tree (serve, the intake writer, the render pool: /proc, utime + stime,
waited-for children included); DATA→250 latency at an offered half of the gateway's
own rate; how long the outbox takes to drain after a burst of 1,200 mails, and how
fast notifications were made. Checked afterwards: every 250 is a message on the
right ticket (a request its own ticket, a reply on its request's ticket), nothing
quarantined or shunted, no notification left pending after the drain.

    .venv/bin/python bench/intake_mix.py                 # SQLite, about ten minutes
    .venv/bin/python bench/intake_mix.py --quick         # a smoke run
    .venv/bin/python bench/intake_mix.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
    .venv/bin/python bench/intake_mix.py --database-url … --instances 2   # both get every mail
    .venv/bin/python bench/intake_mix.py --smarthost smtp-sink   # Postfix's C sink as smarthost
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, create_engine, inspect, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mixload import Item, make_load, run_load

from gateway.testing import free_port, wait_for_banner

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
OPERATORS = (("Анна", "anna@example.com"), ("Борис", "boris@example.com"), ("Вера", "vera@ex.com"))
TICK = os.sysconf("SC_CLK_TCK")
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"  # Debian's postfix package


def sink(port: int, kind: str = "aiosmtpd") -> subprocess.Popen:
    """A no-op SMTP server: aiosmtpd's Sink (Python), or Postfix's smtp-sink (C).

    The comparison server is always aiosmtpd's (the yardstick of the ratio). The
    smarthost may be either: a real one is an MTA written in C, and aiosmtpd's Sink
    spends as much CPU receiving the notifications as serve spends sending them, on
    the same two cores, which the gateway's figures would then pay for.
    """
    if kind == "smtp-sink":
        cmd = [SMTP_SINK, *(["-u", "nobody"] if os.geteuid() == 0 else []), f"127.0.0.1:{port}"]
        proc = subprocess.Popen([*cmd, "256"])
    else:
        cmd = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
        proc = subprocess.Popen([*cmd, "-c", "aiosmtpd.handlers.Sink"])
    wait_for_banner(port, proc)
    return proc


def gateway_env(data_dir: Path, port: int, smarthost: int, url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HELPDESK_DATA_DIR": str(data_dir),
        "HELPDESK_LISTEN": f"smtp://127.0.0.1:{port}",
        "HELPDESK_DOMAIN": "example.com",
        "HELPDESK_HTTP_LISTEN": "",
        "HELPDESK_SMARTHOST": f"smtp://127.0.0.1:{smarthost}",
        "HELPDESK_SECRET": "bench-secret",
    }
    if url:
        env["HELPDESK_DATABASE_URL"] = url
    else:
        env.pop("HELPDESK_DATABASE_URL", None)
    return env


def start_gateway(env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen([BIN / "helpdesk", "serve"], env=env, start_new_session=True)
    wait_for_banner(port, proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and every live descendant, with their waited-for children."""
    return sum(tree_cpu_by_role(root).values())


def _role(pid: int, root: int) -> str:
    """Which part of the gateway a process is: serve, the intake writer, or a worker pool."""
    if pid == root:
        return "serve"
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "other"
    if "gateway.intake.writer" in cmd:
        return "writer"
    if "resource_tracker" in cmd:
        return "other"
    return "worker" if "multiprocessing" in cmd else "other"


def tree_cpu_by_role(root: int) -> dict[str, float]:
    """:func:`tree_cpu` by :func:`_role`: where the CPU per mail goes."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        times[pid] = sum(int(f) for f in fields[11:15]) / TICK  # utime stime cutime cstime
    wanted = {root}
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in wanted and pid not in wanted:
                wanted.add(pid)
                changed = True
    roles: dict[str, float] = {}
    for pid in wanted:
        role = _role(pid, root)
        roles[role] = roles.get(role, 0.0) + times.get(pid, 0.0)
    return roles


def pending(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("select count(*) from outbox where state='pending'")).scalar()
    finally:
        engine.dispose()


def wait_drained(url: str, limit: float) -> float | None:
    """Seconds until no notification is pending, or None if some still are after ``limit``."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if pending(url) == 0:
            return time.perf_counter() - started
        time.sleep(0.1)
    return None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def verify(url: str, accepted: list[Item]) -> dict:
    """Every accepted mail is a message on the right ticket; nothing quarantined."""
    engine = create_engine(url)
    with engine.connect() as conn:
        where = dict(conn.execute(text("select message_id, ticket_id from messages")).all())
        states = dict(
            conn.execute(text("select state, count(*) from raw_mails group by state")).all()
        )
        tickets = conn.execute(text("select count(*) from tickets")).scalar()
        raws = conn.execute(text("select count(*) from raw_mails")).scalar()
    engine.dispose()
    requests = [i for i in accepted if i.request is None]
    replies = [i for i in accepted if i.request is not None]
    missing = [i.message_id for i in accepted if i.message_id not in where]
    misthreaded = 0
    request_ids = {n: i.message_id for n, i in enumerate(ALL) if i.request is None}
    for r in replies:
        if where.get(r.message_id) != where.get(request_ids[r.request]):
            misthreaded += 1
    return {
        "accepted": len(accepted),
        "raw_mails": raws,
        "raw_states": states,
        "tickets": tickets,
        "requests": len(requests),
        "missing_messages": len(missing),
        "replies_on_the_wrong_ticket": misthreaded,
        "ok": not missing
        and not misthreaded
        and tickets == len(requests)
        and raws == len(accepted)
        and set(states) <= {"processed"},
    }


ALL: list[Item] = []


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the data directory to inspect")
    ap.add_argument("--mails", type=int, default=3000)
    ap.add_argument("--round", type=int, default=500, help="mails per alternating round")
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--database-url", default="", help="empty: SQLite in a temp data dir")
    ap.add_argument("--instances", type=int, default=1, help="gateways on one database")
    ap.add_argument("--label", default="", help="added to the result file's name")
    ap.add_argument(
        "--smarthost",
        choices=("aiosmtpd", "smtp-sink"),
        default="aiosmtpd",
        help="the no-op smarthost: aiosmtpd's Sink, or Postfix's smtp-sink (apt install postfix)",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument(
        "--profile", type=Path, help="py-spy the gateway's process tree in the rounds into DIR"
    )
    args = ap.parse_args()
    mails, burst, paced = (300, 200, 100) if args.quick else (args.mails, 1200, 600)
    ALL[:] = make_load(mails + burst + paced + 200, seed=16)
    warm, main_load = ALL[:200], ALL[200 : 200 + mails]
    paced_load, burst_load = ALL[200 + mails : 200 + mails + paced], ALL[200 + mails + paced :]

    work = Path(tempfile.mkdtemp(prefix="helpdesk-mix-"))
    url = args.database_url or f"sqlite:///{work / 'var0' / 'helpdesk.db'}"
    noop_port, smart_port = free_port(), free_port()
    ports = [free_port() for _ in range(args.instances)]
    envs = [gateway_env(work / f"var{n}", p, smart_port, url) for n, p in enumerate(ports)]
    if args.database_url:
        _must_be_empty(args.database_url)
    subprocess.run([BIN / "helpdesk", "init"], env=envs[0], check=True, capture_output=True)
    for name, address in OPERATORS:
        cmd = [BIN / "helpdesk", "operators", "add", name, address]
        subprocess.run(cmd, env=envs[0], check=True, capture_output=True)
    noop, smarthost = sink(noop_port), sink(smart_port, args.smarthost)
    gateways = [start_gateway(env, p) for env, p in zip(envs, ports, strict=True)]
    out: dict = {
        "sessions": args.sessions,
        "instances": args.instances,
        "mails": mails,
        "smarthost": args.smarthost,
    }
    accepted: list[Item] = []
    try:
        accepted += asyncio.run(_to_gateways(ports, warm, args.sessions))
        asyncio.run(run_load("127.0.0.1", noop_port, warm, args.sessions))
        wait_drained(url, 120)
        roles0 = [tree_cpu_by_role(g.pid) for g in gateways]
        cpu0 = sum(sum(r.values()) for r in roles0)
        neighbours0 = tree_cpu(smarthost.pid), time.process_time()
        spies = (
            [_spy(g.pid, args.profile, n) for n, g in enumerate(gateways)] if args.profile else []
        )
        gw_secs = noop_secs = 0.0
        rounds = [main_load[i : i + args.round] for i in range(0, len(main_load), args.round)]
        for chunk in rounds:
            t0 = time.perf_counter()
            accepted += asyncio.run(_to_gateways(ports, chunk, args.sessions))
            gw_secs += time.perf_counter() - t0
            # The no-op server's round starts once the gateway has sent what its round
            # made: its delivery workers draining meanwhile took the no-op server's CPU,
            # so the slower the dispatcher, the slower the baseline and the better the
            # ratio looked.
            wait_drained(url, 300)
            noop_secs += asyncio.run(run_load("127.0.0.1", noop_port, chunk, args.sessions))[0]
        drained = wait_drained(url, 300)
        roles1 = [tree_cpu_by_role(g.pid) for g in gateways]
        sink_cpu = tree_cpu(smarthost.pid) - neighbours0[0]
        client_cpu = time.process_time() - neighbours0[1]
        cpu = sum(sum(r.values()) for r in roles1) - cpu0
        by_role: dict[str, float] = {}
        for before, after in zip(roles0, roles1, strict=True):
            for role, seconds in after.items():
                by_role[role] = by_role.get(role, 0.0) + seconds - before.get(role, 0.0)
        for spy in spies:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        gw_rate, noop_rate = len(main_load) / gw_secs, len(main_load) / noop_secs
        out["throughput"] = {
            "gateway_msg_s": round(gw_rate, 1),
            "noop_msg_s": round(noop_rate, 1),
            "ratio": round(gw_rate / noop_rate, 3),
            "cpu_ms_per_mail": round(cpu / len(main_load) * 1000, 2),
            "cpu_ms_per_mail_by_process": {
                role: round(seconds / len(main_load) * 1000, 2)
                for role, seconds in sorted(by_role.items())
            },
            "drain_after_rounds_s": drained,
            # The gateway's neighbours on the same cores: the no-op smarthost receiving its
            # notifications, and this client (both rounds: gateway and no-op server).
            "smarthost_cpu_ms_per_mail": round(sink_cpu / len(main_load) * 1000, 2),
            "client_cpu_ms_per_mail_both_servers": round(client_cpu / len(main_load) * 1000, 2),
        }
        print(json.dumps(out["throughput"]), flush=True)
        offered = max(1.0, gw_rate * 0.5)
        _, lat = asyncio.run(
            run_load("127.0.0.1", ports[0], paced_load, args.sessions, rate=offered)
        )
        accepted += [i for i, code, _ in lat if code == 250]
        waits = [w for _, code, w in lat if code == 250]
        out["latency"] = {
            "offered_msg_s": round(offered, 1),
            "p50_ms": percentile(waits, 0.50),
            "p90_ms": percentile(waits, 0.90),
            "p99_ms": percentile(waits, 0.99),
        }
        print(json.dumps(out["latency"]), flush=True)
        wait_drained(url, 300)
        out["burst"] = _burst(url, ports, burst_load, args.sessions, accepted)
        print(json.dumps(out["burst"]), flush=True)
        out["dispatcher"] = _send_all_again(url, out["burst"]["made_per_s"])
        print(json.dumps(out["dispatcher"]), flush=True)
    finally:
        for g in gateways:
            stop(g)
        stop(noop)
        stop(smarthost)
    out["check"] = verify(url, accepted)
    print(json.dumps(out["check"]), flush=True)
    if args.keep:
        print(f"the gateway's data directory is kept in {work}")
    elif not args.database_url:
        shutil.rmtree(work, ignore_errors=True)
    _write(args, out)
    return 0 if out["check"]["ok"] else 1


def _spy(pid: int, folder: Path, n: int) -> subprocess.Popen:
    """py-spy (pip install py-spy) on the gateway and its children, as collapsed stacks."""
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [BIN / "py-spy", "record", "-p", str(pid), "--subprocesses", "--nonblocking"]
    cmd += ["-r", "200", "--format", "raw", "-o", str(folder / f"gateway{n}.txt")]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _to_gateways(ports: list[int], items: list[Item], sessions: int) -> list[Item]:
    """Every mail to every instance at once (an MTA that delivered it twice); the mails
    every instance answered 250 — any other answer fails the run."""
    results = await asyncio.gather(*(run_load("127.0.0.1", p, items, sessions) for p in ports))
    codes: dict[str, set[int]] = {}
    for _, done in results:
        for item, code, _ in done:
            codes.setdefault(item.message_id, set()).add(code)
    refused = {m: c for m, c in codes.items() if c != {250}}
    if refused:
        raise SystemExit(
            f"{len(refused)} mails not answered 250, e.g. {next(iter(refused.items()))}"
        )
    return list(items)


def _burst(url: str, ports: list[int], items: list[Item], sessions: int, accepted: list) -> dict:
    engine = create_engine(url)
    with engine.connect() as conn:
        before = conn.execute(text("select count(*) from outbox")).scalar()
    t0 = time.perf_counter()
    accepted += asyncio.run(_to_gateways(ports, items, sessions))
    seconds = time.perf_counter() - t0
    ended = datetime.now(UTC)
    backlog = pending(url)
    drained = wait_drained(url, 60)
    with engine.connect() as conn:
        made = conn.execute(text("select count(*) from outbox")).scalar() - before
        last = _last_marked(conn)
    engine.dispose()
    # The dispatcher's own rate, from when serve marked the last row sent: polling for an
    # empty outbox every 0.1 s adds up to a tenth of a second to a drain of under one.
    marked = (last - ended).total_seconds() if last and last > ended else None
    return {
        "mails": len(items),
        "seconds": round(seconds, 2),
        "notifications_made": made,
        "made_per_s": round(made / seconds, 1),
        "pending_at_end_of_burst": backlog,
        "drained_after_s": None if drained is None else round(drained, 2),
        "drain_rate_per_s": round(backlog / drained, 1) if drained and backlog else None,
        "last_marked_after_s": None if marked is None else round(marked, 3),
        "drain_rate_by_marks_per_s": round(backlog / marked, 1) if marked and backlog else None,
    }


def _must_be_empty(url: str) -> None:
    """The checks count tickets and mails: a database holding an earlier run's would fail
    them, or the operators' registration first. Say so instead of a traceback."""
    engine = create_engine(url)
    try:
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise SystemExit(
            f"{url} already holds tables ({', '.join(sorted(tables)[:4])}, ...), an earlier "
            "run's perhaps: the bench needs an empty database (on PostgreSQL, e.g. "
            "DROP SCHEMA public CASCADE; CREATE SCHEMA public;)"
        )


def _send_all_again(url: str, made_per_s: float) -> dict:
    """The dispatcher's own rate on this mix's notifications, against the rate the burst
    made them: every row sent is made due again at once, and serve's dispatcher sends
    the lot (some 18,000) with nothing else running. After the burst only its tail is
    left, and a drain of under a second is mostly the quarter-second poll and one
    batch's latency, not the rate."""
    engine = create_engine(url)
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "update outbox set state = 'pending', sent_at = null, "
                "next_attempt_at = created_at where state = 'sent'"
            )
        ).rowcount
    started = datetime.now(UTC)
    drained = wait_drained(url, 300)
    with engine.connect() as conn:
        last = _last_marked(conn) or started
    engine.dispose()
    seconds = (last - started).total_seconds()
    rate = rows / seconds if seconds > 0 and drained is not None else 0.0
    return {
        "notifications": rows,
        "seconds": round(seconds, 2),
        "own_rate_per_s": round(rate, 1),
        "times_made_per_s": round(rate / made_per_s, 2) if made_per_s else None,
    }


def _last_marked(conn: Connection) -> datetime | None:
    """When serve last marked a row sent: that batch's marking began with all its mail out.
    SQLite returns the text it stores (ordered as the times are), PostgreSQL a naive UTC
    timestamp."""
    value = conn.execute(text("select max(sent_at) from outbox")).scalar()
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _write(args: argparse.Namespace, out: dict) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    backend = "postgresql" if args.database_url.startswith("postgresql") else "sqlite"
    out.update(
        when=stamp,
        backend=backend,
        machine={"cpus": os.cpu_count(), "python": platform.python_version()},
        load_average=os.getloadavg(),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    label = f"-{args.label}" if args.label else ""
    sink_name = "-smtp-sink" if args.smarthost == "smtp-sink" else ""
    name = f"intake_mix-{backend}-x{args.instances}{sink_name}{label}"
    name += "-quick" if args.quick else ""
    path = args.out / f"{name}-{stamp}.json"
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    sys.exit(main())
