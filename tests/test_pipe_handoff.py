"""``helpdesk ingest`` hands the mail to a running ``serve`` (issue 14, item 15; ``cli.handoff``).

A real ``serve`` (the gateway on a real port) and ``helpdesk ingest`` as a real child
process, as Postfix's pipe starts it: the mail is stored *by serve* (its raw row says
``lmtp``/``smtp``, not ``pipe``), the exit status is what the in-process path would give
(0 stored, 65 refused for good, 75 try again), and with nothing listening the pipe
stores the mail itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from sqlalchemy import select, text

from gateway.cli.handoff import hand_off, loopback_target, wire_data
from gateway.store.tables import RawMail, Ticket
from gateway.testing import RunningGateway, free_port, running_gateway
from tests.helpers import SUPPORT, cli_process, mail

HANDOFF = {"HELPDESK_PIPE_HANDOFF": "true"}


@pytest.fixture(params=["lmtp", "smtp"])
def serve(request: pytest.FixtureRequest, settings, clock) -> Iterator[RunningGateway]:
    """``serve`` listening as the ``listen`` setting says: LMTP behind Postfix, or SMTP."""
    with running_gateway(settings, clock, listen=f"{request.param}://127.0.0.1:0") as running:
        yield running


def _env(gw: RunningGateway, **more: str) -> dict[str, str]:
    """The pipe's settings: the same database, data directory and listen setting as serve."""
    s = gw.gateway.settings
    return {
        **os.environ,
        "HELPDESK_DATA_DIR": str(s.data_dir),
        "HELPDESK_DATABASE_URL": s.database_url,
        "HELPDESK_DOMAIN": "example.com",
        "HELPDESK_LISTEN": f"{s.listen_scheme}://127.0.0.1:{gw.port}",
        "HELPDESK_PIPE_HANDOFF": "true",  # conftest turns it off for every other test
        **more,
    }


def _ingest(env: dict[str, str], message: EmailMessage | bytes, *rcpts: str):
    data = message if isinstance(message, bytes) else message.as_bytes()
    args = ["ingest", "--sender", "ivan@example.ru", "--recipient", *(rcpts or (SUPPORT,))]
    return cli_process(env, *args, stdin=data)


def _raw_rows(gw: RunningGateway) -> list[RawMail]:
    with gw.gateway.sessions() as s:
        return list(s.scalars(select(RawMail).order_by(RawMail.id)))


def test_a_piped_mail_is_stored_by_serve(serve):
    """With serve running the pipe hands the mail over: exit 0, one ticket, the raw row
    written by serve's listener (source lmtp/smtp), the bytes as piped (CRLF on the wire)."""
    message = mail()
    proc = _ingest(_env(serve), message, SUPPORT, "support+billing@example.com")
    assert proc.returncode == 0, proc.stderr
    rows = _raw_rows(serve)
    assert [r.source for r in rows] == [serve.gateway.settings.listen_scheme]
    assert rows[0].data.replace(b"\r\n", b"\n") == message.as_bytes()
    with serve.gateway.sessions() as s:
        assert len(list(s.scalars(select(Ticket)))) == 1


def test_an_unknown_recipient_exits_65_and_nothing_is_stored(serve):
    """serve refuses a recipient for good (550): the pipe exits 65 with serve's sentence, and
    the other recipient's copy is not stored either (one transaction per mail)."""
    proc = _ingest(_env(serve), mail(), SUPPORT, "x@elsewhere.org")
    err = proc.stderr.decode()
    assert proc.returncode == 65, err
    assert "550" in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert _raw_rows(serve) == []


@pytest.mark.writer_process
def test_serve_answering_451_exits_75_and_the_retry_stores_it(serve):
    """serve cannot commit (451): the pipe exits 75, nothing is stored; Postfix's retry once
    the database is back stores the mail once."""
    engine = serve.gateway.engine
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE messages RENAME TO messages_away"))
    message = mail(msgid="<while-broken@example.ru>")
    try:
        proc = _ingest(_env(serve), message)
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE messages_away RENAME TO messages"))
    assert proc.returncode == 75, proc.stderr
    assert b"451" in proc.stderr
    assert _raw_rows(serve) == []
    assert _ingest(_env(serve), message).returncode == 0
    assert len(_raw_rows(serve)) == 1


def test_with_no_serve_the_pipe_stores_the_mail_itself(cli_env):
    """Nothing listens where the listen setting points: the mail is stored in-process."""
    env = {**cli_env, "HELPDESK_LISTEN": f"lmtp://127.0.0.1:{free_port()}", **HANDOFF}
    proc = _ingest(env, mail())
    assert proc.returncode == 0, proc.stderr
    assert b"stored" in proc.stdout


def test_the_setting_turns_the_hand_off_off(serve):
    """HELPDESK_PIPE_HANDOFF=false: the pipe stores the mail itself although serve runs."""
    proc = _ingest(_env(serve, HELPDESK_PIPE_HANDOFF="false"), mail())
    assert proc.returncode == 0, proc.stderr
    assert [r.source for r in _raw_rows(serve)] == ["pipe"]


