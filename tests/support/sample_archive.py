"""A generated support archive, for the import's tests and its benchmark (issue 6).

What a support team's mailbox looks like after two years: conversations of
many customers (Russian in UTF-8, KOI8-R and windows-1251, and English). A
request is answered by one of five operators (quoting it) after hours; the
customer answers back or goes silent (the 30-day rule then closes it), nudges
("any news?"), sends the same request again under a new Message-ID, or the same
mail reaches the archive twice (one Message-ID, two recipients). The mbox is
written in arrival order, as a real one is. Seeded: the same arguments make
the same file.
"""

from __future__ import annotations

import json
import mailbox
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

SUPPORT = "support@example.com"
OPERATORS = [("Anna", "anna@example.com"), ("Boris", "boris@example.com"),
             ("Vera", "vera@example.com"), ("Gleb", "gleb@example.com"),
             ("Dasha", "dasha@example.com")]  # fmt: skip

RU_PROBLEMS = [
    "Сайт {site} не открывается, браузер показывает ошибку {code}.",
    "Не приходит почта на ящик {user}@{site}, письма возвращаются с ошибкой {code}.",
    "После обновления CMS на {site} пропали картинки, в логе ошибка {code}.",
    "Просим продлить SSL-сертификат для {site}, срок истекает {day}.",
    "База данных {user}_db на {site} очень медленно отвечает, запросы висят по {code} секунд.",
    "Не могу зайти по FTP на {site}: соединение сбрасывается, код {code}.",
]
EN_PROBLEMS = [
    "Our site {site} returns error {code} since this morning.",
    "Mail to {user}@{site} bounces with code {code}.",
    "Please restore the backup of {site} from {day}; we lost files after a deploy.",
    "The cron job on {site} stopped running, last exit status {code}.",
    "DNS for {site} does not resolve from some networks, {code} lookups failed.",
]
RU_DETAIL = (
    "Проверяли с разных компьютеров и из разных сетей, результат один и тот же. "
    "Ничего не меняли в настройках, всё работало ещё вчера вечером. "
    "Пожалуйста, посмотрите как можно скорее, у нас из-за этого стоят продажи."
)
EN_DETAIL = (
    "We checked from several computers and networks with the same result. "
    "Nothing was changed in the settings, and it all worked yesterday evening. "
    "Please have a look as soon as you can; this is costing us orders."
)
RU_ANSWERS = [
    "Здравствуйте! Проверили, причина была в переполненном диске. Освободили место, "
    "проверьте, пожалуйста.",
    "Добрый день. Перезапустили службу и поправили конфигурацию. Сейчас всё должно работать.",
    "Здравствуйте. Нужны дополнительные сведения: в какое время появляется ошибка?",
]
EN_ANSWERS = [
    "Hello! The disk was full; we freed space. Please check again.",
    "Hi, we restarted the service and fixed its configuration. It should work now.",
    "Hello. We need more details: at what time does the error appear?",
]
RU_BACK = ["Спасибо, теперь работает!", "Ошибка осталась, вот что видим сейчас: {code}.",
           "Ошибка появляется около {code} минут после полуночи."]  # fmt: skip
EN_BACK = ["Thanks, it works now!", "Still broken, now we see {code}.",
           "It shows up about {code} minutes past midnight."]  # fmt: skip
NUDGES = {"ru": "Есть новости?", "en": "Any news?"}
CHARSETS = {"ru": ["utf-8", "utf-8", "koi8-r", "windows-1251"], "en": ["utf-8"]}


@dataclass
class Expected:
    """What the generator made, for a sanity check of the report."""

    conversations: int = 0
    messages: int = 0
    resent: int = 0  # the same request under a new Message-ID
    copies: int = 0  # one Message-ID twice in the file
    silent: int = 0  # the customer never answered the operator: closed by the 30-day rule
    operator_answers: int = 0
    lines: list[tuple[datetime, bytes]] = field(default_factory=list)


