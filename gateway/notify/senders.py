"""Where the dispatcher's mail goes: the smarthost over SMTP, or a local Maildir.

Delivery follows what an MTA does with a queue: a 4xx answer or a lost
connection is a :class:`TemporaryFailure` (the dispatcher retries with backoff),
a 5xx a :class:`PermanentFailure`, and a 5xx at RCPT a :class:`RecipientRefused`
(the address is dead). One SMTP connection carries a whole batch (aiosmtplib,
STARTTLS and AUTH when configured), pipelined when the smarthost offers it
(``notify.pipelining``); with no smarthost each mail becomes a file in a Maildir
that a person can open.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import aiosmtplib

from gateway.mail.wire import OnTheWire
from gateway.notify.maildir import MaildirSender
from gateway.notify.pipelining import Refusal, Replies, transactions

# A dot-atom address (RFC 5321 4.1.2) goes into MAIL and RCPT as it is, unquoted.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_CRLF = re.compile(rb"\r\n|\r|\n")  # any line end, as DATA must carry it: CRLF


class TemporaryFailure(Exception):
    """Try again later: a 4xx answer, or the smarthost could not be reached."""


class PermanentFailure(Exception):
    """The smarthost refused this mail for good (5xx)."""


class RecipientRefused(PermanentFailure):
    """The smarthost answered 5xx at RCPT: that address does not take mail."""


class Sender(Protocol):
    async def send(self, envelope_from: str, to: str, data: bytes) -> None: ...

    async def send_many(self, mails: list[tuple[str, str, bytes]]) -> list[Exception | None]: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Smarthost:
    """Where notifications go, as plain values: the delivery worker process makes its
    own senders from it. No ``host``: files in the Maildir at ``maildir``."""

    host: str = ""
    port: int = 25
    starttls: bool | None = None  # None: when the smarthost offers it
    username: str = ""
    password: str = field(default="", repr=False)
    ehlo_name: str | None = None
    maildir: Path | None = None

    def sender(self) -> Sender:
        if not self.host:
            assert self.maildir is not None, "no smarthost and no Maildir"
            return MaildirSender(self.maildir)
        return SmtpSender(
            self.host,
            self.port,
            starttls=self.starttls,
            username=self.username,
            password=self.password,
            ehlo_name=self.ehlo_name,
        )


class SmtpSender:
    """One connection to the smarthost, reused for every mail until it breaks."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: bool | None = None,
        username: str = "",
        password: str = "",
        timeout: float = 30,
        ehlo_name: str | None = None,
    ) -> None:
        self._args = {"hostname": host, "port": port, "timeout": timeout, "start_tls": starttls}
        if ehlo_name:  # the name we greet the smarthost with: HELPDESK_EHLO_NAME or the domain
            self._args["local_hostname"] = ehlo_name
        self._login = (username, password) if username else None
        self._timeout = timeout
        self._client: aiosmtplib.SMTP | None = None
        self._pipe: Replies | None = None  # the connection, once taken over for pipelining

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._pipe is not None:  # a mail pipelining cannot carry: a connection of its own
            await self._pipe.close()
            self._pipe = None
        if self._client is not None and self._client.is_connected:
            return self._client
        client = aiosmtplib.SMTP(**self._args)  # type: ignore[arg-type]
        try:
            await client.connect()
            if self._login:
                await client.login(*self._login)
            elif client.is_ehlo_or_helo_needed:  # connect() greets only when it starts TLS
                try:
                    await client.ehlo()
                except aiosmtplib.SMTPHeloError:
                    await client.helo()
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise TemporaryFailure(f"the smarthost refused our login: {exc.message}") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"cannot reach the smarthost: {exc}") from None
        self._client = client
        return client

    async def _pipelined(self) -> Replies | None:
        """The connection as :class:`Replies` when the smarthost offers PIPELINING."""
        if self._pipe is not None and self._pipe.usable:
            return self._pipe
        self._pipe = None
        client = await self._connected()
        if not client.supports_extension("pipelining") or client.transport is None:
            return None
        self._pipe, self._client = Replies(client.transport), None  # aiosmtplib lets go of it
        return self._pipe

    async def send(self, envelope_from: str, to: str, data: bytes) -> None:
        if _PLAIN.fullmatch(envelope_from) and _PLAIN.fullmatch(to):
            pipe = await self._pipelined()
            if pipe is not None:
                (failure,) = await self._send_pipelined(pipe, [(envelope_from, to, data)])
                if failure is not None:
                    raise failure
                return
        client = await self._connected()
        try:
            if _PLAIN.fullmatch(envelope_from) and _PLAIN.fullmatch(to):
                await _plain_transaction(client, envelope_from, to, data)
            else:
                await client.sendmail(envelope_from, [to], data)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            if 500 <= refused.code < 600:
                raise RecipientRefused(f"{refused.code} {refused.message}".strip()) from None
            _raise_for(refused.code, refused.message)
        except aiosmtplib.SMTPResponseException as exc:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.rset()
            _raise_for(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError) as exc:
            self._client = None
            raise TemporaryFailure(f"connection to the smarthost lost: {exc}") from None

    async def send_many(self, mails: list[tuple[str, str, bytes]]) -> list[Exception | None]:
        """Each mail's fate: None (the smarthost took it), or the failure ``send`` raises.

        Pipelined, a mail's body goes out with the next one's envelope: one write a
        mail. A batch with a quoted address goes one mail at a time.
        """
        if not mails:  # an empty share: no connection for it
            return []
        if all(_PLAIN.fullmatch(f) and _PLAIN.fullmatch(to) for f, to, _ in mails):
            try:
                pipe = await self._pipelined()
            except TemporaryFailure as exc:
                return [exc] * len(mails)
            if pipe is not None:
                return await self._send_pipelined(pipe, mails)
        return [await self._one(*mail) for mail in mails]

    async def _one(self, envelope_from: str, to: str, data: bytes) -> Exception | None:
        try:
            await self.send(envelope_from, to, data)
        except (TemporaryFailure, PermanentFailure) as exc:
            return exc
        return None

    async def _send_pipelined(
        self, pipe: Replies, mails: list[tuple[str, str, bytes]]
    ) -> list[Exception | None]:
        wired = [(f, to, _wire_form(data)) for f, to, data in mails]
        outcomes = await transactions(pipe, wired, self._timeout)
        if any(isinstance(o, (ConnectionError, TimeoutError)) for o in outcomes):
            self._pipe = None
            pipe.transport.close()
        return [_failure(o) for o in outcomes]

    async def close(self) -> None:
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            await pipe.close()
            await asyncio.sleep(0.05)  # as below: TLS's close_notify needs turns of the loop
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()
            # After STARTTLS the socket closes only once close_notify is exchanged, on
            # later turns of the loop: give it them, or it outlives a stopping loop.
            await asyncio.sleep(0.05)


