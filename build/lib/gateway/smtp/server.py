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
import socket
import ssl

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from gateway.smtp import replies
from gateway.smtp.handler import Handler
from gateway.smtp.submission import SubmissionHandler

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


class GatewaySMTP(_Catalogued, SMTP):
    pass


class GatewayLMTP(_Catalogued, LMTP):
    pass


def _fqdn(hostname: str | None) -> str:
    return hostname or socket.getfqdn()


async def start_listener(
    handler: Handler, host: str, port: int, *, hostname: str | None = None
) -> asyncio.Server:
    """Bind and serve on the running loop; the caller closes the returned server."""
    cls = GatewayLMTP if handler.lmtp else GatewaySMTP
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return cls(
            handler,
            data_size_limit=handler.size_limit,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=_fqdn(hostname),
            ident="Helpdesk Gateway",
            loop=loop,
        )

    return await loop.create_server(factory, host=host, port=port, reuse_address=True)


async def start_submission(
    handler: SubmissionHandler,
    host: str,
    port: int,
    *,
    tls_context: ssl.SSLContext,
    hostname: str | None = None,
) -> asyncio.Server:
    """The operators' submission listener on the running loop (RFC 6409 in spirit).

    Nothing but EHLO, NOOP, STARTTLS and QUIT before STARTTLS; AUTH is offered
    and accepted only over TLS; MAIL and RCPT only after AUTH. The mechanisms
    (PLAIN, LOGIN) are the handler's own ``auth_*`` hooks, so checking a
    password runs off the loop.
    """
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return GatewaySMTP(
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
            loop=loop,
        )

    return await loop.create_server(factory, host=host, port=port, reuse_address=True)
