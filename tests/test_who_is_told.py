"""Who is told what (issue 13, ``gateway.notify.audience``), over real SMTP sessions.

The customer writes to the main listener, operators answer through submission,
and every mail the gateway sends is caught by a recording smarthost. What a
customer must never get: a word an operator wrote among the team, or a mail about
a change their own mail made. What an operator's reply to mail for operators
only must never become: a message to the customer, or a ticket.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from gateway.mail import reply_address
from gateway.notify import audience
from gateway.schedule.sweep import sweep
from tests.helpers import SUPPORT, mail, tickets
from tests.test_operators_mail import (
    ANNA,
    ANSWER,
    BORIS,
    CUSTOMER,
    STRANGER,
    SUBJECT,
    Desk,
    kinds,
    one,
    op_mail,
    open_desk,
)

README = Path(__file__).resolve().parents[1] / "README.md"
REMARK = "Борис, это не наш клиент, отклони"


@pytest.fixture
def desk(settings, clock, smarthost) -> Iterator[Desk]:
    with open_desk(settings, clock, smarthost) as d:
        yield d


def reply_to(desk: Desk, sent_mail: EmailMessage, body: str, *, login: str = ANNA) -> str:
    """An operator's client answering a mail: to its Reply-To, threaded under it."""
    msg = EmailMessage()
    msg["From"] = f"Анна <{login}>"
    msg["To"] = str(sent_mail["Reply-To"])
    msg["Subject"] = f"Re: {sent_mail['Subject']}"
    msg["Message-ID"] = make_msgid(domain="anna-laptop.example.com")
    msg["In-Reply-To"] = str(sent_mail["Message-ID"])
    msg.set_content(body)
    return desk.operator(msg, login=login)


def _bound_kind(desk: Desk, address: str, operator: str) -> str:
    """The kind of a signed reply address, which must be signed for that operator."""
    found = reply_address.read(address, SUPPORT, desk.gw.gateway.secret, bound=operator)
    assert found is not None, address
    return found[0]


def test_a_reply_to_stranger_held_is_an_internal_note_never_the_customers(desk):
    """An operator answering stranger_held writes to the team: a note, nothing to the customer."""
    number = desk.customer()
    desk.operator(op_mail(ANSWER, number=number))
    desk.sent()
    stranger = mail(f"Re: [#{number}] и у меня", "У меня тоже не грузится.", sender=STRANGER)
    desk.customer(message=stranger, sender=STRANGER)
    held = one(desk.sent(), "stranger_held", ANNA)
    assert held.message is not None
    assert _bound_kind(desk, held.message["Reply-To"], ANNA) == "n"
    assert "внутренней заметкой" in held.text  # the line that says what a reply does

    reply_to(desk, held.message, REMARK)
    sent = desk.sent()
    assert kinds(sent, to=CUSTOMER) == []
    ticket = desk.show(number)
    assert ticket["status"] == "awaiting_customer"
    [note] = [m for m in ticket["messages"] if REMARK in m["text"]]
    assert note["author"] == "operator" and "note" in note["flags"]


def test_a_reply_to_the_digest_is_answered_and_opens_no_ticket(desk, clock):
    """A reply to the unanswered digest gets an answer; no ticket, nothing to a customer."""
    desk.customer()
    desk.sent()
    wiring = desk.gw.gateway.wiring
    clock.advance(hours=25)
    sweep(wiring.sessions, wiring.sweep_rules(), clock())
    digest = one(desk.sent(), "escalation", ANNA)
    assert digest.message is not None
    assert _bound_kind(desk, digest.message["Reply-To"], ANNA) == "d"

    before = len(tickets(desk.gw))
    reply_to(desk, digest.message, "Беру первую, остальные после обеда.")
    sent = desk.sent()
    assert len(tickets(desk.gw)) == before
    assert kinds(sent) == ["digest_answer"]
    answer = one(sent, "digest_answer", ANNA)
    assert answer.message is not None
    assert "не добавлен ни в одну заявку" in answer.text
    assert answer.message["Subject"].count("Re:") == 1


