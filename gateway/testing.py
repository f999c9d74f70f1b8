"""Test helpers that are product code: a gateway running in a thread on a real port.

Tests (and benchmarks, and anyone embedding the gateway) get the real thing —
real sockets, real database, the real writer — with an injected clock, instead
of mocks of our own components.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller

from gateway.app.gateway import Gateway
from gateway.clock import Clock, FrozenClock
from gateway.config import Settings


class RunningGateway:
    """A started ``Gateway`` on its own loop in a background thread."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            ready = asyncio.Event()
            task = asyncio.ensure_future(self.gateway.serve(self._stop, ready))
            waiter = asyncio.ensure_future(ready.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            self._ready.set()
            await task

        try:
            self._loop.run_until_complete(main())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
        finally:
            self._loop.close()

    @property
    def host(self) -> str:
        assert self.gateway.bound is not None
        return self.gateway.bound[0]

    @property
    def port(self) -> int:
        assert self.gateway.bound is not None
        return self.gateway.bound[1]

    def start(self) -> RunningGateway:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        if self._error is not None:
            raise self._error


@contextmanager
def running_gateway(
    settings: Settings, clock: Clock | None = None, **overrides: Any
) -> Iterator[RunningGateway]:
    """Start a migrated gateway on an ephemeral port; stop it cleanly on exit."""
    settings = replace(settings, **overrides) if overrides else settings
    gw = Gateway(settings, clock or FrozenClock())
    gw.init_database()
    running = RunningGateway(gw).start()
    try:
        yield running
    finally:
        running.stop()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_banner(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """Block until an SMTP server child answers 220 on ``port``; fail if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server for port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(512).startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered on port {port} within {timeout:.0f} s")


@dataclass
class Captured:
    """One mail a :class:`RecordingSMTP` accepted: the envelope and the bytes."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=default_policy)  # type: ignore[return-value]


class RecordingSMTP:
    """An aiosmtpd server that keeps what it receives: a smarthost for tests.

    ``refuse`` scripts the answers to DATA: each item is an SMTP reply used for
    one mail before the server goes back to 250 ("451 4.3.0 busy" then 250 is a
    smarthost that recovers). ``on_mail`` runs for every accepted mail — an
    auto-responder in a loop test.
    """

    def __init__(
        self,
        on_mail: Callable[[Captured], None] | None = None,
        *,
        pipelining: bool = True,
        **server_options: Any,
    ) -> None:
        """``server_options`` go to aiosmtpd's SMTP: ``tls_context``, ``require_starttls``,
        ``authenticator`` … — a smarthost that insists on STARTTLS and AUTH.

        ``pipelining`` offers PIPELINING in EHLO, as every MTA a smarthost runs on does
        (aiosmtpd reads pipelined commands in order but does not say so by itself)."""
        self.pipelining = pipelining
        self.data_with_rcpt = 0  # RCPTs whose DATA came in the same write: pipelined
        self.next_with_data = 0  # mails whose end came with the next mail's MAIL FROM
        self.mails: list[Captured] = []
        self._sessions: list[Any] = []  # aiosmtpd's SMTP of each connection, to drop them
        self.ehlo_names: list[str] = []  # what each client said in EHLO (issue 13)
        self.refuse: list[str] = []
        self.refuse_rcpt: dict[str, str] = {}  # address → the answer to its RCPT (a dead box)
        self.quits = 0  # sessions the client ended with QUIT, not by dropping the connection
        self._on_mail = on_mail
        self._lock = threading.Lock()
        self._controller = Controller(
            self, hostname="127.0.0.1", port=free_port(), **server_options
        )

    async def handle_EHLO(
        self, server: object, session: object, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.ehlo_names.append(hostname)
        self._sessions.append(server)
        session.host_name = hostname  # type: ignore[attr-defined]  # aiosmtpd: the hook sets it
        if self.pipelining:
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_QUIT(self, server: object, session: object, envelope: Any) -> str:
        with self._lock:
            self.quits += 1
        return "221 Bye"

    async def handle_RCPT(
        self, server: object, session: object, envelope: Any, address: str, options: list[str]
    ) -> str:
        if b"DATA\r\n" in server._reader._buffer:  # type: ignore[attr-defined]
            with self._lock:
                self.data_with_rcpt += 1
        refusal = self.refuse_rcpt.get(address.lower())
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        if b"MAIL FROM:" in server._reader._buffer:  # type: ignore[attr-defined]
            with self._lock:
                self.next_with_data += 1
        with self._lock:
            if self.refuse:
                return self.refuse.pop(0)
            got = Captured(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            self.mails.append(got)
        if self._on_mail is not None:
            await asyncio.to_thread(self._on_mail, got)
        return "250 2.0.0 OK"

    def drop_connections(self) -> None:
        """Close every client's connection, as a smarthost that restarts does."""
        done = threading.Event()

        def close() -> None:
            for session in self._sessions:
                if session.transport is not None:
                    session.transport.close()
            done.set()

        self._controller.loop.call_soon_threadsafe(close)
        done.wait(5)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self._controller.port}"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Captured]:
        """Block until ``count`` mails arrived; return them (fail loudly if they did not)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.mails) >= count:
                    return list(self.mails)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} mails at the smarthost, got {len(self.mails)}")

    def __enter__(self) -> RecordingSMTP:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
