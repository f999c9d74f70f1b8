"""Handing a piped mail to a running ``helpdesk serve``, as RT's ``rt-mailgate`` does.

``helpdesk ingest`` runs once per mail. Storing the mail itself costs a process that
imports SQLAlchemy, the parser and the whole intake (about 0.45 s of CPU; issue 14,
item 15). When ``serve`` runs, this module gives it the envelope and the bytes over
the loopback connection its ``listen`` setting names (SMTP or LMTP), so the pipe
costs an interpreter, the settings and a socket. It imports the standard library's
``socket`` only — not ``smtplib``, whose ``email`` and ``ssl`` imports cost more than
this whole client, and whose LMTP class reads one DATA reply where RFC 2033 §4.2
sends one per recipient.

The answers map to the exit statuses the in-process path gives (DESIGN §6): 250 for
every recipient → 0; a 5xx for the sender, any recipient or the data → 65 (refused
for good, nothing is stored: the transaction is abandoned before DATA); any 4xx, a
connection lost after the greeting, a timeout → 75. A refused connection — no
``serve`` listening — is :data:`NO_LISTENER`: the caller stores the mail in-process.
One transaction per mail, whatever the number of recipients.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlsplit

EX_OK, EX_DATAERR, EX_TEMPFAIL = 0, 65, 75
CONNECT_SECONDS = 5.0  # a listener on the loopback answers at once, or is not there
REPLY_SECONDS = 600.0  # RFC 5321 §4.5.3.2.6: the DATA termination may take 10 minutes
_LINE_END = re.compile(rb"\r\n|\r|\n")
_DOT_LINE = re.compile(rb"^\.", re.MULTILINE)


@dataclass(frozen=True)
class Handed:
    """What became of the hand-off: an exit status and the one line behind it."""

    code: int
    line: str


NO_LISTENER = None  # nothing listens: the caller stores the mail itself


def loopback_target(listen: str) -> tuple[str, int, bool] | None:
    """(host, port, lmtp) of ``serve``'s listener as this host reaches it; None when the
    listen setting names no address of this host's loopback (a wildcard counts)."""
    parts = urlsplit(listen)
    try:
        port = parts.port
        host = parts.hostname or ""
        address = ip_address(host) if host not in ("", "localhost") else None
    except ValueError:
        return None
    if port is None or parts.scheme not in ("smtp", "lmtp"):
        return None
    if address is not None and address.is_unspecified:
        host = "::1" if address.version == 6 else "127.0.0.1"
    elif address is not None and not address.is_loopback:
        return None
    return host or "127.0.0.1", port, parts.scheme == "lmtp"


def wire_data(data: bytes) -> bytes:
    """The DATA section: every line ending as CRLF (RFC 5321 §2.3.8, as smtplib sends it),
    a leading dot doubled (§4.5.2), and the terminating ``.``."""
    body = _LINE_END.sub(b"\r\n", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return _DOT_LINE.sub(b"..", body) + b".\r\n"


class _Refused(Exception):
    """The server answered something other than what the step needs."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code, self.text = code, text


class _Session:
    """One SMTP/LMTP session over a plain socket: send a line, read a reply."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.file = sock.makefile("rb")

    def reply(self) -> tuple[int, str]:
        lines: list[str] = []
        while True:
            raw = self.file.readline(65536)
            if not raw.endswith(b"\n"):
                raise ConnectionError("the connection closed in the middle of a reply")
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(text[4:])
            if len(text) < 4 or text[3:4] != "-":
                try:
                    return int(text[:3]), " ".join(lines).strip()
                except ValueError:
                    raise ConnectionError(f"not an SMTP reply: {text[:60]!r}") from None

    def command(self, line: str, want: int) -> tuple[int, str]:
        self.sock.sendall(line.encode("utf-8") + b"\r\n")
        code, text = self.reply()
        if code != want:
            raise _Refused(code, text)
        return code, text


def hand_off(
    target: tuple[str, int, bool],
    sender: str | None,
    recipients: tuple[str, ...],
    data: bytes,
    reply_seconds: float = REPLY_SECONDS,
) -> Handed | None:
    """Deliver one mail to ``serve``; :data:`NO_LISTENER` when nothing listens there."""
    host, port, lmtp = target
    if any(ch in address for address in (sender or "", *recipients) for ch in "\r\n\x00<>"):
        return NO_LISTENER  # no address of SMTP's syntax: the in-process path judges it
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_SECONDS)
    except (ConnectionRefusedError, socket.gaierror):
        return NO_LISTENER
    except OSError as exc:
        return Handed(EX_TEMPFAIL, f"try again later: the gateway did not answer ({exc})")
    try:
        sock.settimeout(reply_seconds)
        return _converse(_Session(sock), lmtp, sender or "", recipients, data)
    except _Refused as exc:
        return _refused(exc.code, exc.text)
    except (OSError, ConnectionError) as exc:  # reset, timeout, closed
        return Handed(EX_TEMPFAIL, f"try again later: the gateway did not answer ({exc})")
    finally:
        sock.close()


def _refused(code: int, text: str) -> Handed:
    if 500 <= code < 600:
        return Handed(EX_DATAERR, f"refused: {code} {text}")
    return Handed(EX_TEMPFAIL, f"try again later: {code} {text}")


def _converse(
    session: _Session, lmtp: bool, sender: str, recipients: tuple[str, ...], data: bytes
) -> Handed:
    """Greeting, LHLO/EHLO, MAIL, every RCPT, then DATA only if all were taken."""
    code, text = session.reply()
    if code != 220:
        return _refused(code, text)
    session.command(f"{'LHLO' if lmtp else 'EHLO'} localhost", 250)
    utf8 = not all(address.isascii() for address in (sender, *recipients))
    session.command(f"MAIL FROM:<{sender}>{' SMTPUTF8' if utf8 else ''}", 250)
    answers = [_rcpt(session, rcpt) for rcpt in recipients]
    worst = next((a for a in answers if a[0] >= 500), None) or next(
        (a for a in answers if a[0] != 250), None
    )
    if worst is not None:  # one transaction per mail: nothing is stored for anyone
        _quit(session)
        return _refused(*worst)
    session.command("DATA", 354)
    session.sock.sendall(wire_data(data))
    finals = [session.reply() for _ in (recipients if lmtp else recipients[:1])]
    _quit(session)
    failed = [f for f in finals if f[0] >= 500] or [f for f in finals if f[0] != 250]
    if failed:
        return _refused(*failed[0])
    return Handed(EX_OK, f"stored: {finals[0][1]}")


def _rcpt(session: _Session, address: str) -> tuple[int, str]:
    session.sock.sendall(f"RCPT TO:<{address}>\r\n".encode())
    return session.reply()


def _quit(session: _Session) -> None:
    try:
        session.sock.sendall(b"QUIT\r\n")
        session.reply()
    except OSError:
        pass
