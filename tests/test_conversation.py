"""A whole conversation as the people in it see it in their mail clients (issue 13).

Twelve mails — a customer, two operators through submission, a stranger —
and everything the gateway sends, captured at an aiosmtpd smarthost. Each
person's mailbox is what they sent plus what they received. In it, every
``In-Reply-To``/``References`` id must be a mail of that mailbox (else Gmail
and NeoMutt split the conversation), and each ticket must be one thread.
Nothing an operator wrote among the team may reach the customer, nothing is
suppressed, and the sign-in link the customer asks for afterwards is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

import pytest
from sqlalchemy import select

from gateway.store.tables import Outbox
from gateway.testing import running_gateway
from tests.helpers import SUPPORT, send
from tests.test_operators_mail import ANNA, BORIS, CUSTOMER, STRANGER, Desk
from tests.web.conftest import Web, web_settings

TEAM_ONLY = ("Борис, это не наш клиент", "#взять", "У меня тоже не грузится", "#закрыть")
IDS = re.compile(r"<[^<>\s]+>")


@pytest.fixture
def both(settings, clock, smarthost) -> Iterator[tuple[Desk, Web]]:
    with running_gateway(
        web_settings(settings),
        clock,
        smarthost=smarthost.url,
        smarthost_starttls="no",
        notify_backoff_seconds=1,
        submission_listen="smtp://127.0.0.1:0",
    ) as gw:
        web = Web(gw, clock)
        try:
            yield Desk(gw, smarthost), web
        finally:
            web.close()


class People:
    """Each person's mailbox: what they sent, what they received (by Message-ID)."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.sent: dict[str, list[EmailMessage]] = {}

    def inbox(self, who: str) -> list[EmailMessage]:
        self.desk.sent()  # everything due has gone out
        return [
            c.message for c in self.desk.smarthost.mails if who in [r.lower() for r in c.rcpt_tos]
        ]

    def last_from_us(self, who: str, kind_hint: str = "") -> EmailMessage:
        mails = [m for m in self.inbox(who) if kind_hint in m.get_body(("plain",)).get_content()]
        assert mails, (who, kind_hint)
        return mails[-1]

    def write(
        self, who: str, body: str, *, to: EmailMessage | None = None, subject: str = ""
    ) -> None:
        """``who`` writes: new, or as a client's reply (Reply-To, Re:, In-Reply-To, References)."""
        msg = EmailMessage()
        msg["From"] = who
        msg["Message-ID"] = make_msgid(domain=who.partition("@")[2])
        if to is None:
            msg["To"] = SUPPORT
            msg["Subject"] = subject
        else:
            msg["To"] = str(to["Reply-To"])
            msg["Subject"] = f"Re: {to['Subject']}"
            msg["In-Reply-To"] = str(to["Message-ID"])
            msg["References"] = " ".join(
                [*IDS.findall(str(to["References"] or "")), str(to["Message-ID"])]
            )
        msg.set_content(body)
        if who in (ANNA, BORIS):
            self.desk.operator(msg, login=who)
        else:
            code, text = send(self.desk.gw, msg, sender=who, rcpts=(str(msg["To"]),))
            assert code == 250, text
        self.sent.setdefault(who, []).append(msg)

    def mailbox(self, who: str) -> list[EmailMessage]:
        return [*self.sent.get(who, []), *self.inbox(who)]


def _threads(mails: list[EmailMessage]) -> list[set[str]]:
    """Threads as a client that follows In-Reply-To and References makes them."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for m in mails:
        for ref in IDS.findall(f"{m['In-Reply-To'] or ''} {m['References'] or ''}"):
            parent[root(ref)] = root(str(m["Message-ID"]))
    groups: dict[str, set[str]] = {}
    for m in mails:
        groups.setdefault(root(str(m["Message-ID"])), set()).add(str(m["Message-ID"]))
    return list(groups.values())


def test_a_twelve_mail_conversation_holds_together_for_everyone(both):
    """Customer, two operators, a stranger: every thread id is one the recipient holds, one
    thread a ticket, no team talk reaches the customer, nothing suppressed, the link goes."""
    desk, web = both
    people = People(desk)
    people.write(CUSTOMER, "Сайт отдаёт 502 с утра.", subject="Не работает сайт")  # 1
    people.write(ANNA, "Перезапустили nginx, проверьте.", to=people.last_from_us(ANNA))  # 2
    people.write(CUSTOMER, "Всё ещё 502.", to=people.last_from_us(CUSTOMER))  # 3
    people.write(BORIS, "#взять\nСмотрю логи.", to=people.last_from_us(BORIS))  # 4
    people.write(STRANGER, "У меня тоже не грузится.", subject="Re: [#1] Не работает сайт")  # 5
    held = people.last_from_us(ANNA, STRANGER)
    people.write(ANNA, "Борис, это не наш клиент, отклони.", to=held)  # 6
    people.write(CUSTOMER, "Есть новости?", to=people.last_from_us(CUSTOMER))  # 7
    people.write(BORIS, "Нашли причину: исправили конфиг.", to=people.last_from_us(BORIS))  # 8
    people.write(CUSTOMER, "Заработало, спасибо!", to=people.last_from_us(CUSTOMER))  # 9
    people.write(ANNA, "#закрыть", to=people.last_from_us(ANNA))  # 10
    people.write(CUSTOMER, "Снова 502.", to=people.last_from_us(CUSTOMER))  # 11
    people.write(CUSTOMER, "#close\nУже прошло.", to=people.last_from_us(CUSTOMER))  # 12

    for who in (CUSTOMER, ANNA, BORIS, STRANGER):
        box = people.mailbox(who)
        ids = {str(m["Message-ID"]) for m in box}
        for m in box:
            named = IDS.findall(f"{m['In-Reply-To'] or ''} {m['References'] or ''}")
            assert set(named) <= ids, (who, m["Subject"], set(named) - ids)
        about_ticket = [
            m for m in box if "[#1]" in str(m["Subject"]) or m in people.sent.get(who, [])
        ]
        if who != STRANGER:
            assert len(_threads(about_ticket)) == 1, (who, [m["Subject"] for m in about_ticket])
    held_notice = people.inbox(STRANGER)[0]
    assert str(held_notice["Subject"]).count("Re:") == 1 and "[#1]" not in held_notice["Subject"]
    assert held_notice["In-Reply-To"] == str(people.sent[STRANGER][0]["Message-ID"])
    assert len(_threads(people.mailbox(STRANGER))) == 1

    for m in people.inbox(CUSTOMER):
        whole = m.as_string() + m.get_body(("plain",)).get_content()
        for words in TEAM_ONLY:
            assert words not in whole, (words, m["Subject"])
        assert parseaddr(str(m["Reply-To"]))[1].startswith("support+t")

    with desk.gw.gateway.sessions() as session:
        states = {(r.kind, r.to_address, r.state) for r in session.scalars(select(Outbox))}
    assert {s for *_, s in states} == {"sent"}, states

    page = web.post(web.client(), "/signin", {"email": CUSTOMER}, "/signin").text
    assert "отправлена ссылка для входа" in page
    assert any("signin" in m.get_body(("plain",)).get_content() for m in people.inbox(CUSTOMER))
