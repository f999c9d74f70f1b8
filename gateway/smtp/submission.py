"""The operators' submission handler: log in over TLS, then send as yourself (issue 4).

An operator's mail client submits here (RFC 6409 in spirit) with STARTTLS
(RFC 3207) and SMTP AUTH PLAIN or LOGIN (RFC 4954, 4616). The listener in
``server`` refuses everything but EHLO/STARTTLS before TLS and MAIL before AUTH;
this handler adds the rest:

- **AUTH**: the mechanisms are our own ``auth_*`` hooks (aiosmtpd lets a
  handler supply them) rather than aiosmtpd's synchronous ``authenticator``,
  so that the password check — a database read and scrypt, about 50 ms of
  CPU — runs in a worker thread and never stalls the event loop that the
  customers' listener shares. ``authenticate(login, password)`` comes from
  ``app`` and returns the operator's address, or None.
- **MAIL FROM** must be the address the session logged in as, else
  ``553 5.7.1``: a login cannot send as another operator or as a customer.
- **RCPT TO** only the support address and its ``+`` subaddresses (we are
  never a relay, not even for operators).
- **DATA** goes to the same intake as the main listener, as a ``Delivery``
  of origin ``SUBMISSION``, trusted as ``OPERATOR_LOGIN`` of that address.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
from base64 import b64decode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session

from gateway.outcome import Origin, Trust
from gateway.smtp import replies
from gateway.smtp.accept import Accepting, Deliver

log = logging.getLogger(__name__)

Authenticate = Callable[[str, str, str | None], str | timedelta | None]
"""(login, password, client address) → the operator's address, None for a wrong password,
or how long this login or address must wait (issue 14.9). Blocking; run in a thread."""


class _NoLoginDataNotice(logging.Filter):
    """aiosmtpd 1.4 logs a deprecation warning on every successful AUTH; not ours to act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Session.login_data is deprecated")


logging.getLogger("mail.log").addFilter(_NoLoginDataNotice())


@dataclass
class SubmissionHandler(Accepting):
    """Everything the submission edge needs, as plain callables from ``app``."""

    serves: Callable[[str], bool]
    authenticate: Authenticate
    deliver: Deliver
    support: str
    size_limit: int

    # --- AUTH (RFC 4954): aiosmtpd calls handler.auth_<MECH>(server, args) ---

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        """RFC 4616: base64 of ``authzid NUL authcid NUL passwd``, inline or after ``334``."""
        blob = await _response(server, args, "")
        if blob is None:
            return AuthResult(success=False, handled=True)
        parts = blob.split(b"\x00")
        if len(parts) != 3:
            await server.push("501 5.5.2 Cannot split the AUTH PLAIN value")
            return AuthResult(success=False, handled=True)
        return await self._check(server, parts[1], parts[2])

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        """The LOGIN mechanism: the user name (inline or asked for), then the password."""
        login = await _response(server, args, "Username:")
        if login is None:
            return AuthResult(success=False, handled=True)
        password = await _response(server, [], "Password:")
        if password is None:
            return AuthResult(success=False, handled=True)
        return await self._check(server, login, password)

    async def _check(self, server: SMTP, login: bytes, password: bytes) -> AuthResult:
        try:
            user, secret = login.decode(), password.decode()
        except UnicodeDecodeError:
            return AuthResult(success=False, handled=False, message=replies.AUTH_FAILED)
        peer = server.session.peer if server.session is not None else None
        client = str(peer[0]) if isinstance(peer, tuple) and peer else None
        try:
            address = await asyncio.to_thread(self.authenticate, user, secret, client)
        except Exception:
            log.exception("could not check an operator's password")
            return AuthResult(success=False, handled=False, message=replies.AUTH_UNAVAILABLE)
        if isinstance(address, timedelta):
            minutes = max(1, int(address.total_seconds() // 60) + 1)
            message = replies.AUTH_THROTTLED.format(minutes=minutes)
            return AuthResult(success=False, handled=False, message=message)
        if address is None:
            log.warning("submission: AUTH failed for login %r", user)  # never the password
            return AuthResult(success=False, handled=False, message=replies.AUTH_FAILED)
        return AuthResult(success=True, auth_data=address, message=replies.AUTH_OK)

    # --- the envelope -----------------------------------------------------

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        login = session.auth_data
        if not isinstance(login, str) or address.lower() != login.lower():
            return replies.SENDER_NOT_LOGIN.format(address=address, login=login)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return replies.SENDER_OK

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        return self.refused_recipient(address) or self.take_recipient(envelope, address, options)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        login = session.auth_data if isinstance(session.auth_data, str) else None
        return await self.accept(envelope, Origin.SUBMISSION, Trust.OPERATOR_LOGIN, login)

    async def handle_exception(self, error: Exception) -> str:
        log.exception("submission session error", exc_info=error)
        return replies.INTERNAL


async def _response(server: SMTP, args: list[str], challenge: str) -> bytes | None:
    """The client's base64 answer: given inline after the mechanism, or asked for with 334.

    None when the client aborted or sent bad base64 (the reply is already sent).
    """
    if len(args) > 1:
        try:
            return b64decode(args[1].encode(), validate=True)
        except (binascii.Error, ValueError):
            await server.push("501 5.5.2 Cannot decode base64")
            return None
    answer = await server.challenge_auth(challenge)
    return None if answer is MISSING else answer  # type: ignore[return-value]
