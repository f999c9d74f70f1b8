"""Operators on the support page: the queue, held mails, quarantine, a ticket's buttons.

Every button must do what the same ``helpdesk ticket …`` verb does (it calls
the same function); these tests check the visible effect and the audit trail.
"""

from __future__ import annotations

import re

from gateway.store import raw
from tests.helpers import mail, send, show
from tests.web.conftest import Web

IVAN, PETR = "ivan@example.ru", "petr@example.org"
ANNA = "anna@example.com"


def _ticket(web: Web, who: str, subject: str, text: str) -> int:
    return web.new_ticket(web.client(who), subject, text)


def test_the_queue_is_oldest_waiting_first_and_nudges_do_not_reorder(web: Web) -> None:
    """The queue shows the longest-waiting first, nudges counted not reordering, and filters."""
    op = web.operator()
    first = _ticket(web, IVAN, "Сайт лежит", "example.ru отдаёт 502 с самого утра")
    web.clock.advance(minutes=10)
    second = _ticket(web, PETR, "Почта", "Письма на info@example.org не доходят")
    web.clock.advance(minutes=10)
    ivan = web.client(IVAN)
    web.post(ivan, f"/tickets/{first}/reply", {"text": "Когда вы ответите?"})
    page = op.get("/op").text
    assert page.index(f"#{first}") < page.index(f"#{second}")
    assert "напоминаний: 1" in page
    web.post(op, f"/op/tickets/{second}/take", {}, "/op/login")
    mine = op.get("/op", params={"assignee": "1"}).text
    assert f"#{second}" in mine and f'"/op/tickets/{first}"' not in mine
    nobody = op.get("/op", params={"assignee": "none"}).text
    assert f'"/op/tickets/{first}"' in nobody and f'"/op/tickets/{second}"' not in nobody
    mine = op.get("/op", params={"view": "mine"}).text
    assert f'"/op/tickets/{second}"' in mine and f'"/op/tickets/{first}"' not in mine


def test_ticket_buttons_act_as_the_cli_verbs(web: Web) -> None:
    """The ticket page's buttons take, reply, note, assign, close and admin-close like the CLI."""
    op = web.operator()
    number = _ticket(web, IVAN, "Сайт лежит", "example.ru отдаёт 502 с самого утра")
    page = op.get(f"/op/tickets/{number}").text
    assert "— клиент" in page or "гость" in page, "the decision trace is shown, in Russian"
    english = op.get(f"/op/tickets/{number}?lang=en").text
    assert "known as customer" in english or "guest customer" in english

    def press(verb: str, **data: str) -> None:
        r = web.post(op, f"/op/tickets/{number}/{verb}", data, "/op/login")
        assert r.status_code == 303, r.text

    press("take")
    assert show(web.gw, number)["status"] == "in_progress"
    press("reply", text="Перезапустили nginx, проверьте")
    detail = show(web.gw, number)
    assert detail["status"] == "awaiting_customer"
    assert detail["events"][-1]["actor"] == "operator:Анна"
    press("note", text="Клиент на старом тарифе")
    customer_page = web.client(IVAN).get(f"/tickets/{number}").text
    assert "Перезапустили nginx" in customer_page and "старом тарифе" not in customer_page
    press("status", status="in_progress")
    assert show(web.gw, number)["status"] == "in_progress"
    web.gw.gateway.wiring.desk.add_operator("Борис", "boris@example.com", "pw")
    press("assign", assignee="boris@example.com")
    assert "Борис" in op.get(f"/op/tickets/{number}").text
    press("close", confirm="yes")
    assert show(web.gw, number)["status"] == "closed"
    press("take")  # a closed ticket cannot be taken: the refusal is shown, nothing changes
    assert 'class="flash error"' in op.get(f"/op/tickets/{number}").text
    assert show(web.gw, number)["status"] == "closed"
    other = _ticket(web, IVAN, "Почта", "Письма на info@example.ru не доходят совсем")
    r = web.post(
        op, f"/op/tickets/{other}/admin-close", {"reason": "спам", "confirm": "yes"}, "/op/login"
    )
    assert r.status_code == 303
    assert show(web.gw, other)["locked"] is True
    page = web.client(IVAN).get(f"/tickets/{other}").text
    assert "закрыта администратором" in page and f"/tickets/new?follow_up={other}" in page


