"""A customer on the support page: the same effects as mail (issue 7).

New tickets, replies, close and reopen go through the intake pipeline, so the
ticket, its events and its notifications are what the same words by mail would
make; the page adds only the asking (FAQ, "you already have #N").
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.store.tables import Outbox, RawMail
from tests.helpers import mail, send, show
from tests.web.conftest import Web

IVAN = "ivan@example.ru"
SUBJECT = "Не работает сайт"
REQUEST = "Здравствуйте! Сайт example.ru отдаёт 502 с утра, перезапуск не помог."


def outbox(web: Web) -> list[Outbox]:
    with web.gw.gateway.sessions() as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)))


def test_a_ticket_made_on_the_page_is_a_ticket_made_by_mail(web: Web) -> None:
    """awaiting_operator, the customer's event, a "created" mail, operator copies, raw kept."""
    web.gw.gateway.wiring.desk.add_operator("Анна", "anna@example.com", "pw")
    number = web.new_ticket(web.client(IVAN), SUBJECT, REQUEST)
    mailed = mail("Почта не приходит", "Письма на info@example.ru не доходят со вчера")
    assert send(web.gw, mailed, sender="petr@example.org")[0] == 250
    ours, theirs = show(web.gw, number), show(web.gw, number + 1)
    assert ours["status"] == theirs["status"] == "awaiting_operator"
    assert ours["customer"] == IVAN and ours["subject"] == SUBJECT
    assert ours["notify"] and ours["notify_address"] == IVAN
    assert [e["actor"] for e in ours["events"]] == [f"customer:{IVAN}"]
    assert ours["messages"][0]["text"].strip() == REQUEST
    trace = ours["messages"][0]["trace"]
    assert trace[0] == "human mail" and trace[1].startswith(f"sender {IVAN} known as customer")
    assert trace[-2:] == theirs["messages"][0]["trace"][-2:]
    kinds = sorted((r.kind, r.to_address) for r in outbox(web) if r.ticket_id == number)
    assert kinds == [("created", IVAN), ("operator_message", "anna@example.com")]
    with web.gw.gateway.sessions() as session:
        sources = set(session.scalars(select(RawMail.source)))
    assert sources == {"web", "smtp"}


def test_my_tickets_lists_open_ones_first(web: Web) -> None:
    """The "My tickets" page lists open tickets before closed ones, labelled in either language."""
    ivan = web.client(IVAN)
    first = web.new_ticket(ivan, "Первая", "Сайт example.ru отдаёт 502 уже час подряд")
    second = web.new_ticket(ivan, "Вторая", "Не приходит почта на info@example.ru со вчера")
    web.clock.advance(minutes=5)
    assert web.post(ivan, f"/tickets/{first}/close", {}).status_code == 303
    page = ivan.get("/tickets").text
    assert page.index(f"#{second}") < page.index(f"#{first}")
    assert "Ожидает ответа оператора" in page and "Закрыта" in page
    assert "Awaiting operator reply" in ivan.get("/tickets?lang=en").text


def test_faq_suggestions_while_typing(web: Web) -> None:
    """Up to three entries of the customer's language, from config/faq.toml."""
    ivan = web.client(IVAN)
    ru = ivan.get("/faq", params={"q": "ошибка 502 bad gateway"}).json()
    assert 1 <= len(ru) <= 3 and "502" in ru[0]["question"]
    assert ivan.get("/faq", params={"q": "зззз"}).json() == []
    assert web.client().get("/faq?q=502").status_code == 303, "signed-in customers only"


