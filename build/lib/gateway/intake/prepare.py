"""The CPU-only first step: parse the bytes and key the mail, anywhere.

``prepare`` needs no database, so it runs where it is cheapest: in the intake
writer process before its transaction, or in ``helpdesk import``'s worker
processes, which may also cut a reply's quotes ahead of the writer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gateway.mail.body import new_text
from gateway.mail.parse import parse
from gateway.mail.parsed import ParsedMail, UnparseableMail
from gateway.outcome import Delivery

MAX_KEY = 380
FRESH_CHARS = 8000  # commands, nudges and the duplicate check read this much of the text


@dataclass(frozen=True, slots=True)
class Prepared:
    """A delivery after the CPU-only step: parsed (or why not) and keyed."""

    delivery: Delivery
    parsed: ParsedMail | None
    parse_error: str | None
    idem_key: str
    # The new words with quotes and signature cut (``mail.body.new_text``), when the
    # caller could afford it off the writer (``helpdesk import``'s parse workers);
    # None: intake cuts them itself where it needs them.
    cut: str | None = None

    def new_words(self, text: str) -> str:
        """``new_text(text)``, from the precomputed cut when it was made of this text."""
        if self.cut is not None and self.parsed is not None and text == self.parsed.text:
            return self.cut
        return new_text(text)


def idempotency_key(parsed: ParsedMail | None, data: bytes) -> str:
    """Message-ID when there is one (guarantee 3), else the hash of the bytes."""
    if parsed is not None and parsed.message_id:
        mid = parsed.message_id
        if len(mid) <= MAX_KEY:
            return "mid:" + mid
        return "midh:" + hashlib.sha256(mid.encode("utf-8", "surrogateescape")).hexdigest()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def prepare(delivery: Delivery, *, cut: bool = False, cut_replies: bool = False) -> Prepared:
    """Parse and key. With ``cut``, also cut the quotes of a text short enough to be read
    whole (the costliest CPU step, done here when this runs in a worker process); with
    ``cut_replies``, only of a mail that answers another, where intake will read them."""
    try:
        parsed: ParsedMail | None = parse(delivery.data)
        error = None
    except UnparseableMail as exc:
        parsed, error = None, str(exc) or "not a mail message"
    if cut_replies:
        cut = parsed is not None and bool(parsed.in_reply_to or parsed.references)
    cut_text = None
    if cut and parsed is not None and len(parsed.text) <= FRESH_CHARS:
        cut_text = new_text(parsed.text)
    return Prepared(delivery, parsed, error, idempotency_key(parsed, delivery.data), cut_text)
