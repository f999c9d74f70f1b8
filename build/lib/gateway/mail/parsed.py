"""The typed result of parsing one raw message.

Every later step (classify, identify, thread, store) reads these frozen values
instead of a live ``email.message.Message``, so that a message is parsed once,
can cross a process boundary (it pickles), and no step can mutate what another
step saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Address:
    """A mailbox: display name and addr-spec as written."""

    name: str
    address: str

    @property
    def key(self) -> str:
        """The address as we compare it: lower-cased, surrounding space removed."""
        return self.address.strip().lower()


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attached file, with its payload decoded from its transfer encoding."""

    filename: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What the gateway needs to know of one message.

    ``message_id`` and the ids in ``in_reply_to``/``references`` are normalised
    to ``<local@domain>`` with angle brackets, whitespace removed, so they can
    be compared as strings. ``headers`` holds every header (lower-case name →
    decoded values in order) for classification rules. ``text`` is always a
    readable plain text: the text/plain part, or one derived from HTML.
    """

    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_: Address | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str
    date: datetime | None
    text: str
    html: str | None
    attachments: tuple[Attachment, ...]
    headers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    defects: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """The first value of a header, or None."""
        values = self.headers.get(name.lower())
        return values[0] if values else None


class UnparseableMail(Exception):
    """The bytes are not a message we can read; the raw mail goes to quarantine."""
