"""Header values → text: Message-IDs, addresses, dates, RFC 2047 words.

We parse with the ``compat32`` policy and decode only the headers we read
(:mod:`gateway.mail.parse` says why); these are the decoders, each tolerant of
what real mail holds: unknown charsets, broken encoded words, 8-bit bytes with no
charset, ids by the hundred thousand.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import decode_header
from email.utils import getaddresses, parsedate_to_datetime

from gateway.mail.charset import SINGLE_BYTE_CYRILLIC, codec, decode_guess, looks_swapped
from gateway.mail.parsed import Address

_MSGID = re.compile(r"<[^<>\s]+>")
# Issue 14.2: a thread's ids as MUAs keep them (RFC 5322 §3.6.4 lets References grow; Thunderbird
# and Gmail trim the middle): the first ids name the thread's root, the last ones its latest
# messages. 150,000 ids took 181 s of quadratic de-duplication; these take microseconds.
MAX_IDS_HEAD = 100
MAX_IDS_TAIL = 300


def message_ids(value: str) -> tuple[str, ...]:
    """The distinct Message-IDs of a header in order, the first and last few hundred only.

    De-duplicated in linear time (a dict keeps order); a header with more ids than
    ``MAX_IDS_HEAD + MAX_IDS_TAIL`` keeps its head (the thread's root) and its tail (the
    nearest messages), which is all threading reads.
    """
    ids = list(dict.fromkeys(_MSGID.findall(value)))
    if len(ids) > MAX_IDS_HEAD + MAX_IDS_TAIL:
        ids = ids[:MAX_IDS_HEAD] + ids[-MAX_IDS_TAIL:]
    return tuple(ids)


def unfold(value: str) -> str:
    """A raw header value on one line; 8-bit bytes decoded by guessing their charset."""
    if "\n" in value or "\r" in value:
        value = re.sub(r"\r?\n[ \t]*", " ", value)
    if "\x00" in value:
        value = value.replace("\x00", "")
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        value = decode_guess(value.encode("ascii", "surrogateescape"))
    return value.strip()


def decode_words(value: str) -> str:
    """RFC 2047 encoded words → text, tolerating unknown charsets and broken words."""
    if "=?" not in value:
        return value
    try:
        parts = decode_header(value)
    except (ValueError, HeaderParseError):
        return value
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
            continue
        name = codec(charset or "ascii")
        try:
            piece = chunk.decode(name)
        except (LookupError, UnicodeDecodeError):
            piece = decode_guess(chunk)
        if name in SINGLE_BYTE_CYRILLIC and looks_swapped(piece):
            piece = decode_guess(chunk, prefer=("koi8-r", "windows-1251"))
        out.append(piece)
    # decode_header drops the whitespace between an encoded word and plain text
    text = "".join(out) if _all_encoded(parts) else " ".join(out)
    return re.sub(r"\s+", " ", text.replace("\x00", "")).strip()


def _all_encoded(parts: list[tuple[bytes | str, str | None]]) -> bool:
    return all(charset is not None for _, charset in parts)


def one_id(value: str) -> str | None:
    found = _MSGID.search(value)
    if found:
        return found.group(0)
    bare = value.strip().split()
    return f"<{bare[0]}>" if bare and "@" in bare[0] else None


def addresses(value: str) -> list[Address]:
    if not value:
        return []
    try:
        pairs = getaddresses([value])
    except Exception:
        return []
    return [
        Address(decode_words(name).strip(), addr.strip()) for name, addr in pairs if "@" in addr
    ]


def date_of(value: str) -> datetime | None:
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