def test_the_hand_off_imports_nothing_of_the_store(serve):
    """The hand-off costs an interpreter, the settings and a socket: no SQLAlchemy, no intake,
    no parser, not even smtplib (bench/pipe.py has the CPU figure)."""
    probe = (
        "import sys; from gateway.cli import main\n"
        "code = main(['ingest', '--sender', 'ivan@example.ru'])\n"
        "heavy = ['sqlalchemy', 'gateway.store', 'gateway.intake', 'gateway.app', 'gateway.mail',\n"
        "         'smtplib', 'email.parser', 'ssl']\n"
        "print(code, ','.join(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        input=mail().as_bytes(),
        capture_output=True,
        env=_env(serve),
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().splitlines()[-1] == "0 ", proc.stdout
    assert len(_raw_rows(serve)) == 1


class _Split:
    """An LMTP server (aiosmtpd) answering DATA per recipient as scripted: partial answers."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "\r\n".join(self.answers)


class _LmtpController(Controller):
    def factory(self) -> LMTP:
        return LMTP(self.handler)


@pytest.mark.parametrize(
    ("answers", "code"),
    [
        (["250 2.0.0 ok", "451 4.3.0 later"], 75),
        (["250 2.0.0 ok", "550 5.1.1 gone"], 65),
        (["250 2.0.0 ok", "250 2.0.0 ok"], 0),
    ],
)
def test_lmtp_partial_answers_never_exit_0_unless_every_copy_is_stored(
    cli_env, answers, code
):
    """RFC 2033 answers DATA once per recipient: 0 only when every copy was stored; a 4xx for
    one is 75 (the retry is a no-op for the stored copy), a 5xx is 65."""
    port = free_port()
    controller = _LmtpController(_Split(answers), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        env = {**cli_env, "HELPDESK_LISTEN": f"lmtp://127.0.0.1:{port}", **HANDOFF}
        proc = _ingest(env, mail(), SUPPORT, "support+two@example.com")
    finally:
        controller.stop()
    assert proc.returncode == code, proc.stderr


@contextmanager
def _hangs_up_after_greeting() -> Iterator[int]:
    """A listener that greets and closes the connection: serve dying mid-session."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"220 going away\r\n")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        listener.close()
        thread.join(5)


def test_a_connection_lost_mid_session_exits_75(cli_env):
    """serve goes away after the greeting: 75 (Postfix keeps the mail), never a fallback
    that could store it twice, never a traceback."""
    with _hangs_up_after_greeting() as port:
        env = {**cli_env, "HELPDESK_LISTEN": f"lmtp://127.0.0.1:{port}", **HANDOFF}
        proc = _ingest(env, mail())
    err = proc.stderr.decode()
    assert proc.returncode == 75, err
    assert "Traceback" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("piped", "on_the_wire"),
    [
        (b"a\nb\n", b"a\r\nb\r\n.\r\n"),
        (b"a\r\nb", b"a\r\nb\r\n.\r\n"),
        (b".\n..x\nmid.dle\n", b"..\r\n...x\r\nmid.dle\r\n.\r\n"),
        (b"lone\rcr\n", b"lone\r\ncr\r\n.\r\n"),
    ],
)
def test_data_is_sent_line_for_line_with_dots_doubled(piped, on_the_wire):
    """RFC 5321 §4.5.2: a leading dot is doubled, so a line "." never ends the mail early."""
    assert wire_data(piped) == on_the_wire


@pytest.mark.parametrize(
    ("listen", "target"),
    [
        ("lmtp://127.0.0.1:2424", ("127.0.0.1", 2424, True)),
        ("smtp://0.0.0.0:25", ("127.0.0.1", 25, False)),
        ("smtp://[::]:25", ("::1", 25, False)),
        ("smtp://[::1]:2525", ("::1", 2525, False)),
        ("lmtp://localhost:2424", ("localhost", 2424, True)),
        ("smtp://192.0.2.10:25", None),  # an address of another interface: not this pipe's
        ("smtp://mx.example.com:25", None),
    ],
)
def test_the_pipe_hands_off_only_to_this_hosts_loopback(listen, target):
    """The listen setting names where serve is; a wildcard is reached on the loopback, and an
    address elsewhere is never handed mail (the pipe stores it itself)."""
    assert loopback_target(listen) == target


def test_a_serve_that_never_answers_is_75(cli_env):
    """A listener that accepts and then says nothing: the hand-off gives up at its timeout
    with 75 (Postfix keeps the mail), never a hang and never a second copy in-process."""
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        target = ("127.0.0.1", listener.getsockname()[1], True)
        handed = hand_off(target, "ivan@example.ru", (SUPPORT,), b"x", reply_seconds=0.5)
    finally:
        listener.close()
    assert handed is not None and handed.code == 75, handed
