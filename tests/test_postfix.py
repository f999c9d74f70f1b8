"""The Postfix recipe of deploy/postfix/, run by a real Postfix (issue 14, item 16).

A PRIVATE Postfix — its own config, queue and data directories under a temporary
directory, listening on 127.0.0.1 and a free port, started with ``postfix -c DIR
start`` — gets the recipe's main.cf and master.cf fragments and maps, with only the
paths, the port and the pipe's user changed. Through it, mail reaches one gateway
over LMTP (``support@``) and over the pipe transport (``support+pipe@``, which the
transport map sends to ``helpdesk ingest``): each mail arrives once; with the gateway
stopped (LMTP: no listener; pipe: its config gone, so it exits 75) Postfix defers
it, and after ``postqueue -f`` it arrives once; an unknown address is refused in the
SMTP session. The system's own Postfix is never touched.

Needs Debian's postfix and root (Postfix's master starts as root and the pipe runs as
``nobody``); skipped without them unless ``HELPDESK_REQUIRE_POSTFIX=1`` (.ci/run).
"""

from __future__ import annotations

import os
import shutil
import smtplib
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gateway.config import Settings
from gateway.testing import free_port, running_gateway
from tests.helpers import mail, until, wire

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy" / "postfix"
POSTFIX = Path("/usr/sbin/postfix")
SYSTEM_PYTHON = Path("/usr/bin/python3")
SECRET = "postfix-test-secret"

pytestmark = [pytest.mark.postfix, pytest.mark.slow]


def _can_run() -> str:
    """Why this machine cannot run a private Postfix, or '' when it can."""
    if not POSTFIX.exists():
        return f"{POSTFIX} is absent (apt-get install postfix)"
    if os.geteuid() != 0:
        return "Postfix's master must start as root"
    if not SYSTEM_PYTHON.exists():
        return f"{SYSTEM_PYTHON} is absent: the pipe user needs an interpreter it can execute"
    return ""


@pytest.fixture(scope="module", autouse=True)
def _postfix_available() -> None:
    reason = _can_run()
    if reason and os.environ.get("HELPDESK_REQUIRE_POSTFIX") == "1":
        pytest.fail(f"HELPDESK_REQUIRE_POSTFIX=1 but {reason}")
    if reason:
        pytest.skip(reason)


def _base_main_cf(conf: Path, port_log: Path) -> str:
    """What a Postfix needs to run privately here; the recipe's lines are appended to it."""
    return "\n".join(
        [
            "compatibility_level = 3.6",
            f"queue_directory = {conf / 'queue'}",
            f"data_directory = {conf / 'data'}",
            "mail_owner = postfix",
            "setgid_group = postdrop",
            "myhostname = mx.test.invalid",
            "mydestination =",
            "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4",
            "mynetworks = 127.0.0.0/8",
            "alias_maps =",
            "alias_database =",
            f"maillog_file_prefixes = {conf}",
            f"maillog_file = {port_log}",
            "",
        ]
    )


_SERVICES = """\
pickup    unix  n  -  n  60  1  pickup
cleanup   unix  n  -  n  -  0  cleanup
qmgr      unix  n  -  n  300  1  qmgr
rewrite   unix  -  -  n  -  -  trivial-rewrite
bounce    unix  -  -  n  -  0  bounce
defer     unix  -  -  n  -  0  bounce
trace     unix  -  -  n  -  0  bounce
verify    unix  -  -  n  -  1  verify
flush     unix  n  -  n  1000  0  flush
proxymap  unix  -  -  n  -  -  proxymap
proxywrite unix -  -  n  -  1  proxymap
smtp      unix  -  -  n  -  -  smtp
relay     unix  -  -  n  -  -  smtp
showq     unix  n  -  n  -  -  showq
error     unix  -  -  n  -  -  error
retry     unix  -  -  n  -  -  error
discard   unix  -  -  n  -  -  discard
lmtp      unix  -  -  n  -  -  lmtp
anvil     unix  -  -  n  -  1  anvil
scache    unix  -  -  n  -  1  scache
postlog   unix-dgram n  -  n  -  1  postlogd
"""


