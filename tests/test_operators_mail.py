"""Operators work from their mail client, over real SMTP sessions (issue 4, DESIGN §5, guarantee 6).

Customers write to the main listener with smtplib; operators answer through the
submission listener (STARTTLS, then AUTH); everything the gateway sends is
caught by a recording smarthost and matched to its outbox row by Message-ID.
"""

from __future__ import annotations

import json
import os
import re
import smtplib
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from sqlalchemy import select, update

from gateway.mail import reply_address
from gateway.store.tables import Outbox, Ticket
from gateway.testing import RecordingSMTP, RunningGateway, running_gateway
from tests.helpers import (
    SUPPORT,
    cli,
    mail,
    one_pass_through_the_workers,
    plain_text,
    send,
    show,
    stop_dispatcher,
    wire,
)

ANNA, BORIS = "anna@example.com", "boris@example.com"
PASSWORD = "secret-pass"
CUSTOMER = "ivan@example.ru"
STRANGER = "petr@example.org"
SUBJECT = "Не работает сайт"
REQUEST = "Здравствуйте! Сайт example.ru отдаёт 502 с утра."
ANSWER = "Перезапустили nginx, проверьте, пожалуйста."


# --- the desk: a gateway with submission, two operators and a recording smarthost ----------


@dataclass(frozen=True)
class Sent:
    """One outbox row and, once it went out, the mail the smarthost received."""

    kind: str
    to: str
    ticket: int | None
    state: str
    message: EmailMessage | None

    @property
    def text(self) -> str:
        assert self.message is not None, f"{self.kind} to {self.to} was not sent ({self.state})"
        return plain_text(self.message)

    @property
    def html(self) -> str:
        assert self.message is not None, f"{self.kind} to {self.to} was not sent ({self.state})"
        return self.message.get_body(("html",)).get_content()  # type: ignore[union-attr]


def _insecure() -> ssl.SSLContext:
    """The operator's client accepts the generated self-signed certificate (pinned by hand)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Desk:
    """A running gateway, its smarthost, and what the tests say and read through them."""

    def __init__(self, gw: RunningGateway, smarthost: RecordingSMTP) -> None:
        self.gw = gw
        self.smarthost = smarthost
        self.ids = {
            ANNA: gw.gateway.wiring.desk.add_operator("Анна", ANNA, PASSWORD)["id"],
            BORIS: gw.gateway.wiring.desk.add_operator("Борис", BORIS, PASSWORD)["id"],
        }
        self._last_row = 0

    def customer(
        self,
        body: str = REQUEST,
        *,
        subject: str = SUBJECT,
        sender: str = CUSTOMER,
        message: EmailMessage | None = None,
    ) -> int:
        """A customer's mail over the main listener; the ticket it landed in."""
        message = message or mail(subject, body, sender=sender)
        code, text = send(self.gw, message, sender=sender)
        assert code == 250, text
        found = re.search(r"ticket #(\d+)", text)
        assert found, text
        return int(found.group(1))

    def operator(
        self,
        message: EmailMessage,
        *,
        login: str = ANNA,
        rcpts: tuple[str, ...] | None = None,
    ) -> str:
        """An operator's mail through submission: STARTTLS, AUTH, MAIL as the login."""
        assert self.gw.gateway.submission_bound is not None
        host, port = self.gw.gateway.submission_bound
        with smtplib.SMTP(host, port, timeout=30) as c:
            c.ehlo("laptop.example.com")
            c.starttls(context=_insecure())
            c.ehlo("laptop.example.com")
            assert c.login(login, PASSWORD)[0] == 235
            assert c.mail(login)[0] == 250
            for rcpt in rcpts or (str(message["To"]),):
                code, text = c.rcpt(rcpt)
                assert code == 250, text
            code, text = c.data(wire(message))
            assert code == 250, text
            return text.decode()

    def sent(self, timeout: float = 15.0) -> list[Sent]:
        """The outbox rows written since the last call, once none of them is pending."""
        deadline = time.monotonic() + timeout
        while True:
            # Intake does not wake the dispatcher per mail; a test need not wait its poll.
            self.gw._loop.call_soon_threadsafe(self.gw.gateway.dispatcher.wake.set)  # type: ignore[union-attr]
            with self.gw.gateway.sessions() as s:
                rows = list(s.scalars(select(Outbox).where(Outbox.id > self._last_row)))
            got = {c.message["Message-ID"]: c.message for c in list(self.smarthost.mails)}
            if all(r.state != "pending" for r in rows) and all(
                r.message_id in got for r in rows if r.state == "sent"
            ):
                break
            if time.monotonic() > deadline:
                states = [(r.kind, r.to_address, r.state, r.last_error) for r in rows]
                raise AssertionError(f"the outbox did not settle: {states}")
            time.sleep(0.02)
        if rows:
            self._last_row = max(r.id for r in rows)
        return [
            Sent(r.kind, r.to_address, r.ticket_id, r.state, got.get(r.message_id))
            for r in sorted(rows, key=lambda r: r.id)
        ]

    def o_address(self, number: int, operator: str = ANNA) -> str:
        return reply_address.make(SUPPORT, self.gw.gateway.secret, "o", number, bound=operator)

    def show(self, number: int) -> dict[str, Any]:
        return show(self.gw, number)


