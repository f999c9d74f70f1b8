"""``helpdesk ingest`` as an MTA's pipe transport runs it (issue 14, items 14 and 15).

Postfix reads only the exit status: 0 delivered, 65 bounced for good (the output is
quoted to the sender), 75 kept in the queue and tried again. So only a message the
gateway refuses may exit 65; a setup mistake — a bad master.cf line, a missing or
broken config, a database away or without schema — exits 75 and the mail waits for
the fix. What is printed names no path or URL of ours.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import cli, mail

HEAVY = (
    "alembic",
    "aiosmtpd",
    "aiosmtplib",
    "apscheduler",
    "cryptography",
    "dkim",
    "jinja2",
    "starlette",
    "tqdm",
    "uvicorn",
    "gateway.app.gateway",
    "gateway.smtp",
    "gateway.web",
    "gateway.schedule.scheduler",
)


def _tempfail_without_our_paths(proc: subprocess.CompletedProcess[bytes], *private: object) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == 75, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for secret in private:
        assert str(secret) not in err, err
    return err


def test_setup_mistakes_exit_75_and_name_no_path(cli_env, tmp_path):
    """A missing or broken config, and a master.cf usage error, keep the mail queued (75)."""
    message = mail().as_bytes()
    missing = tmp_path / "etc" / "helpdesk.toml"
    proc = cli(cli_env, "--config", str(missing), "ingest", stdin=message)
    _tempfail_without_our_paths(proc, tmp_path)
    broken = tmp_path / "broken.toml"
    broken.write_text("listen = [unclosed\n")
    proc = cli(cli_env, "--config", str(broken), "ingest", stdin=message)
    _tempfail_without_our_paths(proc, tmp_path)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('lissten = "smtp://127.0.0.1:2525"\n')
    proc = cli(cli_env, "--config", str(unknown), "ingest", stdin=message)
    _tempfail_without_our_paths(proc, tmp_path)
    bad_value = {**cli_env, "HELPDESK_LISTEN": "ftp://127.0.0.1:21"}
    _tempfail_without_our_paths(cli(bad_value, "ingest", stdin=message))
    assert cli(cli_env, "ingest", "--sendr", "a@b.c", stdin=message).returncode == 75
    assert cli(cli_env, "ingest", "--recipient", stdin=message).returncode == 75
    # Outside the pipe a usage error stays what it was: 2.
    assert cli(cli_env, "tickets", "--bogus").returncode == 2


def test_a_database_without_schema_exits_75(tmp_path):
    """A database `helpdesk init` never made: the mail waits (75), and nothing is created."""
    env = {
        **os.environ,
        "HELPDESK_DATA_DIR": str(tmp_path / "var"),
        "HELPDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'helpdesk.db'}",
        "HELPDESK_DOMAIN": "example.com",
    }
    proc = cli(env, "ingest", stdin=mail().as_bytes())
    err = _tempfail_without_our_paths(proc, tmp_path)
    assert "helpdesk init" in err


def test_a_database_away_exits_75_without_its_url(cli_env):
    """The database down: 75, and the URL (host, user) is not quoted to the sender."""
    down = {**cli_env, "HELPDESK_DATABASE_URL": "postgresql+psycopg://secretuser@127.0.0.1:1/db"}
    _tempfail_without_our_paths(cli(down, "ingest", stdin=mail().as_bytes()), "secretuser")


def test_only_a_refused_message_exits_65(cli_env):
    """A recipient we do not serve and an oversized mail are the message's fault: 65."""
    proc = cli(cli_env, "ingest", "--recipient", "x@elsewhere.org", stdin=mail().as_bytes())
    assert proc.returncode == 65 and b"not served" in proc.stderr
    small = {**cli_env, "HELPDESK_MAX_MESSAGE_SIZE": "1024"}
    big = mail(body="x" * 5000).as_bytes()
    proc = cli(small, "ingest", stdin=big)
    assert proc.returncode == 65 and b"over the limit" in proc.stderr


def test_recipient_takes_every_address_postfix_passes(cli_env):
    """`--recipient ${recipient}` expands to one argument per recipient: a reply-all to two
    gateway addresses is stored once, not bounced as a usage error."""
    proc = cli(
        cli_env,
        "ingest",
        "--sender",
        "ivan@example.ru",
        "--recipient",
        "support@example.com",
        "support+billing@example.com",
        stdin=mail().as_bytes(),
    )
    assert proc.returncode == 0, proc.stderr
    tickets = json.loads(cli(cli_env, "tickets", "--json").stdout)
    assert len(tickets) == 1


def test_ingest_imports_only_what_storing_needs(cli_env):
    """One process per piped mail stored in-process (no serve to hand it to): the listeners,
    the page, the scheduler, the templates, Alembic and the bounce detectors stay unimported,
    and on SQLite so does SQLAlchemy's PostgreSQL dialect (each is CPU an MTA pays per mail;
    bench/pipe.py has the figure)."""
    heavy = (*HEAVY, "flufl.bounce")
    if cli_env["HELPDESK_DATABASE_URL"].startswith("sqlite"):
        heavy += ("sqlalchemy.dialects.postgresql",)
    cli_env = {**cli_env, "HELPDESK_PIPE_HANDOFF": "false"}
    probe = (
        "import sys; from gateway.cli import main\n"
        "code = main(['ingest', '--sender', 'ivan@example.ru'])\n"
        f"heavy = [m for m in {heavy!r} if m in sys.modules]\n"
        "print(code, ','.join(heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        input=mail().as_bytes(),
        capture_output=True,
        env=cli_env,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    code, _, heavy = proc.stdout.decode().splitlines()[-1].partition(" ")
    assert code == "0", proc.stderr
    assert heavy == "", f"ingest imported {heavy}"


def test_a_pipe_pointed_at_no_database_leaves_nothing_behind(tmp_path):
    """No database where the settings point: 75, and no data directory or secret.key made."""
    env = {
        "HELPDESK_DATA_DIR": str(tmp_path / "var"),
        "HELPDESK_DOMAIN": "example.com",
        "HELPDESK_PIPE_HANDOFF": "false",  # not to a `make run` on this machine's 2525
    }
    proc = cli(env, "ingest", stdin=mail().as_bytes())
    _tempfail_without_our_paths(proc, tmp_path)
    assert list(tmp_path.iterdir()) == []
