"""Listeners on the application's own event loop: SMTP, or LMTP behind an MTA,
and the operators' submission port (STARTTLS, then AUTH; issue 4).

aiosmtpd's ``Controller`` runs a loop in a thread of its own; we serve on the
app's loop instead (``loop.create_server``), so intake, the dispatcher and the
scheduler share one loop and stop together. The subclasses only reword the
replies aiosmtpd composes itself (size, STARTTLS and AUTH refusals) into our
catalogue's enhanced codes and sentences.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from gateway.smtp import replies
from gateway.smtp.handler import Handler
from gateway.smtp.limits import Limited, SessionLimits
from gateway.smtp.submission import SubmissionHandler

# Issue 14.11: a line of DATA may be this long (Postfix accepts such mail; RFC 5321's 1000
# octets is a floor for what a server takes, and real mail breaks it). Commands stay at 512.
MAX_LINE = 64 * 1024 + 2

log = logging.getLogger(__name__)

# aiosmtpd's own wording (prefix) → our catalogue's line.
_REWORDED = (
    ("500 Line too long", replies.LINE_TOO_LONG),
    ("530 Must issue a STARTTLS command first", replies.STARTTLS_FIRST),
    ("530 5.7.0 Authentication required", replies.AUTH_REQUIRED),
    ("538 5.7.11 Encryption required", replies.AUTH_NEEDS_TLS),
    ("535 5.7.8 Authentication credentials invalid", replies.AUTH_FAILED),
    ("503 Already authenticated", replies.AUTH_AGAIN),
)


class _Catalogued:
    """Rewrites the few replies aiosmtpd composes itself (RFC 3463 codes)."""

    data_size_limit: int | None

    async def push(self, status: str | bytes) -> None:
        if isinstance(status, str):
            limit = self.data_size_limit or 0
            if status.startswith("552 Error: Too much mail data"):
                status = replies.TOO_BIG.format(limit=limit)
            elif status.startswith("552 Error: message size exceeds"):
                status = replies.SIZE_DECLARED_TOO_BIG.format(limit=limit)
            else:
                status = next((r for p, r in _REWORDED if status.startswith(p)), status)
        await super().push(status)  # type: ignore[misc]


class _NoAuthNoTls:
    """The customers' port offers neither AUTH nor STARTTLS, and says so (issue 14.10)
    instead of pointing to a STARTTLS it does not have."""

    push: Callable[[str], Awaitable[None]]

    async def smtp_AUTH(self, arg: str) -> None:
        await self.push(replies.AUTH_NOT_HERE)

    async def smtp_STARTTLS(self, arg: str) -> None:
        await self.push(replies.TLS_NOT_HERE)


class GatewaySMTP(Limited, _Catalogued, SMTP):
    """The submission listener's protocol (STARTTLS and AUTH are configured on it)."""

    line_length_limit = MAX_LINE


class CustomerSMTP(_NoAuthNoTls, GatewaySMTP):
    pass


class GatewayLMTP(_NoAuthNoTls, Limited, _Catalogued, LMTP):
    line_length_limit = MAX_LINE


def _fqdn(hostname: str | None) -> str:
    return hostname or socket.getfqdn()


async def start_listener(
    handler: Handler,
    host: str,
    port: int,
    *,
    hostname: str | None = None,
    limits: SessionLimits | None = None,
) -> asyncio.Server:
    """Bind and serve on the running loop; the caller closes the returned server."""
    cls = GatewayLMTP if handler.lmtp else CustomerSMTP
    loop = asyncio.get_running_loop()
    _quiet_accept_errors(loop)

    def factory() -> SMTP:
        protocol = cls(
            handler,
            data_size_limit=handler.size_limit,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=_fqdn(hostname),
            ident="Helpdesk Gateway",
            timeout=limits.idle_timeout if limits is not None else 300,
            loop=loop,
        )
        protocol.limits = limits
        return protocol

    return await loop.create_server(factory, host=host, port=port, reuse_address=True)


async def start_submission(
    handler: SubmissionHandler,
    host: str,
    port: int,
    *,
    tls_context: ssl.SSLContext,
    hostname: str | None = None,
    limits: SessionLimits | None = None,
) -> asyncio.Server:
    """The operators' submission listener on the running loop (RFC 6409 in spirit).

    Nothing but EHLO, NOOP, STARTTLS and QUIT before STARTTLS; AUTH is offered
    and accepted only over TLS; MAIL and RCPT only after AUTH. The mechanisms
    (PLAIN, LOGIN) are the handler's own ``auth_*`` hooks, so checking a
    password runs off the loop.
    """
    loop = asyncio.get_running_loop()
    _quiet_accept_errors(loop)

    def factory() -> SMTP:
        protocol = GatewaySMTP(
            handler,
            data_size_limit=handler.size_limit,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=_fqdn(hostname),
            ident="Helpdesk Gateway submission",
            tls_context=tls_context,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            timeout=limits.idle_timeout if limits is not None else 300,
            loop=loop,
        )
        protocol.limits = limits
        return protocol

    return await loop.create_server(factory, host=host, port=port, reuse_address=True)


def _quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Out of file descriptors, asyncio logs a traceback per failed accept() (137 MB in two
    minutes, issue 14.4): say it in one line a minute instead; the rest goes on as before."""
    if getattr(loop, "_gateway_quiet_accept", False):
        return
    previous = loop.get_exception_handler()
    last = [0.0]

    def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if str(context.get("message", "")).startswith("socket.accept() out of system resource"):
            if loop.time() - last[0] >= 60:
                last[0] = loop.time()
                log.error(
                    "cannot accept connections: %s; lower HELPDESK_SMTP_MAX_SESSIONS or raise "
                    "the open-files limit (ulimit -n)",
                    context.get("exception"),
                )
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    loop._gateway_quiet_accept = True  # type: ignore[attr-defined]
