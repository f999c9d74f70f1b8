"""Why a mailed command failed, in the mail's language (issue 13).

Intake and the state machine explain a refusal in English — the decision trace
and the terminal read it that way. A Russian ``command_error`` must not: each
known sentence is matched here and said again in Russian; the few left (the
rare ones) keep their English words behind a Russian lead-in, never alone.
"""

from __future__ import annotations

import re

_SAYINGS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), russian)
    for pattern, russian in (
        (
            r"^unknown command #(\S+); see the list of commands below$",
            "неизвестная команда #{0}; список команд — ниже",
        ),
        (r"^#(\S+) takes nothing after it$", "после #{0} ничего писать не нужно"),
        (
            r"^use #status in_progress, awaiting_customer or awaiting_operator$",
            "пишите #статус in_progress, awaiting_customer или awaiting_operator",
        ),
        (r"^#admin-close needs a reason after it$", "после #admin-close укажите причину"),
        (
            r"^no operator '(.*)': use a name or address$",
            "оператора «{0}» нет: укажите имя или адрес",
        ),
        (
            r"^#merge needs the number of another existing ticket$",
            "после #объединить укажите номер другой существующей заявки",
        ),
        (r"^use #notify on or #notify off$", "пишите #уведомления on или #уведомления off"),
        (r"^#(\S+) is a customer's command$", "#{0} — команда клиента, а не оператора"),
        (
            r"^ticket #(\d+) was closed administratively and is locked; only notes can be added$",
            "заявка #{0} закрыта в административном порядке и заблокирована: можно только "
            "добавить заметку",
        ),
        (
            r"^ticket #(\d+) is \w+; it reopens when the customer writes$",
            "заявка #{0} закрыта; она откроется, когда напишет клиент",
        ),
        (
            r"^ticket #(\d+) cannot be merged into itself$",
            "заявку #{0} нельзя объединить саму с собой",
        ),
        (
            r"^ticket #(\d+) was already merged into #(\d+)$",
            "заявка #{0} уже объединена с заявкой #{1}",
        ),
        (
            r"^tickets #(\d+) and #(\d+) belong to different customers; .*$",
            "заявки #{0} и #{1} — разных клиентов: объединять можно только заявки одного клиента",
        ),
        (
            r"^ticket #(\d+) is locked \(closed administratively\)$",
            "заявка #{0} заблокирована (закрыта в административном порядке)",
        ),
        (
            r"^status (\S+) cannot be set directly; use one of (.*)$",
            "статус {0} нельзя поставить командой; можно: {1}",
        ),
        (r"^a reply needs text: .*$", "в ответе нет текста"),
    )
)


def command_reason(reason: str, locale: str) -> str:
    """``reason`` (intake's English) in ``locale``: Russian when we know the sentence."""
    if locale != "ru":
        return reason
    for pattern, russian in _SAYINGS:
        found = pattern.match(reason)
        if found:
            return russian.format(*found.groups())
    return f"отказ ({reason})"