@contextmanager
def open_desk(settings, clock, smarthost: RecordingSMTP, **overrides: Any) -> Iterator[Desk]:
    with running_gateway(
        settings,
        clock,
        smarthost=smarthost.url,
        smarthost_starttls="no",
        notify_backoff_seconds=1,
        submission_listen="smtp://127.0.0.1:0",
        **overrides,
    ) as gw:
        yield Desk(gw, smarthost)


@pytest.fixture
def desk(settings, clock, smarthost) -> Iterator[Desk]:
    with open_desk(settings, clock, smarthost) as d:
        yield d


def op_mail(
    body: str,
    *,
    number: int,
    to: str = SUPPORT,
    sender: str = ANNA,
    name: str = "Анна",
    html: bool = False,
    msgid_domain: str = "anna-laptop.example.com",
) -> EmailMessage:
    """An operator's reply as a mail client writes it: Re: and the token in the subject.

    The Message-ID's domain is a host's, not the gateway's own ``example.com``:
    see ``test_reply_whose_message_id_has_the_company_domain_is_applied``.
    """
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = to
    msg["Subject"] = f"Re: [#{number}] {SUBJECT}"
    msg["Message-ID"] = make_msgid(domain=msgid_domain)
    msg["Date"] = "Wed, 25 Nov 2026 11:00:00 +0300"
    msg.set_content(body, subtype="html" if html else "plain")
    return msg


def quoted_block(text: str) -> str:
    """The operator's words in a customer's operator_reply: between the two rules."""
    parts = text.split("-" * 60)
    assert len(parts) == 3, text
    return parts[1].strip()


def kinds(sent: list[Sent], *, to: str | None = None, ticket: int | None = None) -> list[str]:
    return [
        s.kind
        for s in sent
        if (to is None or s.to == to) and (ticket is None or s.ticket == ticket)
    ]


def one(sent: list[Sent], kind: str, to: str) -> Sent:
    found = [s for s in sent if s.kind == kind and s.to == to]
    assert len(found) == 1, [(s.kind, s.to, s.state) for s in sent]
    return found[0]


# --- operators' copies of customers' mail -------------------------------------------------


def _with_attachment(sender: str) -> EmailMessage:
    msg = mail(SUBJECT, REQUEST, sender=sender)
    msg.add_attachment(
        b"\x89PNG\r\n\x1a\n" + b"\0" * 2000, maintype="image", subtype="png", filename="screen.png"
    )
    return msg