def test_a_near_duplicate_asks_before_it_joins(web: Web) -> None:
    """ "You already have #N": add the text there, or make a new ticket anyway — the
    customer's choice, which intake then keeps."""
    ivan = web.client(IVAN)
    number = web.new_ticket(ivan, SUBJECT, REQUEST)
    again = REQUEST.replace("с утра", "с самого утра")
    data = {"subject": SUBJECT, "text": again, "notify": "on", "notify_address": ""}
    asked = web.post(ivan, "/tickets/new", data)
    assert asked.status_code == 200 and f"У вас уже есть заявка №{number}" in asked.text
    assert len(show(web.gw, number)["messages"]) == 1, "nothing stored before the choice"
    added = web.post(ivan, f"/tickets/{number}/reply", {"text": again})
    assert added.headers["location"] == f"/tickets/{number}"
    assert len(show(web.gw, number)["messages"]) == 2
    anyway = web.post(ivan, "/tickets/new", {**data, "confirmed": "1"})
    separate = int(anyway.headers["location"].rsplit("/", 1)[1])
    assert separate != number and show(web.gw, separate)["status"] == "awaiting_operator"
    assert len(show(web.gw, number)["messages"]) == 2, "the first ticket is left alone"
    [first] = show(web.gw, separate)["messages"]
    assert "duplicate" not in first["flags"]
    assert any("chose a new ticket" in line for line in first["trace"])
    other = {**data, "subject": "Почта", "text": "Не доходят письма на info@example.ru"}
    assert web.post(ivan, "/tickets/new", other).status_code == 303


def test_reply_nudge_close_and_reopen(web: Web) -> None:
    """A reply brings the ticket back to the operators; a nudge keeps its place; close;
    reopen within the window; after it, a linked new ticket."""
    ivan = web.client(IVAN)
    number = web.new_ticket(ivan, SUBJECT, REQUEST)
    web.gw.gateway.wiring.desk.add_operator("Анна", "anna@example.com", "pw")
    web.gw.gateway.wiring.desk.act(number, "anna@example.com", "reply", text="Проверьте")
    assert show(web.gw, number)["status"] == "awaiting_customer"
    web.clock.advance(hours=1)
    web.post(ivan, f"/tickets/{number}/reply", {"text": "Всё ещё 502, вот скриншот"})
    detail = show(web.gw, number)
    assert detail["status"] == "awaiting_operator"
    since = detail["awaiting_since"]
    web.clock.advance(hours=1)
    page = ivan.get(f"/tickets/{number}").text
    assert "место в очереди от этого не меняется" in page
    web.post(ivan, f"/tickets/{number}/reply", {"text": "Когда вы ответите?"})
    detail = show(web.gw, number)
    assert "nudge" in detail["messages"][-1]["flags"] and detail["awaiting_since"] == since

    web.post(ivan, f"/tickets/{number}/close", {})
    assert show(web.gw, number)["status"] == "closed"
    page = ivan.get(f"/tickets/{number}").text
    assert f'action="/tickets/{number}/reopen"' in page
    web.clock.advance(days=3)
    web.post(ivan, f"/tickets/{number}/reopen", {"text": "Снова 502"})
    assert show(web.gw, number)["status"] == "awaiting_operator"

    web.post(ivan, f"/tickets/{number}/close", {})
    web.clock.advance(days=31)
    page = ivan.get(f"/tickets/{number}").text
    assert f'action="/tickets/{number}/reopen"' not in page
    assert f"/tickets/new?follow_up={number}" in page and "30 дней" in page
    form = ivan.get(f"/tickets/new?follow_up={number}").text
    assert f'name="follow_up" value="{number}"' in form and SUBJECT in form
    r = web.post(
        ivan,
        "/tickets/new",
        {"subject": SUBJECT, "text": "Опять 502", "follow_up": str(number), "notify": "on"},
    )
    new = int(r.headers["location"].rsplit("/", 1)[1])
    assert new != number and show(web.gw, new)["follow_up_of"] == number
    assert show(web.gw, number)["status"] == "closed"


