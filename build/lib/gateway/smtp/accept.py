"""What every listener does with an envelope: take our recipients, hand the bytes on.

The customers' listener (``handler``) and the operators' submission listener
(``submission``) differ in who may send (a sender check; a login); they take
recipients and DATA the same way, so that is written once here: we are never a
relay (RCPT for anything but the support address and its ``+`` subaddresses is
``550 5.1.1``), the size limit holds, and ``deliver`` — parse off the loop and
commit — returns before the reply is sent (guarantee 1).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiosmtpd.smtp import Envelope

from gateway.outcome import Delivery, Origin, Outcome, OutcomeKind, Trust
from gateway.smtp import replies

log = logging.getLogger(__name__)

Deliver = Callable[[Delivery], Awaitable[Outcome]]


class Accepting:
    """Mixed into a handler that has ``serves``, ``support``, ``size_limit``, ``deliver``."""

    serves: Callable[[str], bool]
    support: str
    size_limit: int
    deliver: Deliver

    def refused_recipient(self, address: str) -> str | None:
        """The reply for a recipient we do not serve; None for ours."""
        if self.serves(address):
            return None
        return replies.for_outcome(
            Outcome(OutcomeKind.UNKNOWN_RECIPIENT), address=address, support=self.support
        )

    @staticmethod
    def take_recipient(envelope: Envelope, address: str, options: list[str]) -> str:
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return replies.RECIPIENT_OK

    async def accept(
        self,
        envelope: Envelope,
        origin: Origin,
        trust: Trust = Trust.CLAIM,
        login: str | None = None,
    ) -> str:
        """The reply to DATA: too big, or what intake made of it once committed."""
        data = envelope.original_content or b""
        if isinstance(data, str):  # pragma: no cover - decode_data is off
            data = data.encode("utf-8", "surrogateescape")
        if len(data) > self.size_limit:
            return replies.for_outcome(Outcome(OutcomeKind.TOO_BIG), limit=self.size_limit)
        mail_from = envelope.mail_from or ""
        delivery = Delivery(mail_from, tuple(envelope.rcpt_tos), data, origin, trust, login)
        try:
            outcome = await self.deliver(delivery)
        except Exception:
            log.exception("delivery failed; the client will retry")
            outcome = Outcome(OutcomeKind.DEFERRED)
        return replies.for_outcome(
            outcome, address=outcome.address or mail_from, limit=self.size_limit
        )
