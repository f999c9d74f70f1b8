"""Raw bytes → :class:`ParsedMail`, best effort, never an unexpected exception.

The standard library's ``email`` package does the MIME work: structure,
transfer encodings, defects, RFC 2231 parameters, and ``email.header`` decodes
RFC 2047 encoded words. We parse with the ``compat32`` policy and decode only
the headers we read: ``policy.default`` builds a typed object for every header
on access, which cost more than the rest of intake together, and ``compat32``
keeps raw bytes of broken headers reachable for charset detection.

What the library cannot know is the charset a Russian mail client *meant*:
8-bit text with no charset, or with a wrong one (windows-1251 labelled koi8-r
and the reverse are common). :func:`gateway.mail.charset.decode_guess` settles those, with
charset-normalizer for what is not Russian. HTML-only mail
gets a readable text derived with the standard library's HTML parser.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import re
from email.message import Message

from gateway.mail.charset import SINGLE_BYTE_CYRILLIC, codec, decode_guess, looks_swapped
from gateway.mail.header_values import addresses, date_of, decode_words, message_ids, one_id, unfold
from gateway.mail.html import html_to_text
from gateway.mail.parsed import Attachment, ParsedMail, UnparseableMail

_POLICY = email.policy.compat32
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_MULTIPART = re.compile(rb"^content-type:\s*multipart/", re.IGNORECASE | re.MULTILINE)
_MAX_HEADERS = 2000
# Issue 14.3: a body part's text is read from its first MiB (cut at a line end); the rest
# stays in the raw mail (guarantee 2) and the parse notes a ``BodyTruncated`` defect.
# A 21 MB text or a 20 MB HTML body cost 18-30 s and gigabytes; nobody reads that much.
MAX_TEXT_BYTES = 1 << 20


def parse(raw: bytes) -> ParsedMail:
    """Parse one message; raise UnparseableMail only when it is not a message at all."""
    if not raw or not raw.strip():
        raise UnparseableMail("empty message")
    head = re.split(rb"\r?\n\r?\n", raw[:4096], maxsplit=1)[0]  # the header block's start
    if b"\x00" in head or not re.search(rb"^[\x21-\x39\x3b-\x7e]+:", head, re.MULTILINE):
        raise UnparseableMail("no header lines: this is not an RFC 5322 message")
    raw = _single_part_cut(raw)
    try:
        msg = email.message_from_bytes(raw, policy=_POLICY)
        return _build(msg)
    except UnparseableMail:
        raise
    except Exception as exc:  # the stdlib raises odd things on odd input
        raise UnparseableMail(f"{exc.__class__.__name__}: {exc}") from exc


def _single_part_cut(raw: bytes) -> bytes:
    """A big mail that is one text part (no MIME parts to keep whole) is parsed from its
    headers and its body's first ``2 × MAX_TEXT_BYTES``, cut at a line end: the text is
    read from its first MiB anyway, and ``email`` holds several copies of what it is given
    (issue 14.3: a 21 MB mail took the writer past 300 MB). The raw mail stays whole."""
    if len(raw) <= 3 * MAX_TEXT_BYTES:
        return raw
    blank = _BLANK_LINE.search(raw)
    head_end = blank.end() if blank else len(raw)
    limit = head_end + 2 * MAX_TEXT_BYTES
    if len(raw) <= limit + MAX_TEXT_BYTES or _MULTIPART.search(raw[:head_end]):
        return raw
    end = raw.rfind(b"\n", head_end, limit)
    return raw[: end + 1 if end > head_end else limit]


def _build(msg: Message) -> ParsedMail:
    headers: dict[str, tuple[str, ...]] = {}
    for count, (name, value) in enumerate(msg.raw_items()):
        if count > _MAX_HEADERS:
            break
        key = name.lower()
        headers[key] = (*headers.get(key, ()), unfold(value))
    text, html, attachments, defects = _walk(msg)
    if not text.strip() and html:
        text = html_to_text(html)
    first = {k: v[0] for k, v in headers.items()}
    from_ = addresses(first.get("from", ""))
    return ParsedMail(
        message_id=one_id(first.get("message-id", "")),
        in_reply_to=message_ids(first.get("in-reply-to", "")),
        references=message_ids(" ".join(headers.get("references", ()))),
        from_=from_[0] if from_ else None,
        reply_to=tuple(addresses(first.get("reply-to", ""))),
        to=tuple(addresses(", ".join(headers.get("to", ())))),
        cc=tuple(addresses(", ".join(headers.get("cc", ())))),
        subject=" ".join(decode_words(first.get("subject", "")).split()),
        date=date_of(first.get("date", "")),
        text=text,
        html=html,
        attachments=tuple(attachments),
        headers={k: tuple(decode_words(v) for v in vs) for k, vs in headers.items()},
        defects=tuple(defects),
    )


def from_address(head: bytes) -> str | None:
    """The From address of a message's header block (its first bytes will do), lower case."""
    headers = email.parser.BytesHeaderParser(policy=_POLICY).parsebytes(head)
    found = addresses(unfold(str(headers.get("from", "") or "")))
    return found[0].address.lower() if found else None


