"""The new words of a reply: quoted history and signature removed.

mail-parser-reply does the splitting (its header, signature and disclaimer
patterns per language). It has no Russian, so we register one through its own
table of languages — the patterns Yandex, Mail.ru, Thunderbird and Outlook
write in Russian — instead of writing a second parser. Lines quoted with ">"
and a "-- " signature are cut too, as RFC 3676 §4.3 defines them.
"""

from __future__ import annotations

import re

from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES

MAIL_LANGUAGES.setdefault(
    "ru",
    {
        # "25.11.2026, 10:00, "Support" <support@example.com>:"   (Yandex)
        # "Пн, 25 нояб. 2026 г. в 10:00, Support <s@x>:"           (Gmail ru)
        # "25.11.2026 10:00, Support пишет:" / "написал(а):"        (Thunderbird, Mail.ru)
        "wrote_header": r"^((?:> ?)*(?:(?:\S+,\s*)?\d{1,2}[./ ].{0,40}\d{2}:\d{2}.{0,120}"
        r"(?:пишет|написал(?:\(а\)|а)?|<[^>]+@[^>]+>)\s*:))$",
        "from_header": r"((?:(?:^|\n|\n(?:> ?)*)[* ]*(?:От|Отправлено|Кому|Тема|Дата|Копия):"
        r"[ *]*(?:\s{,2}).*){2,}(?:\n.*){,1})",
        "disclaimers": [r"Конфиденциально:", r"Внимание:"],
        "signatures": [r"С уважением", r"С наилучшими пожеланиями", r"Всего доброго"],
        "sent_from": r"Отправлено (?:с|из) ",
    },
)

_PARSER = EmailReplyParser(languages=["ru", "en", "de"])
_SIG = re.compile(r"^-- ?$", re.MULTILINE)


def new_text(text: str) -> str:
    """The part of ``text`` the sender wrote now; never empty when ``text`` is not."""
    if not text or not text.strip():
        return ""
    try:
        replies = _PARSER.read(text).replies
        # .body is the reply without its signature; .content would keep it
        latest = (replies[0].body if replies else "") or text
    except re.error:  # pragma: no cover - a pattern bug must not lose the message
        latest = text
    sig = _SIG.search(latest)
    if sig:
        latest = latest[: sig.start()]
    lines = [line for line in latest.splitlines() if not line.lstrip().startswith(">")]
    result = "\n".join(lines).strip()
    return result or text.strip()