def test_the_customer_is_not_told_of_their_own_reply(desk):
    """The customer's reply moves the ticket to the operators; it mails the customer nothing."""
    number = desk.customer()
    desk.operator(op_mail(ANSWER, number=number))
    desk.sent()
    desk.customer("Спасибо, но всё ещё 502.", subject=f"Re: [#{number}] {SUBJECT}")
    sent = desk.sent()
    assert desk.show(number)["status"] == "awaiting_operator"
    assert kinds(sent, to=CUSTOMER) == []
    assert sorted(kinds(sent)) == ["operator_message", "operator_message"]


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_own_close_is_confirmed_once_with_how_to_reopen(desk, clock, locale):
    """The customer's #close gets one confirmation: how and until when to reopen, no #close."""
    subject = SUBJECT if locale == "ru" else "Site is down"
    desk.gw.gateway.wiring.desk.add_customer(CUSTOMER, "Иван Петров", verified=True)
    number = desk.customer(
        "502 since the morning." if locale == "en" else "502 с утра.", subject=subject
    )
    if locale == "en":
        with desk.gw.gateway.sessions() as s, s.begin():
            from sqlalchemy import update

            from gateway.store.tables import Ticket

            s.execute(update(Ticket).where(Ticket.id == number).values(locale="en"))
    desk.sent()
    desk.customer("#close", subject=f"Re: [#{number}] {subject}")
    sent = desk.sent()
    [confirm] = [s for s in sent if s.to == CUSTOMER]
    assert confirm.kind == "status"
    until = (clock() + timedelta(days=30)).date()
    words = {
        "ru": ("Вы закрыли заявку", "откроется снова", " г."),
        "en": ("You have closed", "ticket reopens", f" {until.year}"),
    }[locale]
    for part in (confirm.text, confirm.html):
        for word in words:
            assert word in part, (word, part)
        assert str(until.day) in part
        assert "#close" not in part
        assert "closed by customer" not in part


def test_every_mail_for_operators_only_carries_an_operator_bound_address(desk, clock):
    """operator_message, command_error, stranger_held, possible_repeat and the digest each
    carry a Reply-To signed for their operator, never the customer's ticket address."""
    number = desk.customer()
    desk.operator(op_mail("#bogus", number=number))
    stranger = mail(f"Re: [#{number}] и у меня", "У меня тоже не грузится.", sender=STRANGER)
    desk.customer(message=stranger, sender=STRANGER)
    desk.operator(op_mail("#close", number=number))
    clock.advance(days=2)
    desk.customer()  # the same request, the ticket closed two days ago: a possible repeat
    wiring = desk.gw.gateway.wiring
    clock.advance(hours=25)
    sweep(wiring.sessions, wiring.sweep_rules(), clock())
    sent = [s for s in desk.sent() if s.to in (ANNA, BORIS)]
    seen = {s.kind for s in sent}
    assert seen >= {
        "operator_message",
        "command_error",
        "stranger_held",
        "possible_repeat",
        "escalation",
    }
    secret = desk.gw.gateway.secret
    for s in sent:
        assert s.message is not None, s
        assert audience.RULES[s.kind].reply in reply_address.OPERATOR_BOUND
        assert _bound_kind(desk, s.message["Reply-To"], s.to) == audience.RULES[s.kind].reply
        with pytest.raises(reply_address.BadToken):
            reply_address.read(s.message["Reply-To"], SUPPORT, secret, bound=CUSTOMER)


def test_the_same_mail_again_and_again_tells_nobody_after_the_first_copy(desk):
    """One request sent five times: one created, one duplicate notice, then silence."""
    for _ in range(5):
        desk.customer()
    sent = desk.sent()
    assert len(tickets(desk.gw)) == 1
    assert kinds(sent, to=CUSTOMER) == ["created", "duplicate"]
    assert kinds(sent, to=ANNA) == ["operator_message", "operator_message"]


def test_readme_prints_the_who_is_told_table():
    """The README's "Who is told what" section is the table the code applies."""
    assert audience.markdown() in README.read_text(encoding="utf-8")
