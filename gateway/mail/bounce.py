"""Is this delivery report a permanent failure of our mail? (issue 13)

Two readers, the first that knows wins: the RFC 3464 ``message/delivery-status``
part (``mail.dsn``: ``Action: failed`` with a 5.x.x ``Status``, and the server's
own sentence), then GNU Mailman's ``flufl.bounce``, whose detectors read the
bounce formats that carry no RFC 3464 part — Gmail's, GMX's, Yahoo's, qmail's,
Exim's, Postfix's old ones … Only a *permanent* failure counts; a delay or a 4xx
changes nothing. On the corpus's 66 bounce mails: 28 by RFC 3464 alone, more
with flufl.bounce (the figure is in the README).
"""

from __future__ import annotations

import email
import email.policy

from flufl.bounce import all_failures

from gateway.mail.dsn import hard_failure as rfc3464_failure


def hard_failure(raw: bytes) -> str | None:
    """A one-line reason when the report says our mail failed for good, else None."""
    reason = rfc3464_failure(raw)
    if reason is not None:
        return reason
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        _, permanent = all_failures(message)
    except Exception:  # a detector tripping on a broken report: not a bounce we can read
        return None
    if not permanent:
        return None
    addresses = sorted(a.decode("utf-8", "replace") for a in permanent)
    return f"permanent failure for {', '.join(addresses)} (bounce report without RFC 3464 part)"
