"""What a delivery status notification (RFC 3464, RFC 6533) says about our mail.

Only the machine-readable part counts: ``Action: failed`` with a 5.x.x
``Status`` is a hard bounce (the address does not work; stop mailing it);
anything else — delayed, relayed, a 4.x.x — is temporary and changes nothing.
Read from ``message/delivery-status`` or its internationalised twin
``message/global-delivery-status`` (issue 13); when a broken MIME structure
hides the part, from its fields in the text (the mail came to our VERP bounce
address, so only a report is expected there).
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import Message

REPORT_TYPES = ("message/delivery-status", "message/global-delivery-status")
_FIELDS = re.compile(rb"(?im)^(Final-Recipient|Action|Status|Diagnostic-Code):[ \t]*(.*)$")


def hard_failure(raw: bytes) -> str | None:
    """A one-line reason when the DSN reports a permanent failure, else None."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception:
        return None
    seen = False
    for part in msg.walk():
        if part.get_content_type() not in REPORT_TYPES:
            continue
        seen = True
        for block in _blocks(part):
            reason = _failed(block.get("Action", ""), block.get("Status", ""), block)
            if reason:
                return reason
    return None if seen else _from_text(raw)


def _failed(action: object, status: object, block: dict | Message) -> str | None:
    action_s = str(action).strip().lower()
    code = str(status).strip().split(" ")[0]
    if not code.startswith("5.") or action_s not in ("failed", ""):
        return None
    diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
    recipient = str(block.get("Final-Recipient", "")).split(";")[-1].strip()
    return f"{code} {recipient}: {diagnostic}".strip(": ")


def _blocks(part: Message) -> list[Message]:
    """The per-message and per-recipient field blocks of a report part."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return _split(part.get_payload(decode=True) or b"")
    found: list[Message] = []
    for block in payload:
        if not isinstance(block, Message):
            continue
        found.append(block)
        rest = block.get_payload()  # message/global-delivery-status: the rest is its "body"
        if isinstance(rest, str) and rest.strip():
            found.extend(_split(rest.encode("utf-8", "surrogateescape")))
    return found


def _split(text: bytes) -> list[Message]:
    blocks = re.split(rb"\r?\n[ \t]*\r?\n", text)
    return [email.message_from_bytes(b.strip() + b"\n") for b in blocks if b.strip()]


def _from_text(raw: bytes) -> str | None:
    """Report fields found in the text of a mail whose MIME structure is broken."""
    fields: dict[str, str] = {}
    for name, value in _FIELDS.findall(raw):
        fields[name.decode().title()] = value.decode("utf-8", "replace").strip()
    if "Action" not in fields or "Status" not in fields:
        return None
    return _failed(fields["Action"], fields["Status"], fields)
