"""Listeners on the application's own event loop: SMTP, or LMTP behind an MTA.

aiosmtpd's ``Controller`` runs a loop in a thread of its own; we serve on the
app's loop instead (``loop.create_server``), so intake, the dispatcher and the
scheduler share one loop and stop together. The two subclasses only reword
aiosmtpd's stock size refusals into our catalogue's enhanced codes.
"""

from __future__ import annotations

import asyncio
import socket

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from gateway.smtp import replies
from gateway.smtp.handler import Handler


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
            elif status.startswith("500 Line too long"):
                status = replies.LINE_TOO_LONG
        await super().push(status)  # type: ignore[misc]


class GatewaySMTP(_Catalogued, SMTP):
    pass


class GatewayLMTP(_Catalogued, LMTP):
    pass


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
            hostname=hostname or socket.getfqdn(),
            ident="Helpdesk Gateway",
            loop=loop,
        )

    return await loop.create_server(factory, host=host, port=port, reuse_address=True)