class Generator:
    def __init__(self, seed: int, start: datetime, days: int) -> None:
        self.rng = random.Random(seed)
        self.start = start
        self.span = timedelta(days=days)
        self.n = 0
        self.out = Expected()

    def mid(self, domain: str) -> str:
        self.n += 1
        return f"<{self.n}.{self.rng.getrandbits(40):x}@{domain}>"

    def mail(
        self,
        sender: str,
        to: str,
        subject: str,
        body: str,
        at: datetime,
        *,
        charset: str,
        reply_to: EmailMessage | None = None,
        mid: str | None = None,
    ) -> EmailMessage:
        m = EmailMessage()
        m["From"] = sender
        m["To"] = to
        m["Subject"] = subject
        m["Date"] = format_datetime(at)
        m["Message-ID"] = mid or self.mid(sender.rpartition("@")[2])
        if reply_to is not None:
            m["In-Reply-To"] = reply_to["Message-ID"]
            m["References"] = " ".join(
                x for x in (reply_to.get("References"), reply_to["Message-ID"]) if x
            )
        m.set_content(body, charset=charset)
        return m

    def add(self, at: datetime, m: EmailMessage) -> None:
        self.out.lines.append((at, m.as_bytes()))
        self.out.messages += 1

    def conversation(self, customer: str, lang: str) -> None:
        rng, out = self.rng, self.out
        out.conversations += 1
        at = self.start + self.span * rng.random()
        site = customer.partition("@")[2]
        facts = {
            "site": site,
            "user": customer.partition("@")[0],
            "code": rng.choice([500, 502, 503, 504, 421, 550, 30, 45]) + rng.randrange(1000),
            "day": f"{rng.randrange(1, 28):02d}.{rng.randrange(1, 13):02d}",
        }
        problems = RU_PROBLEMS if lang == "ru" else EN_PROBLEMS
        text = rng.choice(problems).format(**facts)
        body = f"{text}\n\n{RU_DETAIL if lang == 'ru' else EN_DETAIL}\n\n-- \n{customer}"
        subject = text.split(",")[0].split(":")[0][:70]
        charset = rng.choice(CHARSETS[lang])
        request = self.mail(customer, SUPPORT, subject, body, at, charset=charset)
        self.add(at, request)
        if rng.random() < 0.03:  # to support@ and to an operator: one Message-ID, twice
            self.add(at, request)
            out.copies += 1
        if rng.random() < 0.08:  # sent again later, a new Message-ID
            again = at + timedelta(minutes=rng.randrange(5, 600))
            self.add(again, self.mail(customer, SUPPORT, subject, body, again, charset=charset))
            out.resent += 1
        last, when = request, at
        for round_ in range(rng.choice([0, 1, 1, 1, 2, 2, 3])):
            if rng.random() < 0.05:  # a nudge before the answer
                when += timedelta(hours=rng.randrange(20, 40))
                nudge = self.mail(
                    customer, SUPPORT, f"Re: {subject}", NUDGES[lang], when,
                    charset=charset, reply_to=last,
                )  # fmt: skip
                self.add(when, nudge)
            name, op = rng.choice(OPERATORS)
            when += timedelta(minutes=rng.randrange(20, 60 * 30))
            answer = rng.choice(RU_ANSWERS if lang == "ru" else EN_ANSWERS)
            quoted = "\n".join("> " + line for line in str(last.get_content()).splitlines())
            reply = self.mail(
                f"{name} <{op}>", customer, f"Re: {subject}",
                f"{answer}\n\n{name}\n\n{quoted}", when, charset="utf-8", reply_to=last,
            )  # fmt: skip
            self.add(when, reply)
            out.operator_answers += 1
            if round_ == 0 and rng.random() < 0.2:  # gone quiet: the 30-day rule closes it
                out.silent += 1
                return
            when += timedelta(minutes=rng.randrange(10, 60 * 48))
            back = rng.choice(RU_BACK if lang == "ru" else EN_BACK).format(**facts)
            quoted = "\n".join("> " + line for line in str(reply.get_content()).splitlines())
            last = self.mail(
                customer, SUPPORT, f"Re: {subject}", f"{back}\n\n{quoted}", when,
                charset=charset, reply_to=reply,
            )  # fmt: skip
            self.add(when, last)


def generate(path: Path, messages: int, seed: int = 6) -> Expected:
    """Write an mbox of about ``messages`` messages at ``path`` (and what it holds, as JSON
    beside it)."""
    gen = Generator(seed, datetime(2023, 1, 1, tzinfo=UTC), days=730)
    customers = [
        (f"user{i}@site{i}.{'ru' if i % 3 else 'com'}", "ru" if i % 3 else "en")
        for i in range(max(10, messages // 16))
    ]
    while gen.out.messages < messages:
        gen.conversation(*gen.rng.choice(customers))
    gen.out.lines.sort(key=lambda x: x[0])
    tmp = path.with_suffix(".part")
    tmp.unlink(missing_ok=True)
    box = mailbox.mbox(tmp)
    box.lock()
    for at, data in gen.out.lines:
        msg = mailbox.mboxMessage(data)
        msg.set_from("MAILER-DAEMON", time.gmtime(at.timestamp()))
        box.add(msg)
    box.flush()
    box.unlock()
    box.close()
    tmp.rename(path)
    gen.out.lines = []
    (path.with_suffix(".json")).write_text(json.dumps(gen.out.__dict__))
    return gen.out
