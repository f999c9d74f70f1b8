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
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import encoders
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, make_msgid

# Ends the local part of every Message-ID we make; intake's classifier looks for it.
OWN_ID_MARK = "helpdesk"


def own_message_id(domain: str) -> str:
    """``<date.pid.random.helpdesk@domain>``: ours, recognisably (guarantee 5)."""
    return make_msgid(idstring=OWN_ID_MARK, domain=domain)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
MAX_REFERENCES = 20
_WIRE = compat32.clone(linesep="\r\n")


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
    attachments: Sequence[tuple[str, str, bytes]] = ()  # (filename, content type, bytes)


def compose(mail: Outgoing) -> Message:
    """The message, built with the ``compat32`` MIME classes.

    ``EmailMessage`` under ``policy.SMTP`` builds and refolds a typed object
    per header and measured ten times slower here; the dispatcher composes
    every notification, so it uses the classic classes, which encode the same
    way (RFC 2047 words via ``Header``/``formataddr``, base64 UTF-8 bodies).
    """
    text = MIMEText(mail.text, "plain", "utf-8")
    if mail.html is None:
        msg: Message = text
    else:
        # A boundary of our own: "=_" never occurs in base64, so the generator need not
        # search the parts for it (its check compiles a new regex for every mail).
        msg = MIMEMultipart("alternative", boundary=f"=_{secrets.token_hex(16)}")
        msg.attach(text)
        msg.attach(MIMEText(mail.html, "html", "utf-8"))
    if mail.attachments:
        body, msg = msg, MIMEMultipart("mixed", boundary=f"=_{secrets.token_hex(16)}")
        msg.attach(body)
        for name, content_type, data in mail.attachments:
            msg.attach(_attachment(name, content_type, data))
    msg["From"] = formataddr((one_line(mail.from_name), one_line(mail.from_address)), "utf-8")
    msg["To"] = one_line(mail.to)
    msg["Subject"] = _header(mail.subject)
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
        msg[one_line(name)] = _header(value)
    return msg


def _attachment(name: str, content_type: str, data: bytes) -> Message:
    """A file as base64; a non-ASCII name goes as RFC 2231 ``filename*=utf-8''…``."""
    maintype, _, subtype = content_type.partition("/")
    if not subtype or "\n" in content_type:
        maintype, subtype = "application", "octet-stream"
    part = MIMEBase(maintype, subtype)
    part.set_payload(data)
    encoders.encode_base64(part)
    filename = one_line(name) or "attachment"
    value = filename if filename.isascii() else ("utf-8", "", filename)
    part.add_header("Content-Disposition", "attachment", filename=value)
    return part


def to_bytes(msg: Message) -> bytes:
    """The wire form: CRLF line ends, as SMTP and Maildir readers expect."""
    return msg.as_bytes(policy=_WIRE)


def _header(value: str) -> str:
    value = one_line(value)
    if value.isascii():
        return value
    return Header(value, "utf-8", maxlinelen=76).encode()
