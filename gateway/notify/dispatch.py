"""Drain the outbox: claim due rows, render, send, mark — inside ``helpdesk serve``.

Delivery follows what an MTA does with a queue: a 4xx answer or a lost
connection is temporary (retry with exponential backoff), a 5xx is final
(``failed``, with the server's sentence kept), and after ``max_attempts`` we
give up and say so. The envelope sender is the row's own VERP bounce address,
so a DSN coming back names the row it is about. One SMTP connection carries a
whole batch (aiosmtplib, STARTTLS and AUTH when configured); with no smarthost
each mail becomes a file in a Maildir that a person can open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mailbox
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import aiosmtplib
from sqlalchemy import Row
from sqlalchemy.orm import Session, sessionmaker

from gateway.mail import reply_address
from gateway.mail.compose import Outgoing, compose
from gateway.notify.faq import FaqEntry, match_faq
from gateway.notify.render import Templates
from gateway.store import outbox

log = logging.getLogger("gateway.notify")

SENDER_NAMES = {"ru": "Техподдержка", "en": "Support"}
MAX_BACKOFF = timedelta(hours=6)


class TemporaryFailure(Exception):
    """Try again later: a 4xx answer, or the smarthost could not be reached."""


class PermanentFailure(Exception):
    """The smarthost refused this mail for good (5xx)."""


class Sender(Protocol):
    async def send(self, envelope_from: str, to: str, data: bytes) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class DispatchRules:
    support: str
    secret: bytes = field(repr=False)
    max_attempts: int = 8
    backoff: timedelta = timedelta(seconds=30)
    lease: timedelta = timedelta(minutes=5)
    batch: int = 100
    faq: tuple[FaqEntry, ...] = ()


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
    ) -> None:
        self._args = {"hostname": host, "port": port, "timeout": timeout, "start_tls": starttls}
        self._login = (username, password) if username else None
        self._client: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        client = aiosmtplib.SMTP(**self._args)  # type: ignore[arg-type]
        try:
            await client.connect()
            if self._login:
                await client.login(*self._login)
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise TemporaryFailure(f"the smarthost refused our login: {exc.message}") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"cannot reach the smarthost: {exc}") from None
        self._client = client
        return client

    async def send(self, envelope_from: str, to: str, data: bytes) -> None:
        client = await self._connected()
        try:
            await client.sendmail(envelope_from, [to], data)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            _raise_for(refused.code, refused.message)
        except aiosmtplib.SMTPResponseException as exc:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.rset()
            _raise_for(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError) as exc:
            self._client = None
            raise TemporaryFailure(f"connection to the smarthost lost: {exc}") from None

    async def close(self) -> None:
        if self._client is not None and self._client.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await self._client.quit()
        self._client = None


def _raise_for(code: int, message: str) -> None:
    text = f"{code} {message}".strip()
    if 500 <= code < 600:
        raise PermanentFailure(text)
    raise TemporaryFailure(text)


class MaildirSender:
    """No smarthost: each mail is a file under ``new/`` that a person can open."""

    def __init__(self, path: Path) -> None:
        self._box = mailbox.Maildir(path, create=True)

    async def send(self, envelope_from: str, to: str, data: bytes) -> None:
        envelope = f"Return-Path: <{envelope_from}>\r\nDelivered-To: {to}\r\n".encode()
        await asyncio.to_thread(self._box.add, envelope + data)

    async def close(self) -> None:
        return None


def build(row: Row, templates: Templates, rules: DispatchRules) -> tuple[str, bytes]:
    """(envelope sender, message bytes) of one outbox row; the same every time."""
    context = json.loads(row.context)
    ticket = context["ticket"]
    if row.kind == "created":  # the seed asks customers to check the FAQ first
        found = match_faq(rules.faq, f"{ticket['subject']}\n{context['text']}", row.locale)
        context["faq"] = [{"question": e.question, "answer": e.answer, "url": e.url} for e in found]
    text, html = templates.render(row.kind, row.locale, context)
    support_name = SENDER_NAMES.get(row.locale, SENDER_NAMES["en"])
    from_name = support_name
    if row.kind == "operator_reply" and context.get("operator_name"):
        from_name = f"{context['operator_name']} ({support_name})"
    if row.kind == "confirm_address":
        reply_to = reply_address.make(
            rules.support, rules.secret, "c", ticket["number"], bound=row.to_address
        )
    else:
        reply_to = reply_address.make(rules.support, rules.secret, "t", ticket["number"])
    message = compose(
        Outgoing(
            from_name=from_name,
            from_address=rules.support,
            to=row.to_address,
            subject=f"{ticket['token']} {ticket['subject']}",
            message_id=row.message_id,
            reply_to=reply_to,
            date=row.created_at,
            text=text,
            html=html,
            in_reply_to=row.in_reply_to,
            references=row.references.split(),
            auto_submitted=row.auto_submitted,
            headers={"X-Helpdesk-Ticket": str(ticket["number"])},
        )
    )
    bounce = reply_address.make(rules.support, rules.secret, "b", row.id)
    return bounce, message.as_bytes()


class Dispatcher:
    """Claims due outbox rows in batches and delivers them through a Sender."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        templates: Templates,
        rules: DispatchRules,
        sender: Sender,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._templates = templates
        self._rules = rules
        self._sender = sender
        self._clock = clock
        self.wake = asyncio.Event()

    async def run_once(self) -> int:
        """One batch: how many rows were claimed."""
        now = self._clock()
        rows = await asyncio.to_thread(self._claim, now)
        results: list[tuple[Row, str | None, bool]] = []
        for row in rows:
            try:
                envelope, data = build(row, self._templates, self._rules)
                await self._sender.send(envelope, row.to_address, data)
                results.append((row, None, False))
            except TemporaryFailure as exc:
                results.append((row, str(exc), False))
            except PermanentFailure as exc:
                results.append((row, str(exc), True))
            except Exception as exc:  # a template or data fault: keep the row, say why
                log.exception("cannot build notification %s", row.id)
                results.append((row, f"cannot build: {exc.__class__.__name__}: {exc}", True))
        if results:
            await asyncio.to_thread(self._mark, results)
        return len(rows)

    def _claim(self, now: datetime) -> list[Row]:
        with self._sessions() as session, session.begin():
            return outbox.claim(session, now, self._rules.lease, self._rules.batch)

    def _mark(self, results: list[tuple[Row, str | None, bool]]) -> None:
        now = self._clock()
        with self._sessions() as session, session.begin():
            for row, error, final in results:
                if error is None:
                    outbox.mark_sent(session, row.id, now)
                elif final:
                    log.warning("notification %s to %s failed: %s", row.id, row.to_address, error)
                    outbox.mark_failed(session, row.id, error)
                elif row.attempts >= self._rules.max_attempts:
                    outbox.mark_failed(
                        session, row.id, f"gave up after {row.attempts} attempts: {error}"
                    )
                else:
                    delay = min(self._rules.backoff * 2 ** (row.attempts - 1), MAX_BACKOFF)
                    outbox.mark_retry(session, row.id, now + delay, error)

    async def run(self, stop: asyncio.Event, poll: float = 1.0) -> None:
        """Until ``stop``: drain whatever is due, then sleep until woken or ``poll`` passes."""
        while not stop.is_set():
            try:
                claimed = await self.run_once()
            except Exception:  # the database is away: try again on the next tick
                log.exception("the dispatcher could not run a batch")
                claimed = 0
            if claimed >= self._rules.batch:
                continue
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_either(stop, self.wake), poll)
        await self._sender.close()


async def _either(a: asyncio.Event, b: asyncio.Event) -> None:
    waits = {asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())}
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
