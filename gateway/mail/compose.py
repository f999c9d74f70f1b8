"""Outgoing mail from rendered parts: headers, threading, encodings — nothing else.

Every header value passes through :func:`one_line` first: a subject taken from
a customer's mail may hold CR/LF, and in a header that would start a header of
the sender's choosing. The standard library's policy folds the headers (RFC
2047 words for Cyrillic names and subjects) and, in :func:`compose`, encodes the
bodies; a notification's bytes are built faster from the same headers in
:mod:`gateway.mail.wire`.

What we stamp here — our Message-ID domain and ``Auto-Submitted`` — is what
intake's classifier checks on mail coming back, so our own notifications and
auto-replies to them can never start a loop (guarantee 5).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from functools import lru_cache

# Ends the local part of every Message-ID we make; intake's classifier looks for it.
OWN_ID_MARK = "helpdesk"


def own_message_id(domain: str) -> str:
    """``<date.pid.random.helpdesk@domain>``: ours, recognisably (guarantee 5)."""
    return make_msgid(idstring=OWN_ID_MARK, domain=domain)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
MAX_REFERENCES = 20
# policy.SMTP folds to 78, and the standard library then makes an encoded word of up to
# 77 characters on a continuation line; RFC 2047 allows 75. Folding at 76 keeps every
# word within it (a space and 75), every line well under 78.
WIRE = SMTP.clone(max_line_length=76)


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
    language: str = ""  # Content-Language (RFC 3282): "ru", "en"


def compose(mail: Outgoing) -> EmailMessage:
    """The message, built as an ``EmailMessage`` under ``policy.SMTP`` (issue 13).

    The policy folds every header by RFC 5322 and 2047: encoded words of at most
    75 characters, lines of at most 78, never a fold right after the colon (a
    parser would read the subject with a leading space) — which the classic
    ``Header``/``formataddr`` did not keep. ``MIME-Version`` is on the top part
    only; the text part is wrapped at 72 as ``format=flowed`` (RFC 3676), so
    every client reflows it and none shows 386-character lines.
    """
    msg = with_headers(mail)
    msg.set_content(
        flowed(mail.text), charset="utf-8", cte="quoted-printable", params={"format": "flowed"}
    )
    if mail.html is not None:
        msg.add_alternative(mail.html, subtype="html", charset="utf-8", cte="quoted-printable")
    for filename, content_type, data in mail.attachments:
        maintype, _, subtype = content_type.partition("/")
        if not subtype or "\n" in content_type:
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(
            data, maintype=maintype, subtype=subtype, filename=one_line(filename) or "attachment"
        )
    for part in list(msg.walk())[1:]:  # the parts EmailMessage made carry one each: top only
        del part["MIME-Version"]
    if mail.language:  # last: set_content and add_alternative move Content-* headers away
        msg["Content-Language"] = mail.language
    return msg


def with_headers(mail: Outgoing) -> EmailMessage:
    """A message with the mail's own headers (who, what, where it threads) and no body."""
    msg = EmailMessage(policy=WIRE)
    for name, value, folded in header_fields(mail):
        if folded:
            msg.set_raw(name, value)
        else:
            msg[name] = value
    return msg


Field = tuple[str, str, bool]  # name, value, folded already (else the policy parses it)


def header_fields(mail: Outgoing) -> list[Field]:
    """The mail's own headers in order, each folded here where that is safe."""
    fields = [
        _from_field(one_line(mail.from_name), one_line(mail.from_address)),
        _field("To", one_line(mail.to)),
        ("Subject", prefolded("Subject", one_line(mail.subject)), True),
        _field("Date", _date(mail.date)),
        _field("Message-ID", one_line(mail.message_id)),
        _field("Reply-To", one_line(mail.reply_to)),
    ]
    if mail.in_reply_to:
        fields.append(_field("In-Reply-To", one_line(mail.in_reply_to)))
    refs = [one_line(r) for r in mail.references if r][-MAX_REFERENCES:]
    if refs:
        fields.append(_field("References", " ".join(refs)))
    if mail.auto_submitted != "no":
        fields.append(_field("Auto-Submitted", mail.auto_submitted))
        # Exchange and Outlook: do not send out-of-office replies to this mail.
        fields.append(_field("X-Auto-Response-Suppress", "OOF, AutoReply"))
    for key, value in mail.headers.items():
        fields.append(_field(one_line(key), one_line(value)))
    return fields


_TOKEN = re.compile(r"^[\x21-\x7e]+(?: [\x21-\x7e]+)*$")


@lru_cache(maxsize=256)
def _date(at: datetime) -> str:
    """The Date header: the copies of one event share the moment (issue 16)."""
    return format_datetime(at)


@lru_cache(maxsize=2048)
def prefolded(name: str, value: str) -> str:
    """A header the policy must fold (encoded words, an address), folded once.

    Returned as ``set_raw`` keeps a value: the generator writes lines that already
    fit as they are, so the bytes are the policy's own. Parsing and folding a Cyrillic
    subject was a fifth of building a notification, and a ticket's subject is the
    same in every copy and every notification about it (issue 16).
    """
    folded = WIRE.header_factory(name, value).fold(policy=WIRE)
    return folded[len(name) + 2 :].rstrip("\r\n").replace(WIRE.linesep, "\n")


