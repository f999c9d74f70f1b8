"""A support address's mail, generated deterministically, and a lean SMTP client for it.

The load of issue 16: distinct customers writing requests of about 2 KB in Russian
(UTF-8, KOI8-R, windows-1251) and English, 30 % of the mails replies that thread
by In-Reply-To into the sender's own earlier request. Every text is different
(words drawn from a seeded generator), so the duplicate catcher has real work and
no mail collapses into another. The client speaks SMTP over a raw asyncio socket,
a new connection per mail, so that it costs the machine little and the same for
the gateway and the no-op server.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

SUPPORT = "support@example.com"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


RU_WORDS = _words(
    """
    сайт домен сервер почта база ошибка страница хостинг панель сертификат письмо ящик
    запрос ответ загрузка время скорость диск память процесс файл каталог доступ пароль
    резервная копия перенос настройка кэш php mysql nginx apache dns запись зона запуск
    после вчера сегодня утром вечером снова опять перестал работает открывается медленно
    выдаёт показывает пишет пропал исчез упал не отвечает очень срочно пожалуйста помогите
    """
)
EN_WORDS = _words(
    """
    site domain server mail database error page hosting panel certificate message mailbox
    request reply upload time speed disk memory process file folder access password backup
    migration setting cache php mysql nginx apache dns record zone restart after yesterday
    today morning evening again stopped works opens slowly returns shows says missing gone
    down not responding very urgent please help
    """
)
RU_SUBJECTS = ("Не работает сайт", "Ошибка почты", "Вопрос по хостингу", "Проблема с доменом")
EN_SUBJECTS = ("Site is down", "Mail error", "Hosting question", "Domain problem")
FLAVOURS = ("ru-utf8", "ru-koi8", "ru-cp1251", "en")


@dataclass(frozen=True, slots=True)
class Item:
    """One mail to send: who, its Message-ID, the wire bytes, and what it answers."""

    sender: str
    message_id: str
    data: bytes
    request: int | None  # for a reply: the index of the request it answers


def _text(rng: random.Random, words: list[str], size: int) -> str:
    lines, length = [], 0
    while length < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(8, 14))).capitalize() + "."
        lines.append(line)
        length += len(line) + 1
    return "\n".join(lines)


def _mail(rng: random.Random, n: int, sender: str, flavour: str, reply_to: str | None) -> bytes:
    russian = flavour.startswith("ru")
    msg = EmailMessage()
    msg["From"] = f"{'Клиент' if russian else 'Customer'} {n} <{sender}>"
    msg["To"] = SUPPORT
    subject = rng.choice(RU_SUBJECTS if russian else EN_SUBJECTS) + f" {n}"
    msg["Subject"] = f"Re: {subject}" if reply_to else subject
    msg["Message-ID"] = f"<mix{n}.{rng.getrandbits(40):x}@{sender.split('@')[1]}>"
    msg["Date"] = format_datetime(datetime(2026, 12, 1, 9, tzinfo=UTC))
    if reply_to:
        msg["In-Reply-To"] = reply_to
        msg["References"] = reply_to
    size = 1000 if flavour == "ru-utf8" else 1900  # about 2 KB on the wire either way
    text = _text(rng, list(RU_WORDS if russian else EN_WORDS), size)
    charset = {"ru-utf8": "utf-8", "ru-koi8": "koi8-r", "ru-cp1251": "windows-1251"}.get(
        flavour, "us-ascii"
    )
    msg.set_content(text, charset=charset, cte="8bit" if charset != "us-ascii" else "7bit")
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def make_load(count: int, seed: int = 16, reply_share: float = 0.3, gap: int = 100) -> list[Item]:
    """``count`` mails: requests from distinct customers, and ``reply_share`` replies to a
    request sent at least ``gap`` mails earlier (long committed when the reply comes)."""
    rng = random.Random(seed)
    items: list[Item] = []
    requests: list[int] = []
    for n in range(count):
        flavour = FLAVOURS[n % len(FLAVOURS)]
        answerable = [i for i in requests if i <= n - gap] if n > gap else []
        if answerable and rng.random() < reply_share:
            asked = rng.choice(answerable[-400:])
            first = items[asked]
            items.append(
                Item(
                    first.sender, "", _mail(rng, n, first.sender, flavour, first.message_id), asked
                )
            )
        else:
            sender = f"c{seed}-{n}@{rng.choice(('example.ru', 'example.net', 'example.org'))}"
            data = _mail(rng, n, sender, flavour, None)
            items.append(Item(sender, "", data, None))
            requests.append(n)
        mid = _message_id(items[-1].data)
        items[-1] = Item(items[-1].sender, mid, items[-1].data, items[-1].request)
    return items


def _message_id(data: bytes) -> str:
    for line in data.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    raise ValueError("no Message-ID")


async def _reply(reader: asyncio.StreamReader) -> int:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("the server closed the connection")
        if line[3:4] != b"-":
            return int(line[:3])


async def send(host: str, port: int, item: Item) -> tuple[int, float]:
    """One mail on a new connection: (reply code to DATA, seconds from the end of the data
    to that reply)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        await _reply(reader)
        for command in (
            b"EHLO bench.example\r\n",
            f"MAIL FROM:<{item.sender}>\r\n".encode(),
            f"RCPT TO:<{SUPPORT}>\r\n".encode(),
            b"DATA\r\n",
        ):
            writer.write(command)
            code = await _reply(reader)
            if code >= 400:
                return code, 0.0
        body = item.data.replace(b"\r\n.", b"\r\n..")
        writer.write(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        started = time.perf_counter()
        code = await _reply(reader)
        waited = time.perf_counter() - started
        writer.write(b"QUIT\r\n")
        await _reply(reader)
        return code, waited
    finally:
        writer.close()


async def run_load(
    host: str, port: int, items: list[Item], sessions: int, rate: float | None = None
) -> tuple[float, list[tuple[Item, int, float]]]:
    """Send ``items`` with ``sessions`` at a time (or paced at ``rate`` mails/s);
    (seconds, [(item, code, latency)])."""
    queue: asyncio.Queue[tuple[int, Item]] = asyncio.Queue()
    for pair in enumerate(items):
        queue.put_nowait(pair)
    done: list[tuple[Item, int, float]] = []
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def worker() -> None:
        while not queue.empty():
            index, item = queue.get_nowait()
            if rate:
                await asyncio.sleep(max(0.0, t0 + index / rate - loop.time()))
            code, latency = await send(host, port, item)
            done.append((item, code, latency))

    await asyncio.gather(*(worker() for _ in range(sessions)))
    return loop.time() - t0, done
