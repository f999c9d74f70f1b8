"""Building mails and talking SMTP in tests: real sockets, the standard library."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import make_msgid
from typing import Any

from gateway.testing import RunningGateway

SUPPORT = "support@example.com"


def mail(
    subject: str = "Не работает сайт",
    body: str = "Здравствуйте! Сайт example.ru отдаёт 502 с утра.",
    *,
    sender: str = "ivan@example.ru",
    to: str = SUPPORT,
    msgid: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Иван Петров <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = msgid or make_msgid(domain="example.ru")
    msg["Date"] = "Wed, 25 Nov 2026 10:00:00 +0300"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    return msg


def plain_text(message: Any) -> str:
    """The text part as a reader sees it: ``format=flowed`` soft breaks (a space before the
    line end) joined again and space-stuffing undone, as mail clients do (RFC 3676)."""
    part = message.get_body(("plain",))
    assert part is not None, "no text/plain part"
    text = part.get_content().replace("\r\n", "\n")
    if part.get_param("format") != "flowed":
        return text
    lines: list[tuple[int, str]] = []  # (quote depth, text)
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        body = body[1:] if body.startswith(" ") else body
        last = lines[-1] if lines else None
        if last and last[0] == depth and last[1].endswith(" ") and last[1] != "-- ":
            lines[-1] = (depth, last[1] + body)
        else:
            lines.append((depth, body))
    return "\n".join(f"{'>' * d} {b}".rstrip() if d else b for d, b in lines)


def wire(message: EmailMessage) -> bytes:
    """The message as it travels: CRLF line ends (smtplib sends bytes as given)."""
    return message.as_bytes(policy=SMTP_POLICY)


def send(
    gw: RunningGateway,
    message: EmailMessage | bytes,
    *,
    sender: str = "ivan@example.ru",
    rcpts: tuple[str, ...] = (SUPPORT,),
) -> tuple[int, str]:
    """One SMTP session; returns the reply to DATA (code, text)."""
    data = wire(message) if isinstance(message, EmailMessage) else message
    with smtplib.SMTP(gw.host, gw.port, timeout=30) as client:
        client.ehlo("client.example.ru")
        code, text = client.mail(sender)
        assert code == 250, text
        for rcpt in rcpts:
            code, text = client.rcpt(rcpt)
            if code != 250:
                return code, text.decode()
        code, text = client.data(data)
        return code, text.decode()


HELPDESK = (sys.executable, "-m", "gateway.cli")
"""The real ``helpdesk`` command, for ``subprocess``: what an MTA's pipe or a shell starts."""


def cli(
    settings_env: Mapping[str, str], *args: str, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    """``helpdesk ARGS`` run in this process, answered like ``subprocess.run``.

    ``gateway.cli.main`` runs with ``settings_env`` as the whole environment,
    ``stdin`` readable as ``sys.stdin`` and ``sys.stdin.buffer``, and what it
    prints captured as bytes; the return code is main()'s (argparse's exit as
    its code). Warnings the command logs land on stderr, as in a process of its
    own (``logging.lastResort``). A child process costs a second of imports per
    call; tests about the process itself use :func:`cli_process`.
    """
    from gateway.cli import main

    saved_environ = dict(os.environ)
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    stdin_text = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    logged = logging.StreamHandler(stderr)
    logged.setLevel(logging.WARNING)
    root = logging.getLogger()
    os.environ.clear()
    os.environ.update(settings_env)
    sys.stdin, sys.stdout, sys.stderr = stdin_text, stdout, stderr
    root.addHandler(logged)
    try:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --help, a usage error
            code = _exit_status(exc.code, stderr)
        stdout.flush()
        stderr.flush()
    finally:
        root.removeHandler(logged)
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.environ.clear()
        os.environ.update(saved_environ)
        for stream in (stdin_text, stdout, stderr):
            stream.detach()  # keep the bytes: closing the wrapper would close them
    return subprocess.CompletedProcess(["helpdesk", *args], code, out.getvalue(), err.getvalue())


def _exit_status(code: object, stderr: io.TextIOBase) -> int:
    """What a process exiting with ``SystemExit(code)`` reports to its parent."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=stderr)
    return 1


def cli_process(
    settings_env: Mapping[str, str], *args: str, stdin: bytes = b"", timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """``helpdesk ARGS`` in a real child process: for tests about the process itself
    (the exit status an MTA's pipe transport sees, ``serve``); otherwise use :func:`cli`."""
    return subprocess.run(
        [*HELPDESK, *args],
        input=stdin,
        capture_output=True,
        env=dict(settings_env),
        timeout=timeout,
    )


def kill_process_group(proc: subprocess.Popen) -> None:
    """SIGKILL whatever is left of a child started with ``start_new_session=True``.

    A SIGKILLed parent cannot stop its own children: a spawn pool's worker (and the
    resource tracker it keeps open) then waits for work forever. Call it after the
    parent's end, so the test's crash stays the parent's alone.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def show(gw: RunningGateway, number: int) -> dict[str, Any]:
    from gateway import views

    w = gw.gateway.wiring
    with w.sessions() as session:
        detail = views.ticket_detail(session, number, policy=w.policy, now=w.clock())
    assert detail is not None, f"no ticket #{number}"
    return json.loads(json.dumps(detail))


def tickets(gw: RunningGateway) -> list[dict[str, Any]]:
    from gateway import views

    w = gw.gateway.wiring
    with w.sessions() as session:
        return views.tickets(session, status=None, customer=None, policy=w.policy, now=w.clock())


def until(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll ``check`` until it holds or ``timeout`` passes; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def stop_dispatcher(gw: RunningGateway) -> None:
    """Stop serve's own dispatcher: the outbox then waits for a test's own passes."""
    gw.gateway._dispatch_stop.set()
    assert until(lambda: gw.gateway._dispatch_task.done())  # type: ignore[union-attr]


def one_pass_through_the_workers(gw: RunningGateway) -> int:
    """One pass of a new dispatcher, whose delivery workers (a chunk of ten or more)
    build and send what is due; how many rows it claimed."""

    async def one_pass() -> int:
        dispatcher = gw.gateway.make_dispatcher()
        try:
            claimed = await dispatcher.run_once()
            assert dispatcher._agents._pool is not None  # a worker process built and sent them
            return claimed
        finally:
            await dispatcher.close()

    return asyncio.run(one_pass())


def wake_dispatcher(gw: RunningGateway) -> None:
    """Let serve's dispatcher look for due rows now, not at its next one-second poll."""
    dispatcher = gw.gateway.dispatcher
    assert dispatcher is not None
    gw._loop.call_soon_threadsafe(dispatcher.wake.set)


def dispatcher_passes(gw: RunningGateway, count: int = 2, timeout: float = 15.0) -> None:
    """Block until serve's dispatcher has made ``count`` more passes over the outbox.

    Two passes after a commit are enough to see its effect: the pass under way may
    have begun before it, the next began after, so every row due then has been sent
    or marked by the time it ends. What a test then finds absent was not queued.
    """
    dispatcher = gw.gateway.dispatcher
    assert dispatcher is not None
    target = dispatcher.passes + count
    deadline = time.monotonic() + timeout
    while dispatcher.passes < target:
        assert time.monotonic() < deadline, f"the dispatcher made no {count} passes in {timeout} s"
        wake_dispatcher(gw)
        time.sleep(0.02)