def _field(name: str, value: str) -> Field:
    """A plain ASCII header (addresses, ids, dates) folded here at its spaces and kept as
    it is: the policy's parse-and-refold of each one was two thirds of composing a mail
    (issue 16 measures it). Anything else is left to the policy."""
    if not _TOKEN.match(value):
        return name, value, False
    lines, line = [], f"{name}:"
    for word in value.split(" "):
        if len(line) + 1 + len(word) > WIRE.max_line_length and line != f"{name}:":
            lines.append(line)
            line = ""
        line = f"{line} {word}"
    lines.append(line)
    if any(len(x) > WIRE.max_line_length for x in lines):  # one word too long: the policy's
        return name, value, False
    return name, "\n".join(lines)[len(name) + 2 :], True


def _from_field(name: str, address: str) -> Field:
    """From with a display name a reader sees whole in every client.

    The standard library's folder cuts a long name into encoded words anywhere,
    mid-word; RFC 2047 decoders join them, but some parsers (CPython's own
    address parser among them) put a space at each cut: "Констан тин". Here each
    encoded word ends at a space between words and carries that space inside it,
    so every decoder reads the same name, and each word is at most 75 characters.
    """
    if not name:
        return "From", prefolded("From", address), True
    if name.isascii():
        return "From", prefolded("From", str(Address(display_name=name, addr_spec=address))), True
    words = _encoded_words(name, first=WIRE.max_line_length - len("From: "))
    return "From", "\n ".join([*words, f"<{address}>"]), True


_EW_CHARS = 75 - len("=?utf-8?b??=")  # base64 characters an encoded word may carry


def _encoded_words(text: str, first: int) -> list[str]:
    """``text`` as base64 encoded words broken after spaces, the first at most ``first``
    characters long and the rest at most 75 (a word too long alone is cut by bytes)."""
    out: list[str] = []
    chunk = ""
    limit = min(first, 75)
    for piece in re.findall(r"\S+\s*|\s+", text):
        while piece:
            candidate = chunk + piece
            if _ew_len(candidate) <= limit:
                chunk, piece = candidate, ""
            elif chunk:
                out.append(_ew(chunk))
                chunk, limit = "", 75
            else:  # one word longer than a whole encoded word: cut it
                cut = len(piece)
                while _ew_len(piece[:cut]) > limit:
                    cut -= 1
                out.append(_ew(piece[:cut]))
                piece, limit = piece[cut:], 75
    if chunk:
        out.append(_ew(chunk))
    return out


def _ew_len(text: str) -> int:
    return len("=?utf-8?b??=") + 4 * ((len(text.encode()) + 2) // 3)


def _ew(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode('ascii')}?="


_QUOTE = re.compile(r"^>+ ?")
_MARKS = (">", " ")  # a line that starts so is quoted, or gets stuffed


def flowed(text: str, width: int = 72) -> str:
    """``format=flowed`` text (RFC 3676): long lines broken at spaces with a trailing
    space (a soft break that clients rejoin), quote marks repeated on each piece,
    space-stuffing where a line would read as an mbox ``From ``, a quote, or lose its
    indent; the signature separator ``-- `` is kept as it is."""
    out: list[str] = []
    for raw in text.splitlines():
        if raw == "-- ":
            out.append(raw)
            continue
        line = raw.rstrip()
        if len(line) <= width and line[:1] not in _MARKS and not line.startswith("From "):
            out.append(line)  # most lines: nothing to break, quote or stuff (issue 16)
            continue
        quote = _QUOTE.match(line)
        prefix = quote.group(0) if quote else ""
        pieces = _pieces(width - len(prefix)).findall(line[len(prefix) :]) or [""]  # ">"
        for i, piece in enumerate(pieces):
            soft = " " if i < len(pieces) - 1 else ""
            out.append(f"{prefix}{_stuffed(prefix, piece)}{soft}")
    return "\n".join(out) + "\n"


def _stuffed(prefix: str, piece: str) -> str:
    """A space in front where a reader would take the piece's start for stuffing, an mbox
    ``From `` or a quote mark (RFC 3676 4.4); a quote prefix's own space does it there."""
    if prefix.endswith(" "):
        return piece
    if prefix:
        return f" {piece}" if piece.startswith(">") else piece
    return f" {piece}" if piece[:1] in _MARKS or piece.startswith("From ") else piece


@lru_cache(maxsize=16)
def _pieces(width: int) -> re.Pattern[str]:
    """A line's flowed pieces, greedy: the longest run of at most ``width`` characters that
    ends where a space is followed by a word, else (a longer word: a URL) up to the next
    such space. That space is the soft break; a run of spaces keeps the rest of the run,
    and an indent stays, so the reader gets every space back. A regular expression, not a
    loop over the words: a customer's paragraph quoted in four notifications was a tenth
    of building them (issue 16)."""
    return re.compile(rf"(.{{1,{max(width, 1)}}}|.+?)(?: (?=[^ ])|$)")


def to_bytes(msg: Message) -> bytes:
    """The wire form: CRLF line ends, as SMTP and Maildir readers expect."""
    return msg.as_bytes(policy=WIRE)
