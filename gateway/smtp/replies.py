"""The catalogue of every reply the gateway sends, with enhanced status codes.

One table (RFC 5321 §4.2 basic codes, RFC 3463 enhanced codes), so tests and
operators can compare a reply against a known entry, and every refusal carries
a sentence a human can act on (guarantee 8).
"""

from __future__ import annotations

from gateway.outcome import Outcome, OutcomeKind

STORED = "250 2.0.0 Stored: {detail}"
DUPLICATE = "250 2.0.0 Already stored, nothing changed: {detail}"
QUARANTINED = "250 2.0.0 Stored for an operator to read: {detail}"
SENDER_OK = "250 2.1.0 Sender OK"
RECIPIENT_OK = "250 2.1.5 Recipient OK"
UNKNOWN_RECIPIENT = (
    "550 5.1.1 <{address}>: no such mailbox here; this gateway only takes mail for {support}"
)
UNKNOWN_SENDER = "550 5.7.1 <{address}> is not a registered customer address. {hint}"
TOO_BIG = "552 5.3.4 Message too big: the limit is {limit} bytes; send large files as a link"
SIZE_DECLARED_TOO_BIG = (
    "552 5.3.4 Declared size exceeds the limit of {limit} bytes; send large files as a link"
)
DEFERRED = "451 4.3.0 Could not store the message now; nothing was kept, please retry later"
INTERNAL = "451 4.3.0 Internal error; nothing was kept, please retry later"
LINE_TOO_LONG = "500 5.5.2 Line too long (RFC 5321 4.5.3.1.6)"
# Issue 14.10: what the customers' port does not offer, and what no mail may carry.
AUTH_NOT_HERE = (
    "502 5.5.1 AUTH is not offered on this port; operators send on the submission port"
)
TLS_NOT_HERE = "502 5.5.1 STARTTLS is not offered on this port"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients: at most {limit} per mail; send the rest again"
NUL_IN_ADDRESS = "553 5.1.7 The address contains a NUL character; it cannot be a mail address"

# The operators' submission listener (issue 4; RFC 3207 STARTTLS, RFC 4954 AUTH).
STARTTLS_FIRST = "530 5.7.0 Must issue a STARTTLS command first: this port takes mail only over TLS"
AUTH_REQUIRED = "530 5.7.0 Authentication required: log in with your operator address and password"
AUTH_NEEDS_TLS = "538 5.7.11 Encryption required: issue STARTTLS, then AUTH"
AUTH_OK = "235 2.7.0 Authentication successful"
AUTH_FAILED = (
    "535 5.7.8 Authentication credentials invalid: check your operator address and password"
)
AUTH_UNAVAILABLE = (
    "454 4.7.0 Temporary authentication failure: cannot check passwords now, try again later"
)
AUTH_AGAIN = "503 5.5.1 Already authenticated"
AUTH_THROTTLED = (
    "454 4.7.0 Too many failed logins from this login or address; try again in {minutes} min"
)
SENDER_NOT_LOGIN = (
    "553 5.7.1 <{address}>: sender address does not match your login; send as {login}"
)


def for_outcome(outcome: Outcome, *, address: str = "", support: str = "", limit: int = 0) -> str:
    """The one place an outcome becomes a reply line."""
    detail = outcome.detail.replace("\r", " ").replace("\n", " ")
    match outcome.kind:
        case OutcomeKind.STORED:
            return STORED.format(detail=detail)
        case OutcomeKind.DUPLICATE:
            return DUPLICATE.format(detail=detail)
        case OutcomeKind.QUARANTINED:
            return QUARANTINED.format(detail=detail)
        case OutcomeKind.UNKNOWN_RECIPIENT:
            return UNKNOWN_RECIPIENT.format(address=address, support=support)
        case OutcomeKind.UNKNOWN_SENDER:
            return UNKNOWN_SENDER.format(address=address, hint=detail).rstrip()
        case OutcomeKind.TOO_BIG:
            return TOO_BIG.format(limit=limit)
        case OutcomeKind.DEFERRED:
            return DEFERRED
    return INTERNAL  # pragma: no cover - every kind is matched above
