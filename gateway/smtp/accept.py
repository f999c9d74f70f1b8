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
    max_recipients: int = 100  # RCPT per mail (issue 14.10); app sets the configured value

    def refused_recipient(self, address: str) -> str | None:
        """The reply for a recipient we do not serve; None for ours.

        ``postmaster`` (bare, or at our domain) is always taken: RFC 5321 §4.5.1
        requires it, and what reaches it is for the support team anyway.
        """
        if "\x00" in address:
            return replies.NUL_IN_ADDRESS
        if self.serves(address) or self._postmaster(address):
            return None
        return replies.for_outcome(
            Outcome(OutcomeKind.UNKNOWN_RECIPIENT), address=address, support=self.support
        )

    def _postmaster(self, address: str) -> bool:
        local, _, domain = address.rpartition("@") if "@" in address else (address, "", "")
        ours = self.support.rpartition("@")[2].lower()
        return local.lower() == "postmaster" and domain.lower() in ("", ours)

    def take_recipient(self, envelope: Envelope, address: str, options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return replies.TOO_MANY_RECIPIENTS.format(limit=self.max_recipients)
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
