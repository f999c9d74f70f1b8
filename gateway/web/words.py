"""The desk's own sentences in Russian for the Russian page (issue 15).

Decision traces, history reasons and refusals are written once, in English, by
intake, the state machine and the operator verbs: the CLI, the JSON of DESIGN §6
and scripts read them as they are. The Russian page shows them in Russian:
each known sentence is a pattern here with its translation; the values inside
(addresses, numbers, statuses) are carried over. A sentence not known yet stays
in English rather than being guessed.
"""

from __future__ import annotations

import re

from gateway.desk.model import Status

_V = r"(?P<{}>.+?)"


def _p(pattern: str) -> re.Pattern[str]:
    """``{name}`` is a value to carry over; the rest is matched literally."""
    parts = re.split(r"\{(\w+)\}", pattern)
    out = "".join(re.escape(p) if i % 2 == 0 else _V.format(p) for i, p in enumerate(parts))
    return re.compile(out + r"\Z", re.DOTALL)


RU: list[tuple[re.Pattern[str], str]] = [
    (_p(en), ru)
    for en, ru in [
        ("{a} → {b}: {why}", "{a} → {b}: {why}"),
        ("human mail", "письмо от человека"),
        ("new ticket: no token, no known reference", "новая заявка: нет номера и известных ссылок"),
        ("new ticket: awaiting_operator", "новая заявка: ожидает ответа оператора"),
        ("new ticket: {s}", "новая заявка: {s}"),
        ("ticket created", "заявка создана"),
        ("sent from the support page, signed in as {who}",
         "отправлено со страницы поддержки, вход: {who}"),
        ("sender {who} known as customer {n}", "отправитель {who} — клиент {n}"),
        ("unknown sender {who}: recorded as unverified guest customer {n}",
         "неизвестный отправитель {who}: записан как гость (не подтверждён), клиент {n}"),
        ("threaded by signed reply address of #{n}",
         "отнесено к №{n} по подписанному адресу ответа"),
        ("threaded by subject token {t}", "отнесено к заявке по номеру в теме {t}"),
        ("threaded by References/In-Reply-To {m} into #{n}",
         "отнесено к №{n} по References/In-Reply-To {m}"),
        ("subject token {t} names no ticket; new ticket",
         "номер {t} в теме не найден; новая заявка"),
        ("customer replied", "клиент ответил"),
        ("customer added to a ticket already awaiting an operator",
         "клиент дополнил заявку, которая уже ждёт оператора"),
        ("closed by customer", "закрыта клиентом"),
        ("resolved by operator", "решена оператором"),
        ("operator replied", "оператор ответил"),
        ("operator replied again; the customer's clock starts over",
         "оператор ответил ещё раз; срок ожидания клиента начат заново"),
        ("taken by operator", "взята в работу оператором"),
        ("set to {s} by operator", "статус «{s}» установлен оператором"),
        ("internal note: no change", "внутренняя заметка: без изменений"),
        ("already closed", "уже закрыта"),
        ("status stays {s}", "статус остаётся «{s}»"),
        ("merged into #{n} by operator {who}", "объединена с №{n} оператором {who}"),
        ("merged into #{n}", "объединена с №{n}"),
        ("closed administratively: {why}", "закрыта администратором: {why}"),
        ("closed administratively", "закрыта администратором"),
        ("no reply for {d} days", "нет ответа {d} дн."),
        ("flag nudge: matched {m}", "отмечено как напоминание: {m}"),
        ("nudge: kept for operators; the ticket keeps its place in the queue",
         "напоминание: сохранено для операторов, место в очереди прежнее"),
        ("duplicate: {how} of open ticket #{n}", "повтор: {how} открытой заявки №{n}"),
        ("same content as message {n}", "тот же текст, что в сообщении {n}"),
        ("held: {who} is not the customer of ticket #{n}",
         "задержано: {who} — не клиент заявки №{n}"),
        ("held for an operator in ticket #{n}", "задержано для оператора в заявке №{n}"),
        ("{what} by operator {who}", "{what} оператором {who}"),
        ("operator {who}: authenticated by SMTP AUTH on submission",
         "оператор {who}: вход по SMTP AUTH"),
        ("operator {who}: DKIM signature of {d} and their reply address",
         "оператор {who}: подпись DKIM {d} и его адрес ответа"),
        ("notifications off: the customer asked for no e-mail",
         "уведомления выключены: клиент просил не писать"),
        ("new ticket #{n}: follow-up of #{m}", "новая заявка №{n}: продолжение №{m}"),
        ("new ticket #{n}: linked to #{m}", "новая заявка №{n}: связана с №{m}"),
        ("ticket #{n} cannot be merged into itself", "заявку №{n} нельзя объединить с самой собой"),
        ("ticket #{n} is locked (closed administratively)",
         "заявка №{n} заблокирована (закрыта администратором)"),
        ("ticket #{n} was closed administratively and is locked; only notes can be added",
         "заявка №{n} закрыта администратором и заблокирована; можно только добавлять заметки"),
        ("ticket #{n} is {s}; it reopens when the customer writes",
         "заявка №{n}: «{s}»; она откроется, когда клиент напишет"),
        ("ticket #{n} was already merged into #{m}", "заявка №{n} уже объединена с №{m}"),
        ("tickets #{n} and #{m} belong to different customers; only one customer's tickets "
         "can be merged", "заявки №{n} и №{m} разных клиентов; объединять можно только заявки "
         "одного клиента"),
        ("there is no ticket #{n}; see `helpdesk tickets`", "заявки №{n} нет"),
        ("a reply needs text: --text TEXT, or pipe it on stdin", "в ответе нужен текст"),
        ("no operator {who}; add one with `helpdesk operators add`", "нет оператора {who}"),
        ("raw mail {n} is {s}, not quarantined", "письмо {n}: «{s}», а не в карантине"),
    ]
]  # fmt: skip

