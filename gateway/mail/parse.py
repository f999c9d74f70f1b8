"""Raw bytes → :class:`ParsedMail`, best effort, never an unexpected exception.

The standard library's ``email`` package (``policy.default``) does the MIME
work: header decoding (RFC 2047 encoded words, RFC 2231 file names),
transfer encodings, defects. What it cannot know is the charset a Russian
mail client *meant*: 8-bit text with no charset, or with a wrong one
(windows-1251 labelled koi8-r and the reverse are common). Those are decoded
with charset-normalizer, and the koi8-r/windows-1251 confusion — which both
decode without error — is caught by the letter-case test below. HTML-only mail
gets a readable text derived with the standard library's HTML parser.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from charset_normalizer import from_bytes

from gateway.mail.html import html_to_text
from gateway.mail.parsed import Address, Attachment, ParsedMail, UnparseableMail

_POLICY = email.policy.default
_MSGID = re.compile(r"<[^<>\s]+>")
_CYRILLIC_UPPER = re.compile(r"[А-ЯЁ]")
_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_SINGLE_BYTE_CYRILLIC = {"koi8-r", "koi8-u", "windows-1251", "cp1251", "iso-8859-5", "cp866"}
_MAX_HEADERS = 2000


def parse(raw: bytes) -> ParsedMail:
    """Parse one message; raise UnparseableMail only when it is not a message at all."""
    if not raw or not raw.strip():
        raise UnparseableMail("empty message")
    head = raw[:4096]
    if b"\x00" in head or not re.search(rb"^[\x21-\x39\x3b-\x7e]+:", head, re.MULTILINE):
        raise UnparseableMail("no header lines: this is not an RFC 5322 message")
    try:
        msg = email.message_from_bytes(raw, policy=_POLICY)
        return _build(msg)
    except UnparseableMail:
        raise
    except Exception as exc:  # the stdlib raises odd things on odd input
        raise UnparseableMail(f"{exc.__class__.__name__}: {exc}") from exc


def _build(msg: Message) -> ParsedMail:
    headers: dict[str, tuple[str, ...]] = {}
    for name, value in msg.raw_items() if hasattr(msg, "raw_items") else msg.items():
        if len(headers) > _MAX_HEADERS:
            break
        key = name.lower()
        headers[key] = (*headers.get(key, ()), _header_text(msg, name, value))
    text, html, attachments, defects = _walk(msg)
    if not text.strip() and html:
        text = html_to_text(html)
    first = {k: v[0] for k, v in headers.items()}
    from_ = _addresses(first.get("from", ""))
    return ParsedMail(
        message_id=_one_id(first.get("message-id", "")),
        in_reply_to=tuple(_MSGID.findall(first.get("in-reply-to", ""))),
        references=tuple(_MSGID.findall(" ".join(headers.get("references", ())))),
        from_=from_[0] if from_ else None,
        reply_to=tuple(_addresses(first.get("reply-to", ""))),
        to=tuple(_addresses(", ".join(headers.get("to", ())))),
        cc=tuple(_addresses(", ".join(headers.get("cc", ())))),
        subject=" ".join(first.get("subject", "").split()),
        date=_date(first.get("date", "")),
        text=text,
        html=html,
        attachments=tuple(attachments),
        headers=headers,
        defects=tuple(defects),
    )


def _header_text(msg: Message, name: str, value: object) -> str:
    """A header as text; raw 8-bit header bytes get their charset detected."""
    try:
        text = str(msg.policy.header_fetch_parse(name, value))  # type: ignore[attr-defined]
    except Exception:
        text = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        data = text.encode("utf-8", "surrogateescape")
        text = _decode_guess(data)
    return text.replace("\r", " ").replace("\n", " ").strip()


def _one_id(value: str) -> str | None:
    found = _MSGID.search(value)
    if found:
        return found.group(0)
    bare = value.strip().split()
    return f"<{bare[0]}>" if bare and "@" in bare[0] else None


def _addresses(value: str) -> list[Address]:
    if not value:
        return []
    try:
        pairs = getaddresses([value])
    except Exception:
        return []
    return [Address(name.strip(), addr.strip()) for name, addr in pairs if "@" in addr]


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _walk(msg: Message) -> tuple[str, str | None, list[Attachment], list[str]]:
    text_parts: list[str] = []
    html: str | None = None
    attachments: list[Attachment] = []
    defects = [type(d).__name__ for d in msg.defects]
    for part in msg.walk():
        defects += [type(d).__name__ for d in part.defects if part is not msg]
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        filename = _filename(part)
        is_body_text = (
            ctype in ("text/plain", "text/html") and disposition != "attachment" and (not filename)
        )
        if is_body_text:
            decoded = _decode_text(part)
            if ctype == "text/plain":
                text_parts.append(decoded)
            elif html is None:
                html = decoded
            continue
        if ctype == "message/rfc822" or ctype.startswith("multipart/"):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        attachments.append(
            Attachment(
                filename=filename or _default_name(ctype, len(attachments) + 1),
                content_type=ctype,
                data=payload,
                inline=disposition == "inline",
                content_id=_one_id(str(part.get("content-id", "") or "")),
            )
        )
    return "\n\n".join(t.strip("\n") for t in text_parts if t.strip()), html, attachments, defects


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    if not name:
        return None
    name = str(name)
    if any("\udc80" <= ch <= "\udcff" for ch in name):
        name = _decode_guess(name.encode("utf-8", "surrogateescape"))
    return name.replace("/", "_").replace("\\", "_").strip() or None


def _default_name(ctype: str, n: int) -> str:
    main, _, sub = ctype.partition("/")
    return f"attachment-{n}.{sub or main or 'bin'}"


def _decode_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload()).encode("utf-8", "surrogateescape")
    declared = (part.get_content_charset() or "").lower()
    if payload.isascii():
        return payload.decode("ascii")
    if declared and declared not in ("us-ascii", "ascii", "unknown-8bit", "x-unknown"):
        try:
            text = payload.decode(_codec(declared))
        except (LookupError, UnicodeDecodeError):
            return _decode_guess(payload)
        if _codec(declared) in _SINGLE_BYTE_CYRILLIC and _looks_swapped(text):
            return _decode_guess(payload, prefer=("koi8-r", "windows-1251"))
        return text
    return _decode_guess(payload)


def _codec(charset: str) -> str:
    charset = charset.strip().strip('"').lower()
    aliases = {
        "cp-1251": "windows-1251",
        "win-1251": "windows-1251",
        "koi8r": "koi8-r",
        "utf8": "utf-8",
        "x-user-defined": "windows-1251",
    }
    return aliases.get(charset, charset)


def _looks_swapped(text: str) -> bool:
    """Russian decoded with the wrong single-byte table comes out MOSTLY UPPER CASE."""
    letters = _CYRILLIC.findall(text)
    if len(letters) < 8:
        return False
    upper = len(_CYRILLIC_UPPER.findall(text))
    return upper / len(letters) > 0.6


def _decode_guess(data: bytes, prefer: tuple[str, ...] = ()) -> str:
    """Decode bytes of unknown charset: UTF-8 if valid, else the most plausible."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    candidates = prefer or ("windows-1251", "koi8-r")
    best: str | None = None
    for codec in candidates:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if _CYRILLIC.search(text) and not _looks_swapped(text):
            return text
        best = best or text
    guess = from_bytes(data).best()
    if guess is not None:
        text = str(guess)
        if not _looks_swapped(text):
            return text
    return best if best is not None else data.decode("latin-1")
