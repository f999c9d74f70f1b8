"""What a delivery status notification (RFC 3464) says about our mail.

Only the machine-readable part counts: ``Action: failed`` with a 5.x.x
``Status`` is a hard bounce (the address does not work; stop mailing it);
anything else — delayed, relayed, a 4.x.x — is temporary and changes nothing.
"""

from __future__ import annotations

import email
import email.policy
from email.message import Message


def hard_failure(raw: bytes) -> str | None:
    """A one-line reason when the DSN reports a permanent failure, else None."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception:
        return None
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _blocks(part):
            action = str(block.get("Action", "")).strip().lower()
            status = str(block.get("Status", "")).strip().split(" ")[0]
            if action == "failed" or status.startswith("5."):
                if not status.startswith("5."):
                    continue
                diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
                recipient = str(block.get("Final-Recipient", "")).split(";")[-1].strip()
                return f"{status} {recipient}: {diagnostic}".strip(": ")
    return None


def _blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    return []