def test_each_operator_gets_a_copy_with_a_reply_address_of_their_own(desk):
    """New ticket: each operator gets operator_message from support, Reply-To signed for them."""
    desk.gw.gateway.wiring.desk.add_customer(CUSTOMER, "Иван Петров", verified=True)
    number = desk.customer(message=_with_attachment(CUSTOMER))
    sent = desk.sent()
    assert sorted(kinds(sent)) == ["created", "operator_message", "operator_message"]
    secret = desk.gw.gateway.secret
    for operator, other in ((ANNA, BORIS), (BORIS, ANNA)):
        copy = one(sent, "operator_message", operator)
        msg = copy.message
        assert msg is not None
        assert msg["From"].addresses[0].addr_spec == SUPPORT
        assert msg["Subject"] == f"[#{number}] {SUBJECT}"
        assert msg["Auto-Submitted"] == "auto-generated"
        reply_to = msg["Reply-To"]
        assert reply_address.read(reply_to, SUPPORT, secret, bound=operator) == ("o", number)
        for stranger in (other, CUSTOMER, ""):  # speaks for that operator and no one else
            with pytest.raises(reply_address.BadToken):
                reply_address.read(reply_to, SUPPORT, secret, bound=stranger)
        for body in (copy.text, copy.html):
            assert "Новая заявка" in body and CUSTOMER in body and "Иван Петров" in body
            assert "подтверждённая учётная запись" in body and "гость" not in body
            assert "отдаёт 502 с утра" in body
            assert "screen.png" in body and "image/png" in body


def test_guest_customer_and_a_later_message_are_copied_too(desk):
    """A guest's ticket says guest; the customer's next message is copied as a new message."""
    number = desk.customer("Не приходят письма с формы обратной связи.", subject="Форма")
    sent = desk.sent()
    copy = one(sent, "operator_message", ANNA)
    assert "гость" in copy.text and "не подтверждена" in copy.text
    assert "screen.png" not in copy.text and "Вложения" not in copy.text
    desk.customer("Уточню: форма на странице /contacts.", subject=f"Re: [#{number}] Форма")
    sent = desk.sent()
    assert sorted(kinds(sent, ticket=number)) == ["operator_message", "operator_message"]
    later = one(sent, "operator_message", BORIS)
    assert "Новое сообщение клиента" in later.text and "/contacts" in later.text
    assert "гость" in later.text