def test_notification_settings_on_the_ticket_page(web: Web) -> None:
    """Off and on directly; another address only after it confirms (like #notify-to)."""
    ivan = web.client(IVAN)
    number = web.new_ticket(ivan, SUBJECT, REQUEST)
    web.post(ivan, f"/tickets/{number}/notify", {"notify_address": IVAN})
    assert show(web.gw, number)["notify"] is False
    web.post(ivan, f"/tickets/{number}/notify", {"notify": "on", "notify_address": IVAN})
    assert show(web.gw, number)["notify"] is True
    r = web.post(
        ivan, f"/tickets/{number}/notify", {"notify": "on", "notify_address": "boss@example.ru"}
    )
    assert r.status_code == 303
    assert show(web.gw, number)["notify_address"] == IVAN, "not before it confirms"
    page = ivan.get(f"/tickets/{number}").text
    assert "boss@example.ru" in page
    rows = [r for r in outbox(web) if r.kind == "confirm_address"]
    assert [r.to_address for r in rows] == ["boss@example.ru"]
    bad = web.post(ivan, f"/tickets/{number}/notify", {"notify": "on", "notify_address": "x"})
    assert bad.status_code == 303 and show(web.gw, number)["notify_address"] == IVAN


def test_a_new_ticket_without_notifications_sends_no_created_mail(web: Web) -> None:
    """A ticket opened with notifications off queues no "created" mail at all."""
    ivan = web.client(IVAN)
    r = web.post(ivan, "/tickets/new", {"subject": SUBJECT, "text": REQUEST, "notify_address": ""})
    number = int(r.headers["location"].rsplit("/", 1)[1])
    assert show(web.gw, number)["notify"] is False
    assert [r for r in outbox(web) if r.kind == "created"] == [], "not even queued"


def test_the_form_says_what_is_missing(web: Web) -> None:
    """The new-ticket form answers 400 naming each missing field, in the visitor's language."""
    ivan = web.client(IVAN)
    r = web.post(ivan, "/tickets/new", {"subject": "", "text": " ", "notify": "on"})
    assert r.status_code == 400
    assert "Укажите тему заявки" in r.text and "Опишите проблему" in r.text
    en = web.post(ivan, "/tickets/new?lang=en", {"subject": "", "text": "x"})
    assert "Please give a subject" in en.text


def test_attachments_download_from_the_ticket_page(web: Web) -> None:
    """A customer downloads a mailed attachment from the ticket page under its Russian name."""
    message = mail(SUBJECT, REQUEST, sender=IVAN)
    message.add_attachment(b"PNG...", maintype="image", subtype="png", filename="экран.png")
    send(web.gw, message, sender=IVAN)
    page = web.client(IVAN).get("/tickets/1").text
    file_id = show(web.gw, 1)["messages"][0]["attachments"][0]["id"]
    assert f"/tickets/1/files/{file_id}" in page and "экран.png" in page
    got = web.client(IVAN).get(f"/tickets/1/files/{file_id}")
    assert got.content == b"PNG..." and "UTF-8''%D1%8D" in got.headers["content-disposition"]


@pytest.mark.parametrize("breaker", ["\r\n", "\n", "\r", "\u2028", "\x00", "\x85"])
def test_line_breaks_and_nul_in_a_new_tickets_subject_make_a_ticket(web: Web, breaker) -> None:
    """Issue 14.12: CR, LF, U+2028 or NUL in the subject: a ticket, no 500, no false failure."""
    ivan = web.client(IVAN)
    number = web.new_ticket(ivan, f"Сайт{breaker}лежит", f"Ошибка{breaker}502")
    page = ivan.get(f"/tickets/{number}")
    assert page.status_code == 200 and "Сайт лежит" in page.text


def test_a_huge_ticket_number_is_not_found(web: Web) -> None:
    """Issue 14.12: a number past what the database holds is 404 for customers and operators."""
    huge = "9" * 30
    assert web.client(IVAN).get(f"/tickets/{huge}").status_code == 404
    op = web.operator()
    assert op.get(f"/op/tickets/{huge}").status_code == 404
    assert op.get(f"/op/tickets/{huge}/files/{huge}").status_code == 404