def _recipe(name: str, conf: Path, **swap: str) -> str:
    """A file of deploy/postfix/ with its paths pointed at the private instance."""
    body = (DEPLOY / name).read_text()
    body = body.replace("/etc/postfix/", f"{conf}/")
    for old, new in swap.items():
        body = body.replace(old, new)
    return body


def _reachable_by_others(path: Path) -> bool:
    """Can a user who is neither owner nor group (the pipe's `nobody`) read below ``path``?"""
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _pipe_interpreter(shared: Path) -> str:
    """A venv of /usr/bin/python3 that `nobody` can execute, seeing this checkout and its
    libraries (plain .pth paths): what the README asks of a real install. Where this
    checkout sits below a directory others cannot enter (/root), both are copied over."""
    venv = shared / "venv"
    subprocess.run(
        [SYSTEM_PYTHON, "-m", "venv", "--without-pip", venv], check=True, capture_output=True
    )
    probe = subprocess.run(
        [venv / "bin" / "python", "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    if probe.stdout.strip() != str(sys.version_info[:2]):
        pytest.skip(f"{SYSTEM_PYTHON} is not this Python's version: its libraries would not load")
    source, libraries = REPO, Path(sysconfig.get_path("purelib"))
    if not (_reachable_by_others(source) and _reachable_by_others(libraries)):
        source, libraries = shared / "source", shared / "libraries"
        unneeded = shutil.ignore_patterns("__pycache__", "playwright*", "pip", "pip-*", "_pytest")
        shutil.copytree(REPO / "gateway", source / "gateway", ignore=unneeded)
        shutil.copytree(sysconfig.get_path("purelib"), libraries, ignore=unneeded)
    purelib = sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
    Path(purelib, "_helpdesk.pth").write_text(f"{source}\n{libraries}\n")
    return f"{venv}/bin/python -m gateway.cli"


@dataclass
class Instance:
    conf: Path
    port: int
    lmtp_port: int
    config: Path  # the pipe's helpdesk.toml

    def send(self, rcpt: str, msgid: str) -> None:
        data = wire(mail(subject=f"через Postfix {msgid}", msgid=msgid))
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            refused = client.sendmail("ivan@example.ru", [rcpt], data)
        assert not refused

    def deferred(self) -> int:
        return sum(1 for p in (self.conf / "queue" / "deferred").rglob("*") if p.is_file())

    def flush(self) -> None:
        subprocess.run(["postqueue", "-c", self.conf, "-f"], check=True, capture_output=True)

    def log(self) -> str:
        path = self.conf / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory `nobody` (the pipe's user) and `postfix` may enter."""
    path = Path(tempfile.mkdtemp(prefix="helpdesk-postfix-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def pipe_settings(settings: Settings, shared: Path) -> Settings:
    """The gateway's settings where the pipe's user can reach its database and data."""
    data = shared / "var"
    data.mkdir()
    url = settings.database_url
    if url.startswith("sqlite"):
        url = f"sqlite:///{data / 'helpdesk.db'}"
    return replace(settings, data_dir=data, database_url=url, secret=SECRET)


@pytest.fixture
def postfix(shared: Path, pipe_settings: Settings) -> Iterator[Instance]:
    conf = shared / "postfix"
    (conf / "queue").mkdir(parents=True)
    (conf / "data").mkdir()
    shutil.chown(conf / "data", "postfix")
    port, lmtp_port = free_port(), free_port()
    config = shared / "helpdesk.toml"
    s = pipe_settings
    config.write_text(
        f'domain = "{s.domain}"\ndata_dir = "{s.data_dir}"\n'
        f'database_url = "{s.database_url}"\nsecret = "{SECRET}"\n'
    )
    main_cf = _base_main_cf(conf, conf / "maillog") + _recipe("main.cf", conf)
    (conf / "main.cf").write_text(main_cf)
    master_cf = (
        f"127.0.0.1:{port} inet n - n - - smtpd\n"
        + _SERVICES
        + _recipe(
            "master.cf",
            conf,
            **{
                "user=helpdesk": "user=nobody",
                "/srv/helpdesk/venv/bin/helpdesk": _pipe_interpreter(shared),
                "/etc/helpdesk/helpdesk.toml": str(config),
            },
        )
    )
    (conf / "master.cf").write_text(master_cf)
    transport = _recipe("helpdesk_transport", conf, **{"127.0.0.1:2424": f"127.0.0.1:{lmtp_port}"})
    (conf / "helpdesk_transport").write_text(transport + "support+pipe@example.com  helpdesk:\n")
    (conf / "helpdesk_recipients").write_text(_recipe("helpdesk_recipients", conf))
    for name in ("helpdesk_transport", "helpdesk_recipients"):
        subprocess.run(["postmap", "-c", conf, f"hash:{conf / name}"], check=True)
    subprocess.run([POSTFIX, "-c", conf, "start"], check=True, capture_output=True)
    instance = Instance(conf, port, lmtp_port, config)
    try:
        assert until(_answers(port), timeout=30), instance.log()
        yield instance
    finally:
        subprocess.run([POSTFIX, "-c", conf, "stop"], capture_output=True)
        pid = conf / "queue" / "pid" / "master.pid"
        until(lambda: not _alive(pid), timeout=30)


def _answers(port: int):
    def check() -> bool:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                return client.noop()[0] == 250
        except OSError:
            return False

    return check


def _alive(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text().split()[0]), 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def _arrived(settings: Settings, msgid: str) -> int:
    engine = create_engine(settings.db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT count(*) FROM messages WHERE message_id LIKE :m"),
                {"m": f"%{msgid.strip('<>')}%"},
            ).scalar_one()
    finally:
        engine.dispose()


def _give_to_nobody(path: Path) -> None:
    for item in [path, *path.rglob("*")]:
        shutil.chown(item, "nobody", "nogroup")


def test_postfix_delivers_over_lmtp_and_the_pipe_once_and_retries_after_an_outage(
    postfix: Instance, pipe_settings: Settings
):
    """Through the recipe: each mail arrives once; with the gateway stopped Postfix keeps it
    (deferred) and after `postqueue -f` it arrives once; an unknown address gets 550 at RCPT."""
    lmtp = replace(pipe_settings, listen=f"lmtp://127.0.0.1:{postfix.lmtp_port}")
    first_lmtp, first_pipe = make_msgid(domain="lmtp.test"), make_msgid(domain="pipe.test")
    with running_gateway(lmtp):
        _give_to_nobody(pipe_settings.data_dir)
        postfix.send("support@example.com", first_lmtp)
        postfix.send("support+pipe@example.com", first_pipe)
        assert until(lambda: _arrived(lmtp, first_lmtp) == 1, 60), postfix.log()
        assert until(lambda: _arrived(lmtp, first_pipe) == 1, 60), postfix.log()

    # The gateway is down: no LMTP listener, and the pipe's config is gone (exit 75).
    later_lmtp, later_pipe = make_msgid(domain="lmtp.test"), make_msgid(domain="pipe.test")
    hidden = postfix.config.with_suffix(".away")
    postfix.config.rename(hidden)
    postfix.send("support@example.com", later_lmtp)
    postfix.send("support+pipe@example.com", later_pipe)
    assert until(lambda: postfix.deferred() == 2, 60), postfix.log()
    assert "status=bounced" not in postfix.log()
    assert _arrived(lmtp, later_lmtp) == 0 and _arrived(lmtp, later_pipe) == 0

    hidden.rename(postfix.config)
    with running_gateway(lmtp):
        postfix.flush()
        assert until(lambda: _arrived(lmtp, later_lmtp) == 1, 60), postfix.log()
        assert until(lambda: _arrived(lmtp, later_pipe) == 1, 60), postfix.log()
        assert until(lambda: postfix.deferred() == 0, 60), postfix.log()
    for msgid in (first_lmtp, first_pipe, later_lmtp, later_pipe):
        assert _arrived(lmtp, msgid) == 1, msgid
    assert "status=bounced" not in postfix.log()

    with smtplib.SMTP("127.0.0.1", postfix.port, timeout=30) as client:
        client.ehlo("client.example.ru")
        client.mail("ivan@example.ru")
        code, reply = client.rcpt("nobody@example.com")
    assert code == 550 and b"5.1.1" in reply
