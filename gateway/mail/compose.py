"""Outgoing mail from rendered parts: headers, threading, encodings — nothing else.

Every header value passes through :func:`one_line` first: a subject taken from
a customer's mail may hold CR/LF, and in a header that would start a header of
the sender's choosing. The standard library encodes the rest (RFC 2047 words
for Cyrillic names and subjects, quoted-printable or base64 bodies).

What we stamp here — our Message-ID domain and ``Auto-Submitted`` — is what
intake's classifier checks on mail coming back, so our own notifications and
auto-replies to them can never start a loop (guarantee 5).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
MAX_REFERENCES = 20


def one_line(value: str) -> str:
    """A header-safe value: control characters (CR, LF, TAB…) become one space."""
    return _CONTROL.sub(" ", value).strip()


@dataclass(frozen=True)
class Outgoing:
    """What a notification says and where it threads."""

    from_name: str
    from_address: str
    to: str
    subject: str
    message_id: str
    reply_to: str
    date: datetime
    text: str
    html: str | None = None
    in_reply_to: str | None = None
    references: Sequence[str] = ()
    auto_submitted: str = "auto-replied"  # RFC 3834; "no" for a person's words
    headers: dict[str, str] = field(default_factory=dict)


def compose(mail: Outgoing) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = Address(one_line(mail.from_name), addr_spec=one_line(mail.from_address))
    msg["To"] = one_line(mail.to)
    msg["Subject"] = one_line(mail.subject)
    msg["Date"] = format_datetime(mail.date)
    msg["Message-ID"] = one_line(mail.message_id)
    msg["Reply-To"] = one_line(mail.reply_to)
    if mail.in_reply_to:
        msg["In-Reply-To"] = one_line(mail.in_reply_to)
    refs = [one_line(r) for r in mail.references if r][-MAX_REFERENCES:]
    if refs:
        msg["References"] = " ".join(refs)
    if mail.auto_submitted != "no":
        msg["Auto-Submitted"] = mail.auto_submitted
        # Exchange and Outlook: do not send out-of-office replies to this mail.
        msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    for name, value in mail.headers.items():
        msg[one_line(name)] = one_line(value)
    msg.set_content(mail.text)
    if mail.html is not None:
        msg.add_alternative(mail.html, subtype="html")
    return msg