# A message's flags (desk.model.Flag and the marks intake adds), as operators read them.
FLAGS = {
    "auto": "автоматическое",
    "nudge": "напоминание",
    "duplicate": "повтор",
    "close": "закрытие",
    "held": "задержано",
    "follow_up": "продолжение",
    "locked": "заблокирована",
    "note": "заметка",
    "rejected": "отклонено",
    "accepted": "принято",
}

ACTORS = {"customer": "клиент", "operator": "оператор", "system": "система"}
SYSTEM = {"scheduler": "планировщик", "dedup-sweep": "поиск повторов"}


def status(value: str, lang: str) -> str:
    """A status value as operators call it, else the text as it is."""
    try:
        return Status(value).operator_label(lang)
    except ValueError:
        return value


def sentence(text: str, lang: str) -> str:
    """``text`` in ``lang``: English as written; Russian where the sentence is known."""
    if lang != "ru" or not text:
        return text
    for pattern, ru in RU:
        found = pattern.match(text)
        if found:
            values = {k: _value(k, v, lang) for k, v in found.groupdict().items()}
            return ru.format(**values)
    return text


def _value(key: str, value: str, lang: str) -> str:
    if key in ("a", "b", "s"):
        return status(value, lang)
    if key == "why":
        return sentence(value, lang)
    if key == "what":
        return {"accepted": "принято", "rejected": "отклонено"}.get(value, value)
    return value


def actor(value: str, lang: str) -> str:
    """``operator:Анна`` → ``оператор Анна``; ``system:scheduler`` → ``система: планировщик``."""
    if lang != "ru":
        return value
    kind, _, who = value.partition(":")
    if kind == "system":
        return f"система: {SYSTEM.get(who, who)}"
    return f"{ACTORS.get(kind, kind)} {who}".strip()


def flag(value: str, lang: str) -> str:
    return FLAGS.get(value, value) if lang == "ru" else value.replace("_", " ")
