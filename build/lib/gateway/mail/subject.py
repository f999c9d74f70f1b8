"""Subjects: reply/forward prefixes and the ticket token.

The grammar a customer's mail client produces, and what we read from it::

    subject   := prefix* rest
    prefix    := word counter? ":"        (any case, spaces allowed before ":")
    word      := Re | Fwd | Fw | AW | WG | SV | VS | Antw | Ответ | Отв | Пересл. | …
    counter   := "[" digits "]" | "(" digits ")"          (Re[2]:, Re(3):)
    token     := token_format with {number} → digits      ([#123] by default)

``strip_prefixes`` removes any chain of prefixes (Outlook, Thunderbird, Gmail,
Yandex and Mail.ru in English, German, Nordic and Russian); ``find_token``
finds the token anywhere in the subject, so "Re: AW: [#12] Сайт" and
"Сайт [#12]" both name ticket 12. The subject reaching here is already
decoded from RFC 2047 encoded words by the parser.
"""

from __future__ import annotations

import re
from functools import lru_cache

PREFIX_WORDS = (
    "re",
    "fwd",
    "fw",
    "aw",
    "wg",
    "sv",
    "vs",
    "antw",
    "rif",
    "tr",
    "r",
    "ответ",
    "отв",
    "пересл",
    "пересылка",
    "переслано",
)

_PREFIX = re.compile(
    r"^\s*(?:(?:" + "|".join(PREFIX_WORDS) + r")\.?\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)


def strip_prefixes(subject: str) -> str:
    """The subject without any leading chain of reply/forward prefixes."""
    previous = None
    text = subject.strip()
    while previous != text:
        previous = text
        text = _PREFIX.sub("", text).strip()
    return text


@lru_cache(maxsize=16)
def _token_regex(token_format: str) -> re.Pattern[str]:
    head, _, tail = token_format.partition("{number}")
    return re.compile(re.escape(head) + r"\s*(\d{1,12})\s*" + re.escape(tail), re.IGNORECASE)


def find_token(subject: str, token_format: str = "[#{number}]") -> int | None:
    """The ticket number of the first token in the subject, or None."""
    match = _token_regex(token_format).search(subject)
    return int(match.group(1)) if match else None


def format_token(number: int, token_format: str = "[#{number}]") -> str:
    return token_format.replace("{number}", str(number))


def thread_subject(subject: str, token_format: str = "[#{number}]") -> str:
    """The subject as a ticket's title: prefixes and tokens removed, spaces collapsed."""
    text = _token_regex(token_format).sub(" ", strip_prefixes(subject))
    return " ".join(strip_prefixes(text).split())
