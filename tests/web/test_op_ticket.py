"""The operator's ticket page (issue 15): reply and status in one submit, confirmations,
only what is possible on a closed or locked ticket, the customer panel, the keyboard."""

from __future__ import annotations

import re
from typing import Any

from tests.helpers import show
from tests.web.conftest import PASSWORD, Web

IVAN = "ivan@example.ru"


def _press(web: Web, op: Any, number: int, verb: str, **data: str) -> None:
    assert web.post(op, f"/op/tickets/{number}/{verb}", data, "/op/login").status_code == 303


def test_reply_and_close_in_one_submit(web: Web) -> None:
    """One submit sends the reply and sets the chosen status (here: closes the ticket)."""
    op = web.operator()
    number = web.new_ticket(web.client(IVAN), "Сайт лежит", "example.ru отдаёт 502")
    _press(web, op, number, "reply", text="Починили, закрываю", then="close")
    detail = show(web.gw, number)
    assert detail["status"] == "closed"
    assert detail["messages"][-1]["text"].startswith("Починили")
    other = web.new_ticket(web.client("petr@example.org"), "Почта", "Письма не доходят")
    _press(web, op, other, "reply", text="Смотрим", then="in_progress")
    assert show(web.gw, other)["status"] == "in_progress"


def test_close_merge_and_admin_close_need_a_confirmation(web: Web) -> None:
    """Without the confirming tick nothing happens and the page says why."""
    op = web.operator()
    ivan = web.client(IVAN)
    a = web.new_ticket(ivan, "Сайт лежит", "example.ru отдаёт 502")
    b = web.new_ticket(ivan, "Почта", "Письма на info@example.ru не доходят совсем")
    _press(web, op, a, "close")
    _press(web, op, a, "admin-close", reason="спам")
    _press(web, op, b, "merge", into=str(a))
    assert show(web.gw, a)["status"] == "awaiting_operator" and not show(web.gw, a)["locked"]
    assert show(web.gw, b)["duplicate_of"] is None
    assert "Подтвердите действие" in op.get(f"/op/tickets/{a}").text


def test_a_locked_ticket_offers_only_notes(web: Web) -> None:
    """An administratively closed ticket shows no reply, take, status, close or merge —
    only the note box — and says so."""
    op = web.operator()
    number = web.new_ticket(web.client(IVAN), "Сайт лежит", "example.ru отдаёт 502")
    _press(web, op, number, "admin-close", reason="спам", confirm="yes")
    page = op.get(f"/op/tickets/{number}").text
    for verb in ("reply", "take", "status", "close", "merge", "admin-close", "assign"):
        assert f'action="/op/tickets/{number}/{verb}"' not in page, verb
    assert f'action="/op/tickets/{number}/note"' in page
    assert "только добавлять внутренние заметки" in page


def test_the_customer_panel_names_the_customer_and_their_other_tickets(web: Web) -> None:
    """Name, verified or guest, and the customer's other tickets with their status."""
    op = web.operator()
    web.gw.gateway.wiring.desk.add_customer(IVAN, "Иван Петров")
    ivan = web.client(IVAN)
    a = web.new_ticket(ivan, "Сайт лежит", "example.ru отдаёт 502")
    b = web.new_ticket(ivan, "Почта", "Письма на info@example.ru не доходят совсем")
    panel = op.get(f"/op/tickets/{a}").text.split('class="card customer-panel"', 1)[1]
    panel = panel.split("</section>", 1)[0]
    assert "Иван Петров" in panel and IVAN in panel
    assert "подтверждённый клиент" in panel or "гость" in panel
    assert f"#{b} Почта" in panel and "Ожидает ответа оператора" in panel


def test_keyboard_only_from_the_queue_to_a_sent_reply(web: Web, browser: Any) -> None:
    """Skip link first; j opens the way down the queue, Enter opens the ticket, r jumps to
    the reply box, and Tab/Enter sends it: no mouse."""
    number = web.new_ticket(web.client(IVAN), "Сайт лежит", "example.ru отдаёт 502")
    web.gw.gateway.wiring.desk.add_operator("Анна", "anna@example.com", PASSWORD)
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="ru-RU")
    try:
        page = ctx.new_page()
        page.goto(f"{web.base}/op/login")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        page.get_by_label("Адрес или имя").fill("anna@example.com")
        page.get_by_label("Пароль").fill(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/op$"))
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(rf"/op/tickets/{number}$"))
        page.keyboard.press("r")
        assert page.evaluate("document.activeElement.id") == "reply"
        page.keyboard.type("Перезапустили nginx")
        page.keyboard.press("Tab")  # the files to attach (issue 15), left empty
        page.keyboard.press("Tab")  # the status after sending
        page.keyboard.press("Tab")  # the send button
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Готово.")
        assert show(web.gw, number)["messages"][-1]["text"] == "Перезапустили nginx"
    finally:
        ctx.close()


def test_the_script_is_served(web: Web) -> None:
    """keys.js (shortcuts, local times) is a static file, allowed by the page's CSP."""
    r = web.client().get("/static/keys.js")
    assert r.status_code == 200 and "keydown" in r.text