async def _plain_transaction(client: aiosmtplib.SMTP, sender: str, to: str, data: bytes) -> None:
    """``sendmail`` for two dot-atom addresses, raising what it raises.

    ``sendmail`` parses and requotes both addresses with the email package and
    normalizes the whole message once more to declare its SIZE, for every mail: a
    quarter of its cost, and serve sends three or four notifications per customer
    mail when three operators get copies (issue 16). A plain address needs neither.
    The client has greeted the smarthost (``SmtpSender._connected``).
    """
    reply = await client.execute_command(b"MAIL", f"FROM:<{sender}>".encode())
    if reply.code != 250:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, sender)
    reply = await client.execute_command(b"RCPT", f"TO:<{to}>".encode())
    if reply.code not in (250, 251):
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.rset()  # as sendmail does: the next mail starts a clean envelope
        refused = aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, to)
        raise aiosmtplib.SMTPRecipientsRefused([refused])
    if not _on_the_wire(data):
        await client.data(data)
        return
    # Our own bytes are already as DATA carries them (CRLF only, ending in CRLF):
    # ``data()`` would run two regular expressions over every notification to make
    # them so, a tenth of serve's CPU with three operators (issue 16). Only the
    # dot-stuffing (RFC 5321 4.5.2) is left to do, and ``bytes.replace`` does it.
    stuffed = data.replace(b"\r\n.", b"\r\n..")
    stuffed = (b"." + stuffed if stuffed[:1] == b"." else stuffed) + b".\r\n"
    try:
        reply = await client.execute_command(b"DATA")
        if reply.code != 354:
            raise aiosmtplib.SMTPDataError(reply.code, reply.message)
        if client.protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        client.protocol.write(stuffed)
        reply = await client.protocol.read_response(timeout=client.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()  # as data() does: a connection in an unknown state is not reused
        raise
    if reply.code != 250:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)


def _on_the_wire(data: bytes) -> bool:
    """Every line ends in CRLF, and nothing else breaks a line: known for what the builder
    made (``OnTheWire``), else three counts in C."""
    if isinstance(data, OnTheWire):
        return True
    crlf = data.count(b"\r\n")
    return data.endswith(b"\r\n") and data.count(b"\n") == crlf and data.count(b"\r") == crlf


def _wire_form(data: bytes) -> bytes:
    """As aiosmtplib's data() makes it: CRLF line ends, ending in one."""
    if _on_the_wire(data):
        return data
    data = _CRLF.sub(b"\r\n", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _failure(outcome: Refusal | Exception | None) -> Exception | None:
    """A pipelined mail's outcome as the failure ``send`` raises for it."""
    if outcome is None:
        return None
    if isinstance(outcome, Exception):
        return TemporaryFailure(f"connection to the smarthost lost: {outcome}")
    text = f"{outcome.code} {outcome.message}".strip()
    if outcome.step == "RCPT" and 500 <= outcome.code < 600:
        return RecipientRefused(text)
    return PermanentFailure(text) if 500 <= outcome.code < 600 else TemporaryFailure(text)


def _raise_for(code: int, message: str) -> None:
    text = f"{code} {message}".strip()
    if 500 <= code < 600:
        raise PermanentFailure(text)
    raise TemporaryFailure(text)