def test_a_refusal_is_shown_as_the_clis_sentence(web: Web) -> None:
    """A refused action is shown on the page in the CLI's own sentence."""
    op = web.operator()
    number = _ticket(web, IVAN, "Сайт лежит", "example.ru отдаёт 502 с самого утра")
    r = web.post(
        op, f"/op/tickets/{number}/merge", {"into": str(number), "confirm": "yes"}, "/op/login"
    )
    assert r.status_code == 303
    page = op.get(f"/op/tickets/{number}").text
    assert "нельзя объединить с самой собой" in page, "the refusal, in the page's language"
    op.get("/op", params={"lang": "en"})  # the English page: the CLI's own sentence
    web.post(
        op, f"/op/tickets/{number}/merge", {"into": str(number), "confirm": "yes"}, "/op/login"
    )
    assert "cannot be merged into itself" in op.get(f"/op/tickets/{number}").text


def test_merge_moves_the_messages(web: Web) -> None:
    """Merging moves the messages into the other ticket; the customer sees where they went."""
    op = web.operator()
    a = _ticket(web, IVAN, "Сайт лежит", "example.ru отдаёт 502 с самого утра")
    b = _ticket(web, IVAN, "Почта", "Письма на info@example.ru не доходят совсем")
    r = web.post(op, f"/op/tickets/{b}/merge", {"into": f"#{a}", "confirm": "yes"}, "/op/login")
    assert r.headers["location"] == f"/op/tickets/{a}"
    assert show(web.gw, b)["duplicate_of"] == a and len(show(web.gw, a)["messages"]) == 2
    page = web.client(IVAN).get(f"/tickets/{b}").text
    assert f"объединена с заявкой №{a}" in page and f'action="/tickets/{b}/reply"' not in page


def test_held_strangers_mail_is_accepted_from_the_page(web: Web) -> None:
    """A stranger's held mail is listed for operators, not shown to the customer, and accepted."""
    op = web.operator()
    number = _ticket(web, IVAN, "Сайт лежит", "example.ru отдаёт 502 с самого утра")
    stranger = mail(f"Re: [#{number}] Сайт лежит", "Это я, коллега Ивана: теперь 503", sender=PETR)
    assert send(web.gw, stranger, sender=PETR)[0] == 250
    page = op.get("/op/held").text
    assert PETR in page and "коллега Ивана" in page
    held_id = show(web.gw, number)["messages"][-1]["id"]
    assert "коллега Ивана" not in web.client(IVAN).get(f"/tickets/{number}").text
    r = web.post(op, f"/op/held/{held_id}/accept", {}, "/op/login")
    assert r.status_code == 303
    assert "accepted" in show(web.gw, number)["messages"][-1]["flags"]
    assert PETR not in op.get("/op/held").text


def test_quarantine_lists_and_retries(web: Web) -> None:
    """The quarantine page lists unparsed mail with the reason and retries it on demand."""
    op = web.operator()
    with web.gw.gateway.sessions.begin() as session:
        raw.store_raw(
            session,
            idem_key="sha256:x",
            received_at=web.clock(),
            source="smtp",
            mail_from="odd@example.net",
            rcpt_tos=["support@example.com"],
            data=b"Subject: hi\r\nFrom: odd@example.net\r\n\r\nbody",
            state="quarantined",
            error="cannot parse: test",
        )
    page = op.get("/op/quarantine").text
    assert "odd@example.net" in page and "cannot parse: test" in page
    r = web.post(op, "/op/quarantine/1/retry", {}, "/op/login")
    assert r.status_code == 303
    assert "обработано и сохранено" in op.get("/op/quarantine").text


def test_a_failed_quarantine_retry_is_not_shown_as_success(web: Web) -> None:
    """Bytes that still cannot be parsed stay in quarantine, and the page says so in red."""
    op = web.operator()
    assert send(web.gw, b"\x00\x01 not a mail", sender="odd@example.net")[0] == 250
    rows = op.get("/op/quarantine").text
    raw_id = re.search(r'action="/op/quarantine/(\d+)/retry"', rows).group(1)
    r = web.post(op, f"/op/quarantine/{raw_id}/retry", {}, "/op/login")
    assert r.status_code == 303
    page = op.get("/op/quarantine").text
    assert 'class="flash error"' in page and "остаётся в карантине" in page
    assert 'class="flash ok"' not in page


def test_history_is_in_the_pages_language(web: Web) -> None:
    """The history's statuses, actors and reasons are Russian on the Russian page."""
    op = web.operator()
    number = _ticket(web, IVAN, "Сайт лежит", "example.ru отдаёт 502 с самого утра")
    web.post(op, f"/op/tickets/{number}/take", {}, "/op/login")
    history = op.get(f"/op/tickets/{number}").text.split("<h2>История</h2>", 1)[1]
    assert "Ожидает ответа оператора → В работе" in history
    assert "оператор Анна" in history and "взята в работу оператором" in history
    assert "taken by operator" not in history
    page = op.get(f"/op/tickets/{number}").text
    assert "письмо от человека" in page and "human mail" not in page