def test_an_operator_who_is_also_the_tickets_address_threads_only_under_mail_sent(desk):
    """The ticket's notify address is an operator's, and it bounces: the confirmation of the
    customer's #close is held back, so that operator's copy of the #close must not name it
    (a client splits a thread on an id it never got); it threads under their first copy."""
    number = desk.customer()
    first = one(desk.sent(), "operator_message", ANNA).message
    assert first is not None
    desk.gw.gateway.wiring.desk.set_ticket_notify(number, on=True, address=ANNA)
    with desk.gw.gateway.sessions() as s, s.begin():
        s.execute(update(Ticket).where(Ticket.id == number).values(notify_bounced="550 gone"))
    desk.customer("#close", subject=f"Re: [#{number}] {SUBJECT}")
    sent = desk.sent()
    held = one(sent, "status", ANNA)
    copy = one(sent, "operator_message", ANNA).message
    assert held.state == "suppressed" and copy is not None
    assert copy["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in copy["References"]
    with desk.gw.gateway.sessions() as s:
        held_id = s.scalar(select(Outbox.message_id).where(Outbox.state == "suppressed"))
    assert held_id not in str(copy["References"])


def test_operators_copy_carries_the_customers_attachment(desk):
    """The copy says the files are attached to it, so the operator's mail has the file."""
    desk.customer(message=_with_attachment(CUSTOMER))
    copy = one(desk.sent(), "operator_message", ANNA)
    assert copy.message is not None
    names = [part.get_filename() for part in copy.message.iter_attachments()]
    assert names == ["screen.png"]


def test_a_backlog_through_the_delivery_workers_keeps_the_attachment(desk):
    """Twelve letters at once go to a delivery worker, which reads the rows and their
    files itself: the copies of the mail with a screenshot still carry it."""
    stop_dispatcher(desk.gw)
    desk.customer(message=_with_attachment(CUSTOMER))
    for n in range(3):  # a created notice and two copies each: twelve letters in all
        desk.customer(f"Заявка {n}", subject=f"Вопрос {n}", sender=f"c{n}@example.ru")
    assert one_pass_through_the_workers(desk.gw) == 12
    got = desk.smarthost.wait_for(12)
    with_file = [
        g.message
        for g in got
        if g.message["Subject"].endswith(SUBJECT) and g.rcpt_tos != [CUSTOMER]
    ]
    assert sorted(m["To"] for m in with_file) == [ANNA, BORIS]
    for message in with_file:
        assert [p.get_filename() for p in message.iter_attachments()] == ["screen.png"]


def test_no_copies_when_operator_copies_is_off(settings, clock, smarthost):
    """operator_copies=False: the customer is answered, the operators get nothing."""
    with open_desk(settings, clock, smarthost, operator_copies=False) as desk:
        number = desk.customer()
        desk.customer("Ещё: и на мобильной версии тоже.", subject=f"Re: [#{number}] {SUBJECT}")
        sent = desk.sent()
    assert kinds(sent) == ["created"]
    assert kinds(sent, to=ANNA) == kinds(sent, to=BORIS) == []


# --- an operator's reply, as mail clients write it ------------------------------------------

OUTLOOK = (
    '<html><head><meta charset="utf-8"></head><body>'
    f"<div>{ANSWER}</div><div><br></div>"
    "<div>С уважением,<br>Анна<br>Техподдержка</div><div><br></div>"
    '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
    "<p><b>От:</b> Техподдержка &lt;support@example.com&gt;<br>"
    "<b>Отправлено:</b> 25 ноября 2026 г. 10:00<br><b>Кому:</b> anna@example.com<br>"
    f"<b>Тема:</b> [#1] {SUBJECT}</p></div>"
    f"<blockquote><div>{REQUEST}</div></blockquote></body></html>"
)
QUOTE = "> Здравствуйте! Сайт example.ru отдаёт 502 с утра.\n> Заявка создана.\n"
SHAPES = {
    "plain": (f"{ANSWER}\n", False),
    "html_only_outlook": (OUTLOOK, True),
    "top_posted_en": (
        f"{ANSWER}\n\nOn Wed, 25 Nov 2026 at 10:00, Support <support@example.com> wrote:\n{QUOTE}",
        False,
    ),
    "top_posted_ru": (f"{ANSWER}\n\n25.11.2026 10:00, Иван пишет:\n{QUOTE}", False),
    "bottom_posted": (f"25.11.2026 10:00, Иван пишет:\n{QUOTE}\n{ANSWER}\n", False),
    "bottom_posted_bare_quote": (f"{QUOTE}\n{ANSWER}\n", False),
    "russian_signature": (f"{ANSWER}\n\n-- \nС уважением,\nАнна\nТехподдержка\n", False),
}


def test_operator_reply_reaches_the_customer_stripped(desk):
    """Every client's shape, to the o-address or support [#N]: only the new words, from support."""
    cases = [(shape, via) for shape in SHAPES for via in ("o_address", "subject_token")]
    numbers = [
        desk.customer(f"Не открывается страница {i}, ошибка 502.", sender=f"r{i}@example.ru")
        for i in range(len(cases))
    ]
    desk.sent()
    for number, (shape, via) in zip(numbers, cases, strict=True):
        body, html = SHAPES[shape]
        to = desk.o_address(number) if via == "o_address" else SUPPORT
        answer = desk.operator(op_mail(body, number=number, to=to, html=html))
        assert f"ticket #{number}: reply" in answer, (shape, via, answer)
    sent = desk.sent()
    for i, (number, case) in enumerate(zip(numbers, cases, strict=True)):
        customer = f"r{i}@example.ru"
        assert [(s.kind, s.to, s.state) for s in sent if s.ticket == number] == [
            ("operator_reply", customer, "sent")
        ], case
        reply = one(sent, "operator_reply", customer)
        msg = reply.message
        assert msg is not None
        assert msg["From"].addresses[0].addr_spec == SUPPORT, case
        assert "Анна" in msg["From"].addresses[0].display_name, case
        assert msg["Auto-Submitted"] is None, case
        assert msg["Subject"] == f"[#{number}] {SUBJECT}", case
        assert quoted_block(reply.text) == ANSWER, (case, reply.text)
        assert ANSWER in reply.html and "502 с утра" not in reply.html, case
        for gone in ("502 с утра", "пишет", "wrote", "Анна\nТехподдержка", "Заявка создана"):
            assert gone not in reply.text, (case, gone)
        ticket = desk.show(number)
        assert ticket["status"] == "awaiting_customer", case
        [mine] = [m for m in ticket["messages"] if m["author"] == "operator"]
        assert (mine["text"], mine["author_address"]) == (ANSWER, ANNA), case


def test_reply_whose_message_id_has_the_company_domain_is_applied(desk):
    """Anna's client writes Message-ID <…@example.com> (Thunderbird does): still her reply."""
    number = desk.customer()
    desk.sent()
    answer = desk.operator(op_mail(ANSWER, number=number, msgid_domain="example.com"))
    assert "held" not in answer, answer
    assert kinds(desk.sent(), to=CUSTOMER) == ["operator_reply"]
    assert desk.show(number)["status"] == "awaiting_customer"


def test_second_operator_replies_as_themselves(desk):
    """Борис answers to his own o-address: the customer sees Борис, the message is his."""
    number = desk.customer()
    desk.sent()
    desk.operator(
        op_mail(
            ANSWER, number=number, to=desk.o_address(number, BORIS), sender=BORIS, name="Борис"
        ),
        login=BORIS,
    )
    reply = one(desk.sent(), "operator_reply", CUSTOMER)
    assert reply.message is not None
    assert "Борис" in reply.message["From"].addresses[0].display_name
    [mine] = [m for m in desk.show(number)["messages"] if m["author"] == "operator"]
    assert mine["author_address"] == BORIS


# --- commands ----------------------------------------------------------------------------

# (name, the operator's mails in order, the status they leave; the test checks the rest)
COMMANDS: list[tuple[str, list[str], str]] = [
    ("take", ["#take"], "in_progress"),
    ("status_in_progress", ["#status in_progress"], "in_progress"),
    ("status_awaiting_customer", ["#status awaiting_customer"], "awaiting_customer"),
    (
        "status_awaiting_operator",
        ["#status awaiting_customer", "#status awaiting_operator"],
        "awaiting_operator",
    ),
    ("close", ["#close"], "closed"),
    ("admin_close", ["#admin-close спам и оскорбления"], "closed"),
    ("note", ["#note\nКлиент звонил, просил не торопить."], "awaiting_operator"),
    ("assign", ["#assign Борис"], "awaiting_operator"),
    ("merge", ["#merge {target}"], "closed"),
    ("notify_off", ["#notify off"], "awaiting_operator"),
    ("take_ru", ["#взять"], "in_progress"),
    ("close_ru", ["#закрыть"], "closed"),
    ("note_ru", ["#заметка\nПроверить логи балансировщика."], "awaiting_operator"),
    ("take_upper", ["#TAKE"], "in_progress"),
    (  # Outlook: HTML only, the command in a <div>, a signature and the quote below
        "take_html",
        [
            "<html><body><div>#взять</div><div>Посмотрю сегодня.</div><div><br></div>"
            "<div>С уважением,<br>Анна</div><blockquote><div>старый текст</div></blockquote>"
            "</body></html>"
        ],
        "in_progress",
    ),
    ("status_and_reply", [f"#status in_progress\n\n{ANSWER}"], "in_progress"),
]


def test_every_command_acts_on_the_ticket(desk):
    """Each command from an authenticated operator's mail changes the ticket as documented."""
    merging = [name for name, _, _ in COMMANDS].index("merge")
    target = desk.customer(  # the same customer's other ticket: merges stay within one customer
        "Общая заявка, куда объединяют.", subject="Цель", sender=f"c{merging}@example.ru"
    )
    numbers = {
        name: desk.customer(
            f"Обращение {i}: {name} не работает, код {1000 + i}.",
            subject=f"Вопрос {name}",
            sender=f"c{i}@example.ru",
        )
        for i, (name, _, _) in enumerate(COMMANDS)
    }
    desk.sent()
    for name, bodies, _ in COMMANDS:
        for body in bodies:
            number = numbers[name]
            text = body.format(target=target)
            answer = desk.operator(op_mail(text, number=number, html=text.startswith("<html")))
            assert "not applied" not in answer, (name, answer)
    sent = desk.sent()
    assert "command_error" not in kinds(sent)

    for i, (name, _, status) in enumerate(COMMANDS):
        customer = f"c{i}@example.ru"
        ticket = desk.show(numbers[name])
        assert ticket["status"] == status, (name, ticket["status"])
        to_customer = kinds(sent, to=customer)
        if name in ("take", "take_ru", "take_upper", "take_html"):
            assert ticket["assignee_id"] == desk.ids[ANNA]
        if name == "assign":
            assert ticket["assignee_id"] == desk.ids[BORIS]
        if name == "admin_close":
            assert ticket["locked"] is True
            assert "спам и оскорбления" in ticket["events"][-1]["reason"]
        elif name in ("close", "close_ru"):
            assert ticket["locked"] is False
        if name in ("note", "note_ru"):
            [note] = [m for m in ticket["messages"] if m["author"] == "operator"]
            assert note["flags"] == ["note"]
            assert to_customer == [], name  # an internal note: nothing to the customer
        if name == "notify_off":
            assert ticket["notify"] is False and to_customer == []
        if name == "merge":
            assert ticket["duplicate_of"] == target and ticket["messages"] == []
            moved = [m for m in desk.show(target)["messages"] if "merge" in m["text"]]
            assert moved and moved[0]["author"] == "customer"
        if name == "status_and_reply":  # the reply went out; the command's status wins
            assert to_customer == ["operator_reply", "status"]
            assert quoted_block(one(sent, "operator_reply", customer).text) == ANSWER
            [mine] = [m for m in ticket["messages"] if m["author"] == "operator"]
            assert mine["text"] == ANSWER and "#status" not in mine["text"]
        if name == "take_html":
            assert to_customer == ["operator_reply", "status"]
            reply = one(sent, "operator_reply", customer)
            assert quoted_block(reply.text) == "Посмотрю сегодня."
        if name in ("take", "status_in_progress", "close", "admin_close", "take_ru"):
            assert to_customer == ["status"], (name, to_customer)
    assert desk.show(target)["status"] == "awaiting_operator"


# (the operator's mail, the number of the wrong line, what the mail must say about it)
# The reason as the Russian mail says it (notify.words, issue 13): never intake's English.
BAD_COMMANDS = [
    ("#bogus", 1, "неизвестная команда #bogus"),
    ("#status nonsense", 1, "пишите #статус in_progress"),
    ("#merge 99999", 1, "после #объединить укажите номер другой существующей заявки"),
    ("#assign nobody", 1, "оператора «nobody» нет"),
    (f"#take\n#bogus\n\n{ANSWER}", 2, "неизвестная команда #bogus"),
]


def test_wrong_command_changes_nothing_and_tells_the_operator(desk):
    """Unknown or malformed: ticket and customer untouched; command_error names the line."""
    numbers = [
        desk.customer(f"Проблема номер {i}: не открывается кабинет {i}.", sender=f"w{i}@x.ru")
        for i in range(len(BAD_COMMANDS))
    ]
    desk.sent()
    for number, (body, _, _) in zip(numbers, BAD_COMMANDS, strict=True):
        answer = desk.operator(op_mail(body, number=number))
        assert "not applied" in answer
    sent = desk.sent()
    for i, (number, (body, line_no, reason)) in enumerate(zip(numbers, BAD_COMMANDS, strict=True)):
        ticket = desk.show(number)
        assert ticket["status"] == "awaiting_operator" and ticket["assignee_id"] is None, body
        assert kinds(sent, to=f"w{i}@x.ru") == [], body  # nothing to the customer
        [kept] = [m for m in ticket["messages"] if m["author"] == "operator"]
        assert kept["flags"] == ["rejected"]
        [error] = [s for s in sent if s.kind == "command_error" and s.ticket == number]
        assert error.to == ANNA and error.state == "sent", body
        wrong_line = body.splitlines()[line_no - 1]
        assert f"Строка {line_no}: {wrong_line}" in error.text, error.text
        assert reason in error.text, error.text
        assert "Ничего не изменилось" in error.text


def test_command_error_reaches_a_busy_operator(desk):
    """After eleven customer mails in an hour a wrong command is still reported to its operator."""
    numbers = [
        desk.customer(f"Вопрос {i}: не работает выгрузка {i}.", sender=f"b{i}@x.ru")
        for i in range(11)
    ]
    desk.sent()
    desk.operator(op_mail("#bogus", number=numbers[0]))
    [error] = [s for s in desk.sent() if s.kind == "command_error"]
    assert error.state == "sent", error


def test_merge_across_customers_is_refused_and_the_operator_told(desk):
    """#merge of Ольга's ticket into someone else's changes nothing: she would lose her thread."""
    target = desk.customer("Сайт лежит у всех.", subject="Авария", sender="t@example.ru")
    merged = desk.customer(sender="olga@example.ru")
    desk.sent()
    desk.operator(op_mail(f"#merge {target}", number=merged))
    assert desk.show(merged)["duplicate_of"] is None
    assert desk.show(merged)["status"] == "awaiting_operator"
    [error] = [s for s in desk.sent() if s.kind == "command_error"]
    assert "разных клиентов" in error.text  # said in the mail's language (issue 13)


def test_merged_tickets_customer_can_still_reply(desk):
    """After #merge of her own two tickets, her reply in the merged thread lands in the other."""
    target = desk.customer("Сайт лежит у всех.", subject="Авария", sender="olga@example.ru")
    merged = desk.customer(sender="olga@example.ru")
    [created] = [s for s in desk.sent() if s.kind == "created" and s.ticket == merged]
    assert created.message is not None
    desk.operator(op_mail(f"#merge {target}", number=merged))
    desk.sent()
    again = mail(f"Re: [#{merged}] {SUBJECT}", "Всё ещё не работает.", sender="olga@example.ru")
    code, text = send(
        desk.gw, again, sender="olga@example.ru", rcpts=(str(created.message["Reply-To"]),)
    )
    assert code == 250 and "held" not in text and f"ticket #{target}" in text, text
    assert "held_notice" not in kinds(desk.sent(), to="olga@example.ru")


# --- guarantee 6: no one else's ticket ------------------------------------------------------


def test_unauthenticated_mail_with_an_operators_from_changes_nothing(desk):
    """Port 25, From: anna@, #close, to support [#N] or even her o-address: held, not closed."""
    number = desk.customer()
    desk.sent()
    forged = op_mail("#close\n\nЗакрываю.", number=number)
    assert desk.customer(message=forged, sender=ANNA) == number
    forged_o = op_mail("#take\n#close", number=number, to=desk.o_address(number))
    code, text = send(desk.gw, forged_o, sender=ANNA, rcpts=(desk.o_address(number),))
    assert code == 250, text
    ticket = desk.show(number)
    assert ticket["status"] == "awaiting_operator" and ticket["assignee_id"] is None
    assert [e["to"] for e in ticket["events"]] == ["awaiting_operator"]
    held = [m for m in ticket["messages"] if m["author"] != "customer"]
    assert len(held) == 2
    assert all(m["author"] == "stranger" and m["flags"] == ["held"] for m in held)
    assert any("not authenticated" in step for step in held[0]["trace"])
    sent = desk.sent()
    assert kinds(sent, to=CUSTOMER) == []
    assert "operator_reply" not in kinds(sent) and "status" not in kinds(sent)
    assert kinds(sent, to=BORIS) == ["stranger_held", "stranger_held"]


def _env(settings) -> dict[str, str]:
    return {
        **os.environ,
        "HELPDESK_DATA_DIR": str(settings.data_dir),
        "HELPDESK_DATABASE_URL": settings.database_url,
        "HELPDESK_DOMAIN": "example.com",
    }


def test_strangers_mail_is_held_told_and_decided_by_cli(desk, settings):
    """A stranger's mail with a valid token: held, everyone told, accepted or rejected by CLI."""
    number = desk.customer()
    desk.operator(op_mail(ANSWER, number=number))
    desk.sent()
    assert desk.show(number)["status"] == "awaiting_customer"

    stranger = mail(f"Re: [#{number}] и у меня", "У меня тоже не грузится.", sender=STRANGER)
    assert desk.customer(message=stranger, sender=STRANGER) == number
    ticket = desk.show(number)
    assert ticket["status"] == "awaiting_customer"
    [held] = [m for m in ticket["messages"] if m["author"] == "stranger"]
    assert held["flags"] == ["held"] and held["author_address"] == STRANGER

    sent = desk.sent()
    assert sorted(kinds(sent)) == ["held_notice", "stranger_held", "stranger_held"]
    for operator in (ANNA, BORIS):
        told = one(sent, "stranger_held", operator)
        assert STRANGER in told.text and "У меня тоже не грузится." in told.text
        assert f"helpdesk held accept {held['id']}" in told.text
    notice = one(sent, "held_notice", STRANGER)
    assert notice.message is not None
    whole = f"{notice.message['Subject']} {notice.message.as_string()} {notice.text} {notice.html}"
    assert f"[#{number}]" in notice.text
    for secret in (SUBJECT, CUSTOMER, "Иван", "отдаёт 502", ANSWER):
        assert secret not in whole, secret
    assert notice.message["From"].addresses[0].addr_spec == SUPPORT

    env = _env(settings)
    listed = cli(env, "held", "list", "--json")
    assert listed.returncode == 0, listed.stderr.decode()
    [row] = json.loads(listed.stdout)
    assert (row["id"], row["ticket"], row["from"]) == (held["id"], number, STRANGER)
    accepted = cli(env, "held", "accept", str(held["id"]), "--as", "Анна", "--json")
    assert accepted.returncode == 0, accepted.stderr.decode()
    ticket = desk.show(number)
    assert ticket["status"] == "awaiting_operator"
    [held] = [m for m in ticket["messages"] if m["author"] == "stranger"]
    assert held["flags"] == ["accepted"]

    again = mail(f"Re: [#{number}]", "Реклама: купите наш хостинг.", sender="spam@example.net")
    desk.customer(message=again, sender="spam@example.net")
    [second] = json.loads(cli(env, "held", "list", "--json").stdout)
    rejected = cli(env, "held", "reject", str(second["id"]), "--as", ANNA)
    assert rejected.returncode == 0, rejected.stderr.decode()
    ticket = desk.show(number)
    assert ticket["status"] == "awaiting_operator"
    [out] = [m for m in ticket["messages"] if m["author_address"] == "spam@example.net"]
    assert out["flags"] == ["rejected"]
    assert json.loads(cli(env, "held", "list", "--json").stdout) == []


# --- CLI equivalents ----------------------------------------------------------------------


def test_cli_merge_and_assign_and_their_errors(desk, settings):
    """ticket merge/assign change the database; unknown ticket or operator: one line, exit 1."""
    first = desk.customer()
    second = desk.customer("Почта не уходит с сервера.", subject="Почта")  # the same customer
    env = _env(settings)
    merged = cli(env, "ticket", "merge", str(second), str(first), "--as", "Анна", "--json")
    assert merged.returncode == 0, merged.stderr.decode()
    assert json.loads(merged.stdout)["messages_moved"] == 1
    gone = desk.show(second)
    assert gone["status"] == "closed" and gone["duplicate_of"] == first
    assert gone["messages"] == []
    assert len(desk.show(first)["messages"]) == 2
    assigned = cli(env, "ticket", "assign", str(first), "Борис", "--as", ANNA)
    assert assigned.returncode == 0, assigned.stderr.decode()
    assert desk.show(first)["assignee_id"] == desk.ids[BORIS]

    for args, says in [
        (("ticket", "merge", str(first), "99999", "--as", "Анна"), "no ticket #99999"),
        (("ticket", "merge", str(first), str(second), "--as", "nobody"), "no operator 'nobody'"),
        (("ticket", "assign", "99999", "Борис", "--as", "Анна"), "no ticket #99999"),
        (("ticket", "assign", str(first), "nobody", "--as", "Анна"), "no operator 'nobody'"),
    ]:
        proc = cli(env, *args)
        err = proc.stderr.decode()
        assert proc.returncode == 1, (args, err)
        assert err.count("\n") == 1 and says in err and "Traceback" not in err, (args, err)
    assert desk.show(first)["assignee_id"] == desk.ids[BORIS]
    assert desk.show(first)["status"] == "awaiting_operator"
