"""The aiosmtpd handler: only the hooks it needs (aiosmtpd's own style).

RCPT is answered from cheap checks (is it our address? is the sender
refused?) so that bad mail is refused in the session, never accepted and
bounced later (no backscatter). DATA hands the bytes to ``deliver`` — which
parses off the loop and commits — and answers 250 only when that returns.
LMTP answers DATA once per recipient (RFC 2033 §4.2); one delivery has one
effect whatever the number of recipients.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.outcome import Delivery, Outcome, OutcomeKind
from gateway.smtp import replies

log = logging.getLogger(__name__)

Deliver = Callable[[Delivery], Awaitable[Outcome]]
CheckSender = Callable[[str], Awaitable[Outcome | None]]


@dataclass
class Handler:
    """Everything the edge needs, as plain callables from ``app``."""

    serves: Callable[[str], bool]
    check_sender: CheckSender
    deliver: Deliver
    support: str
    size_limit: int
    lmtp: bool = False

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not self.serves(address):
            return replies.for_outcome(
                Outcome(OutcomeKind.UNKNOWN_RECIPIENT), address=address, support=self.support
            )
        sender = envelope.mail_from or ""
        refusal = await self.check_sender(sender) if sender else None
        if refusal is not None:
            return replies.for_outcome(refusal, address=sender)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return replies.RECIPIENT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        if isinstance(data, str):  # pragma: no cover - decode_data is off
            data = data.encode("utf-8", "surrogateescape")
        rcpts = tuple(envelope.rcpt_tos)
        if len(data) > self.size_limit:
            reply = replies.for_outcome(Outcome(OutcomeKind.TOO_BIG), limit=self.size_limit)
        else:
            delivery = Delivery(
                envelope.mail_from or "", rcpts, data, "lmtp" if self.lmtp else "smtp"
            )
            try:
                outcome = await self.deliver(delivery)
            except Exception:
                log.exception("delivery failed; the client will retry")
                outcome = Outcome(OutcomeKind.DEFERRED)
            reply = replies.for_outcome(
                outcome, address=outcome.address or envelope.mail_from or "", limit=self.size_limit
            )
        if self.lmtp:
            return "\r\n".join([reply] * max(1, len(rcpts)))
        return reply

    async def handle_exception(self, error: Exception) -> str:
        log.exception("SMTP session error", exc_info=error)
        return replies.INTERNAL