def _walk(msg: Message) -> tuple[str, str | None, list[Attachment], list[str]]:
    """Body text, first HTML body, attachments and defects, in document order.

    An attached message (message/rfc822: a forward as attachment, the original
    inside a bounce) is kept whole as an ``.eml`` attachment; its text is not
    the sender's, so it does not join the body.
    """
    text_parts: list[str] = []
    html: str | None = None
    attachments: list[Attachment] = []
    defects = [type(d).__name__ for d in msg.defects]
    stack: list[Message] = [msg]
    while stack:
        part = stack.pop()
        if part is not msg:
            defects += [type(d).__name__ for d in part.defects]
        ctype = part.get_content_type()
        if ctype == "message/rfc822" and part is not msg:
            attachments.append(_attached_message(part, len(attachments) + 1))
            continue
        if part.is_multipart():
            payload = part.get_payload()
            stack.extend(reversed(payload if isinstance(payload, list) else []))
            continue
        disposition = (part.get_content_disposition() or "").lower()
        filename = _filename(part)
        is_body_text = (
            ctype in ("text/plain", "text/html") and disposition != "attachment" and (not filename)
        )
        if is_body_text:
            decoded, cut = _decode_text(part)
            if cut:
                defects.append("BodyTruncated")
            if ctype == "text/plain":
                text_parts.append(decoded)
            elif html is None:
                html = decoded
            continue
        payload = part.get_payload(decode=True)
        attachments.append(
            Attachment(
                filename=filename or _default_name(ctype, len(attachments) + 1),
                content_type=ctype,
                data=payload if isinstance(payload, bytes) else b"",
                inline=disposition == "inline",
                content_id=one_id(str(part.get("content-id", "") or "")),
            )
        )
    return "\n\n".join(t.strip("\n") for t in text_parts if t.strip()), html, attachments, defects


def _attached_message(part: Message, n: int) -> Attachment:
    inner = part.get_payload(0) if part.is_multipart() else None
    try:
        data = inner.as_bytes() if isinstance(inner, Message) else b""
    except Exception:  # an odd inner message: keep what the stdlib can give back
        data = str(inner).encode("utf-8", "surrogateescape") if inner is not None else b""
    subject = decode_words(str(inner.get("subject", "") or "")) if inner is not None else ""
    stem = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", subject).strip(" ._")[:80]
    return Attachment(
        filename=_filename(part) or f"{stem or f'message-{n}'}.eml",
        content_type="message/rfc822",
        data=data,
        inline=False,
        content_id=None,
    )


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    if not name:
        return None
    name = decode_words(str(name))
    if any("\udc80" <= ch <= "\udcff" for ch in name):
        name = decode_guess(name.encode("utf-8", "surrogateescape"))
    return name.replace("/", "_").replace("\\", "_").strip() or None


def _default_name(ctype: str, n: int) -> str:
    main, _, sub = ctype.partition("/")
    return f"attachment-{n}.{sub or main or 'bin'}"


def _decode_text(part: Message) -> tuple[str, bool]:
    """The part's text with "\n" line ends (the wire format's CRLF is not content), and
    whether it was cut to its first ``MAX_TEXT_BYTES``."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload()).encode("utf-8", "surrogateescape")
    cut = len(payload) > MAX_TEXT_BYTES
    if cut:
        end = payload.rfind(b"\n", 0, MAX_TEXT_BYTES)
        payload = payload[: end if end > MAX_TEXT_BYTES // 2 else MAX_TEXT_BYTES]
    text = _decode_payload(part, payload)
    if "\x00" in text:  # PostgreSQL's text cannot hold NUL: the same ticket on every backend
        text = text.replace("\x00", "")
    return (text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text), cut


def _decode_payload(part: Message, payload: bytes) -> str:
    declared = (part.get_content_charset() or "").lower()
    if payload.isascii():
        return payload.decode("ascii")
    if declared and declared not in ("us-ascii", "ascii", "unknown-8bit", "x-unknown"):
        try:
            text = payload.decode(codec(declared))
        except (LookupError, UnicodeDecodeError):
            return decode_guess(payload)
        if codec(declared) in SINGLE_BYTE_CYRILLIC and looks_swapped(text):
            return decode_guess(payload, prefer=("koi8-r", "windows-1251"))
        return text
    return decode_guess(payload)
