"""A mail to the smarthost in two round trips instead of four (SMTP PIPELINING, RFC 2920).

Without pipelining every notification waits for the smarthost four times
(MAIL, RCPT, DATA, the end of the data), each a write and a wake-up of the
delivery worker: a third of a worker's CPU with three operators (issue 16).
Every MTA a smarthost runs on (Postfix, Exim, Sendmail) offers PIPELINING, and
Postfix's own SMTP client writes MAIL, RCPT and DATA as one packet.

aiosmtplib cannot: its protocol reads one reply per command and drops a reply
that arrives before the last was taken. So aiosmtplib still connects, greets,
starts TLS and logs in — the parts that need care — and then :class:`Replies`
takes the connection's transport over and keeps every reply, in order.
:func:`transactions` then writes a mail's envelope and DATA at once, and its
body, once the smarthost said 354, together with the next mail's envelope. A
refusal is returned, with the step that drew it, for the caller to judge.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import NamedTuple

_MAX_REPLY = 64 * 1024  # a reply longer than this is not SMTP: the connection is dropped


class Reply(NamedTuple):
    code: int
    message: str


class Refusal(NamedTuple):
    """The smarthost would not take the mail: at which step, and what it said."""

    step: str  # "MAIL", "RCPT", "DATA", or "end" (the reply to the data itself)
    code: int
    message: str


class Replies(asyncio.Protocol):
    """The connection's protocol after the take-over: every reply queued in order."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._buffer = bytearray()
        self._lines: list[bytes] = []  # the lines of a multi-line reply so far
        self._ready: deque[Reply] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._lost: str | None = None
        transport.set_protocol(self)

    @property
    def usable(self) -> bool:
        return self._lost is None and not self.transport.is_closing()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            self._lines.append(line)
            if line[3:4] != b"-":  # "250-..." continues; "250 ..." ends the reply
                self._ready.append(_reply(self._lines))
                self._lines = []
        if len(self._buffer) > _MAX_REPLY:
            self._drop("the smarthost sent a line too long for SMTP")
        self._wake()

    def eof_received(self) -> bool:
        self._drop("the smarthost closed the connection")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._drop(f"connection lost: {exc}" if exc else "the smarthost closed the connection")

    def _drop(self, why: str) -> None:
        if self._lost is None:
            self._lost = why
        self.transport.close()
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def write(self, data: bytes) -> None:
        if not self.usable:
            raise ConnectionError(self._lost or "the connection is closing")
        self.transport.write(data)

    async def reply(self, timeout: float) -> Reply:
        """The next reply: at once if it has come, else when it comes."""
        while not self._ready:
            if self._lost is not None:
                raise ConnectionError(self._lost)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._waiter
            except TimeoutError:
                self._drop(f"no answer from the smarthost in {timeout:.0f} s")
                raise TimeoutError(self._lost) from None
            finally:
                self._waiter = None
        return self._ready.popleft()

    async def close(self, timeout: float = 5) -> None:
        """QUIT, as a polite client does, and close whatever the answer."""
        try:
            self.write(b"QUIT\r\n")
            await self.reply(timeout)
        except (ConnectionError, TimeoutError):
            pass
        self.transport.close()


def _reply(lines: list[bytes]) -> Reply:
    try:
        code = int(lines[-1][:3])
    except ValueError:
        code = 0  # not SMTP: neither 2xx nor 5xx, so the mail is tried again later
    text = "\n".join(line[4:].strip().decode("utf-8", "replace") for line in lines)
    return Reply(code, text)


Mail = tuple[str, str, bytes]  # envelope sender, recipient, wire-form bytes


async def transactions(
    replies: Replies, mails: list[Mail], timeout: float
) -> list[Refusal | Exception | None]:
    """Send mails of wire-form bytes (CRLF line ends, ending in CRLF), one after another.

    A mail's envelope and DATA go as one write; its body goes with the next mail's
    envelope (RFC 2920 lets the data be the first "command" of a group), so a
    mail costs one write and one wake-up, as with Postfix's own client. The replies
    of a mail are all read before judging it, so the connection stays in step
    whatever was refused. Each mail's outcome: None (taken), a :class:`Refusal`,
    or the ConnectionError or TimeoutError that ended the connection, which every
    mail not yet answered shares.
    """
    out: list[Refusal | Exception | None] = []
    if not mails:
        return out
    try:
        replies.write(_envelope(mails[0]))
        for i, (_, _, wire) in enumerate(mails):
            following = _envelope(mails[i + 1]) if i + 1 < len(mails) else b""
            mail = await replies.reply(timeout)
            rcpt = await replies.reply(timeout)
            data = await replies.reply(timeout)
            refusal = None
            if mail.code != 250:
                refusal = Refusal("MAIL", *mail)
            elif rcpt.code not in (250, 251):
                refusal = Refusal("RCPT", *rcpt)
            elif data.code != 354:
                refusal = Refusal("DATA", *data)
            if refusal is not None:
                if data.code == 354:  # a server that took DATA with no recipient: end it, empty
                    replies.write(b".\r\n")
                    await replies.reply(timeout)
                replies.write(b"RSET\r\n" + following)  # the next mail: a clean envelope
                await replies.reply(timeout)
                out.append(refusal)
                continue
            replies.write(_stuffed(wire) + b".\r\n" + following)
            end = await replies.reply(timeout)
            out.append(None if end.code == 250 else Refusal("end", *end))
    except (ConnectionError, TimeoutError) as exc:
        out += [exc] * (len(mails) - len(out))
    return out


def _envelope(mail: Mail) -> bytes:
    sender, to, _ = mail
    return b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (sender.encode(), to.encode())


def _stuffed(wire: bytes) -> bytes:
    """Dot-stuffing (RFC 5321 4.5.2): a line that begins with "." gets one more."""
    stuffed = wire.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed[:1] == b"." else stuffed
