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

from gateway.outcome import Origin, Outcome
from gateway.smtp import replies
from gateway.smtp.accept import Accepting, Deliver

log = logging.getLogger(__name__)

CheckSender = Callable[[str], Awaitable[Outcome | None]]


@dataclass
class Handler(Accepting):
    """Everything the edge needs, as plain callables from ``app``."""

    serves: Callable[[str], bool]
    check_sender: CheckSender
    deliver: Deliver
    support: str
    size_limit: int
    lmtp: bool = False

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """A NUL cannot be in an address (RFC 5321 §4.1.2): one clear refusal on any backend."""
        if "\x00" in address:
            return replies.NUL_IN_ADDRESS
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return replies.SENDER_OK

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refused = self.refused_recipient(address)
        if refused is not None:
            return refused
        sender = envelope.mail_from or ""
        refusal = await self.check_sender(sender) if sender else None
        if refusal is not None:
            return replies.for_outcome(refusal, address=sender)
        return self.take_recipient(envelope, address, options)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = await self.accept(envelope, Origin.LMTP if self.lmtp else Origin.SMTP)
        if self.lmtp:  # RFC 2033: one answer per recipient, for one delivery
            return "\r\n".join([reply] * max(1, len(envelope.rcpt_tos)))
        return reply

    async def handle_exception(self, error: Exception) -> str:
        log.exception("SMTP session error", exc_info=error)
        return replies.INTERNAL
