"""Errors a sysadmin can act on (issue 14, item 18): one line that says what to write or
run, never a traceback; a command that only reads creates nothing; a mistyped variable
is named; a port in use is one line; Ctrl-C stops `serve` without a traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from gateway.testing import free_port, wait_for_banner
from tests.conftest import PG_URL
from tests.helpers import HELPDESK, cli, cli_process, kill_process_group, mail


def _one_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    err = proc.stderr.decode()
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://helpdesk@127.0.0.1/helpdesk", "postgresql+psycopg://"),
        ("postgres://helpdesk@127.0.0.1/helpdesk", "postgresql+psycopg://"),
        ("mysql://helpdesk@127.0.0.1/helpdesk", "MySQL and MariaDB are not supported"),
    ],
)
def test_a_database_url_without_our_driver_says_what_to_write(tmp_path, url, says):
    """postgresql:// (psycopg2) and mysql:// are one line naming what to write instead;
    for the pipe that is a setup error: 75."""
    env = {
        "HELPDESK_DATA_DIR": str(tmp_path / "var"),
        "HELPDESK_DATABASE_URL": url,
        "HELPDESK_PIPE_HANDOFF": "false",  # not to a `make run` on this machine's 2525
    }
    proc = cli(env, "tickets")
    assert proc.returncode == 1
    assert says in _one_line(proc)
    assert cli(env, "ingest", stdin=mail().as_bytes()).returncode == 75


@pytest.mark.skipif(not PG_URL, reason="needs HELPDESK_TEST_DATABASE_URL")
def test_a_missing_postgresql_database_is_named(tmp_path):
    """A server that runs but has no such database says so, not 'not available'."""
    base, _, _ = PG_URL.partition("?")
    url = base.rsplit("/", 1)[0] + "/helpdesk_no_such_db"
    env = {"HELPDESK_DATA_DIR": str(tmp_path / "var"), "HELPDESK_DATABASE_URL": url}
    err = _one_line(cli(env, "tickets"))
    assert 'no database "helpdesk_no_such_db"' in err and "createdb" in err


def test_commands_that_only_read_create_nothing(tmp_path):
    """Run where there is no gateway: listings and a dry sweep say to run init and leave
    no directory, no empty database and no secret.key behind."""
    env = {**os.environ, "HELPDESK_DATA_DIR": str(tmp_path / "var")}
    env.pop("HELPDESK_DATABASE_URL", None)
    for args in (
        ("tickets",),
        ("ticket", "show", "1"),
        ("customers", "list"),
        ("operators", "list"),
        ("held", "list"),
        ("quarantine", "list"),
        ("outbox",),
        ("sweep", "--dry-run"),
    ):
        proc = cli(env, *args)
        assert proc.returncode == 1, args
        assert "helpdesk init" in _one_line(proc), args
    assert list(tmp_path.iterdir()) == []


def test_reading_a_database_elsewhere_makes_no_secret_key(cli_env, tmp_path):
    """The database exists (init ran), the data directory named does not: a listing works
    and creates neither the directory nor a secret.key in it."""
    elsewhere = tmp_path / "elsewhere"
    env = {**cli_env, "HELPDESK_DATA_DIR": str(elsewhere)}
    if cli_env["HELPDESK_DATABASE_URL"].startswith("sqlite"):
        pytest.skip("SQLite lives in the data directory the test needs to be absent")
    assert cli(env, "tickets").returncode == 0
    assert cli(env, "sweep", "--dry-run").returncode == 0
    assert not elsewhere.exists()


def test_an_unknown_helpdesk_variable_is_named_with_the_nearest_setting(tmp_path):
    """HELPDESK_LISEN is not silently ignored: a warning names HELPDESK_LISTEN."""
    env = {"HELPDESK_DATA_DIR": str(tmp_path / "var"), "HELPDESK_LISEN": "lmtp://127.0.0.1:24"}
    err = cli(env, "tickets").stderr.decode()
    assert "HELPDESK_LISEN is not a setting" in err and "HELPDESK_LISTEN" in err


def test_a_port_in_use_is_one_line(cli_env):
    """serve on a busy port: one line naming the setting, exit 1, nothing else printed."""
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**cli_env, "HELPDESK_LISTEN": f"smtp://127.0.0.1:{port}", "HELPDESK_HTTP_LISTEN": ""}
        proc = cli_process(env, "serve")
    assert proc.returncode == 1
    err = _one_line(proc)
    assert "HELPDESK_LISTEN" in err and "in use" in err


@pytest.mark.writer_process
def test_ctrl_c_stops_serve_without_a_traceback(cli_env, tmp_path: Path):
    """SIGINT to serve's process group (what Ctrl-C in a terminal sends): the writer child
    prints no traceback, and serve stops cleanly with exit 0."""
    port = free_port()
    env = {
        **cli_env,
        "HELPDESK_LISTEN": f"smtp://127.0.0.1:{port}",
        "HELPDESK_HTTP_LISTEN": "",
        "HELPDESK_INTAKE_WRITER": "process",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*HELPDESK, "serve"], env=env, stdout=out, stderr=out, start_new_session=True
        )
    try:
        wait_for_banner(port, proc)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kill_process_group(proc)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
