"""Children die with their parent: kill -9 of serve leaves no process behind (issue 14.6)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from gateway.testing import free_port, wait_for_banner
from tests.helpers import HELPDESK, cli, kill_process_group, mail, until, wire


def _children(pid: int) -> dict[int, str]:
    """The live (non-zombie) processes whose parent is ``pid``, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(entry.name)] = command
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def test_kill_9_of_serve_takes_the_writer_and_the_render_worker_with_it(
    tmp_path: Path, database_url: str
):
    """After SIGKILL of serve, its intake writer and notification worker are gone too."""
    port = free_port()
    env = {
        **os.environ,
        "HELPDESK_DATA_DIR": str(tmp_path / "var"),
        "HELPDESK_DATABASE_URL": database_url,
        "HELPDESK_DOMAIN": "example.com",
        "HELPDESK_LISTEN": f"smtp://127.0.0.1:{port}",
        "HELPDESK_HTTP_LISTEN": "",
    }
    assert cli(env, "init").returncode == 0
    for i in range(12):  # twelve notifications due at once: serve builds them in its worker
        sender = f"c{i}@example.ru"
        raw = wire(mail(sender=sender, body=f"Заявка {i}"))
        envelope = ("--sender", sender, "--recipient", "support@example.com")
        done = cli(env, "ingest", *envelope, stdin=raw)
        assert done.returncode == 0, done.stderr
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*HELPDESK, "serve"], env=env, stdout=log, stderr=log, start_new_session=True
    )
    try:
        wait_for_banner(port, proc)
        assert until(
            lambda: any("multiprocessing" in c for c in _children(proc.pid).values()), timeout=60
        ), _children(proc.pid)
        children = set(_children(proc.pid))
        assert len(children) >= 2  # the intake writer and the render pool's worker
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert until(lambda: not _alive(children), timeout=15), _alive(children)
    finally:
        kill_process_group(proc)
        log.close()
