"""Building mails and talking SMTP in tests: real sockets, the standard library."""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable
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


def cli(
    settings_env: dict[str, str], *args: str, stdin: bytes = b""
) -> subprocess.CompletedProcess:
    """Run the real ``helpdesk`` command in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        input=stdin,
        capture_output=True,
        env=settings_env,
        timeout=120,
    )


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
