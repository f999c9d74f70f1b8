"""What the customer asks for: commands on the first lines, and nudges.

Commands (``#close``, ``#notify off`` …) are read from the top of the new text
only, one per line, so a quoted ``#close`` from an earlier mail does nothing.
A nudge is a message that is *only* a nudge — "когда вы ответите?", "any
update?" — kept for operators but not moving the ticket in the queue
(DESIGN §1); a long message that also asks "when?" is real information.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COMMANDS = {
    "close": "close",
    "закрыть": "close",
    "закрыто": "close",
    "notify": "notify",
    "уведомления": "notify",
    "notify-to": "notify-to",
    "status": "status",
    "статус": "status",
    "take": "take",
    "взять": "take",
    "note": "note",
    "заметка": "note",
    "assign": "assign",
    "назначить": "assign",
    "admin-close": "admin-close",
    "merge": "merge",
    "объединить": "merge",
}


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    arg: str
    line: int
    raw: str


@dataclass(frozen=True, slots=True)
class CommandError:
    line: int
    raw: str
    reason: str


_COMMAND_LINE = re.compile(r"^#([^\s#]+)(?:\s+(.*))?$")


def parse_commands(text: str) -> tuple[tuple[Command, ...], tuple[CommandError, ...]]:
    """Commands from the first lines of ``text``; stops at the first other line."""
    commands: list[Command] = []
    errors: list[CommandError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            if commands or errors:
                break
            continue
        match = _COMMAND_LINE.match(line)
        if match is None or match.group(1).isdigit():
            break
        word = match.group(1).lower().rstrip(":")
        name = COMMANDS.get(word)
        if name is None:
            errors.append(CommandError(number, line, f"unknown command #{word}"))
            continue
        commands.append(Command(name, (match.group(2) or "").strip(), number, line))
    return tuple(commands), tuple(errors)


NUDGE_MAX_CHARS = 200

_NUDGES = [
    r"когда (?:же |уже )?(?:вы |мне )?(?:ответите|ответят|будет ответ|решите|сделаете|починит)",
    r"сколько (?:ещё |еще |можно |мне )*(?:ждать|ожидать)",
    r"есть (?:ли )?(?:какие-?нибудь |какие-?то )?новости",
    r"(?:посмотрите|проверьте|гляньте),? (?:пожалуйста,? )?(?:мою )?заявку",
    r"ответьте(?:,)? (?:пожалуйста|уже)",
    r"(?:ну )?что там(?: с (?:моей )?заявкой)?",
    r"жду ответа",
    r"жду (?:уже )?(?:\w+ ){0,2}(?:день|дня|дней|недел[юиь]|час(?:а|ов)?|сутки|суток)",
    r"(?:i have been|i've been) waiting (?:for )?(?:\w+ ){0,2}(?:days?|hours?|weeks?)",
    r"any (?:update|news|progress)",
    r"when (?:will|can) (?:you|i) (?:answer|reply|respond|expect|get)",
    r"(?:i am |i'm )?still waiting",
    r"(?:please )?(?:check|look at) (?:my )?ticket",
    r"how long (?:do i|should i|must i) wait",
    r"^ping\W*$",
    r"^up\W*$",
]
_NUDGE = re.compile("|".join(f"(?:{p})" for p in _NUDGES), re.IGNORECASE | re.MULTILINE)
_GREETING = re.compile(
    r"^(?:здравствуйте|добрый (?:день|вечер)|привет|hello|hi|dear [^,\n]*)[,!.]?\s*$|"
    r"^(?:спасибо|с уважением|thanks|thank you|regards)[,!.]?.*$",
    re.IGNORECASE | re.MULTILINE,
)


# What may stand beside a nudge phrase without making the message a request.
_FILLER = re.compile(
    r"\[?#\d+\]?|№\s*\d+|\d+|\b(?:пожалуйста|уже|ну|мою|моей|по|заявк\w*|тикет\w*|"
    r"подскажите|скажите|прошлой|предыдущей|последней|"
    r"please|my|the|ticket|request|on|this|about|yet|previous|last)\b|[^\w]+",
    re.IGNORECASE,
)
_NUDGE_MAX_LEFT = 12


def find_nudge(text: str) -> str | None:
    """The matched phrase when the whole message is essentially a nudge, else None.

    "Ответьте, пожалуйста, можно ли оплатить картой?" holds a nudge phrase but
    is a question: whatever is left beside the phrases and filler words must be
    a few letters at most.
    """
    core = _GREETING.sub("", text).strip()
    if not core or len(core) > NUDGE_MAX_CHARS:
        return None
    match = _NUDGE.search(core)
    if match is None:
        return None
    left = _FILLER.sub("", _NUDGE.sub(" ", core))
    return match.group(0).strip() if len(left) <= _NUDGE_MAX_LEFT else None
