"""How many sessions, from whom, for how long: one client must not take the port (issue 14.4).

300 idle connections exhausted 256 file descriptors and blocked all SMTP while
the log grew by a traceback per refused accept. Now:

- **Sessions** in all (``HELPDESK_SMTP_MAX_SESSIONS``, kept below the process's
  file-descriptor limit) and per client address
  (``HELPDESK_SMTP_MAX_SESSIONS_PER_ADDRESS``): one more is answered
  ``421 4.7.0`` with a sentence and closed before aiosmtpd starts a session.
  Refusals are logged as one line a minute with their count, never one each.
- **Idle time**: a session must make progress (EHLO, MAIL, RCPT, DATA, AUTH,
  STARTTLS) within ``HELPDESK_SMTP_IDLE_TIMEOUT_SECONDS`` of the last progress;
  NOOP, RSET, HELP, VRFY and unknown commands do not restart that clock, so a
  NOOP every 299 s cannot hold a session for ever. Then ``421 4.4.2`` and close.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("gateway.smtp.limits")

# Commands that do not count as progress: they answer, but the idle clock runs on.
IDLE_COMMANDS = frozenset({"NOOP", "RSET", "HELP", "VRFY", "EXPN"})
_FD_RESERVE = 64  # descriptors kept for the database, the writer's pipes, logs and the page
_LOG_EVERY = 60.0

TOO_MANY = "421 4.7.0 Too many connections to this server now; please try again later"
TOO_MANY_FROM_YOU = (
    "421 4.7.0 Too many connections from your address; please finish the others and retry"
)
IDLE = "421 4.4.2 Session idle too long without sending mail; closing, please reconnect"


def fd_room() -> int:
    """How many sessions the file-descriptor limit leaves room for (raised to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    return max(1, soft - _FD_RESERVE)


@dataclass
class SessionLimits:
    """The open sessions of one listener, counted in all and per client address."""

    total: int
    per_address: int
    idle_timeout: float
    open: int = 0
    by_address: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    _refused_since_log: int = 0
    _logged_at: float = 0.0

    def __post_init__(self) -> None:
        self.total = max(1, min(self.total, fd_room()))

    def admit(self, address: str) -> str | None:
        """Count a new session in; or the 421 line that refuses it."""
        if self.open >= self.total:
            return self._refuse(TOO_MANY, address)
        if self.per_address > 0 and self.by_address[address] >= self.per_address:
            return self._refuse(TOO_MANY_FROM_YOU, address)
        self.open += 1
        self.by_address[address] += 1
        return None

    def release(self, address: str) -> None:
        self.open -= 1
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]

    def _refuse(self, reply: str, address: str) -> str:
        self.refused += 1
        self._refused_since_log += 1
        now = time.monotonic()
        if now - self._logged_at >= _LOG_EVERY:
            log.warning(
                "refused %d connection(s) over the session limits (%d in all, %d per address; "
                "latest from %s); %d open now",
                self._refused_since_log,
                self.total,
                self.per_address,
                address,
                self.open,
            )
            self._refused_since_log, self._logged_at = 0, now
        return reply


Method = Callable[[str | None], Awaitable[None]]


class Limited:
    """Mixed into the aiosmtpd protocol classes: admission, and the progress clock."""

    limits: SessionLimits | None = None  # set per listener by the factory
    _admitted: str | None = None  # the client address counted in; None: not counted
    _refused: bool = False
    _progress_by: float = 0.0

    loop: asyncio.AbstractEventLoop
    _timeout_duration: float
    _smtp_methods: dict[str, Method]
    _reset_timeout: Callable[..., None]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.limits is not None and self._admitted is None and not self._refused:
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if peer else "unknown"
            refusal = self.limits.admit(address)
            if refusal is not None:
                self._refused = True
                transport.write(refusal.encode() + b"\r\n")  # type: ignore[attr-defined]
                transport.close()
                return
            self._admitted = address
            self._progress_by = self.loop.time() + self._timeout_duration
            for name, method in list(self._smtp_methods.items()):
                self._smtp_methods[name] = self._clocked(name, method)
        super().connection_made(transport)  # type: ignore[misc]

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        if self._admitted is not None and self.limits is not None:
            self.limits.release(self._admitted)
            self._admitted = None
        super().connection_lost(error)  # type: ignore[misc]

    def eof_received(self) -> bool | None:
        if self._refused:
            return False
        return super().eof_received()  # type: ignore[misc]

    def _clocked(self, name: str, method: Method) -> Method:
        """``method`` that restarts the idle clock only when ``name`` is progress."""

        async def run(arg: str | None) -> None:
            now = self.loop.time()
            if name in IDLE_COMMANDS:
                self._reset_timeout(max(0.001, self._progress_by - now))
            else:
                self._progress_by = now + self._timeout_duration
            await method(arg)

        return run

    def _timeout_cb(self) -> None:
        transport = getattr(self, "transport", None)
        if transport is not None and not transport.is_closing():
            transport.write(IDLE.encode() + b"\r\n")
        super()._timeout_cb()  # type: ignore[misc]
