"""Status changes are lines of the conversation, on both sides (issue 15)."""

from __future__ import annotations

from datetime import timedelta

from gateway.schedule.sweep import sweep
from tests.helpers import show
from tests.web.conftest import Web

IVAN = "ivan@example.ru"


def _conversation(html: str) -> str:
    return html.split('<ol class="conversation">', 1)[1].split('<section class="card">', 1)[0]


def test_closing_and_reopening_are_lines_not_a_close_message(web: Web) -> None:
    """The customer's Close shows "you closed it" (the operator: "the customer closed it"),
    never a "#close" message; reopening shows a line too."""
    op = web.operator()
    ivan = web.client(IVAN)
    number = web.new_ticket(ivan, "Сайт лежит", "example.ru отдаёт 502")
    web.post(ivan, f"/tickets/{number}/close", {})
    assert show(web.gw, number)["status"] == "closed"
    mine = _conversation(ivan.get(f"/tickets/{number}").text)
    assert "Вы закрыли заявку." in mine and "#close" not in mine
    theirs = _conversation(op.get(f"/op/tickets/{number}").text)
    assert "Клиент закрыл заявку." in theirs and "#close" not in theirs
    web.post(ivan, f"/tickets/{number}/reopen", {"text": "Снова 502"})
    assert "Заявка открыта снова." in _conversation(ivan.get(f"/tickets/{number}").text)


def test_an_operator_close_and_an_automatic_close_say_who_and_why(web: Web) -> None:
    """Closed by an operator names the operator; the 30-day rule says it closed by itself."""
    op = web.operator()
    ivan = web.client(IVAN)
    a = web.new_ticket(ivan, "Сайт лежит", "example.ru отдаёт 502")
    b = web.new_ticket(web.client("petr@example.org"), "Почта", "Письма не доходят")
    web.post(op, f"/op/tickets/{a}/close", {"confirm": "yes"}, "/op/login")
    assert "Заявку закрыл оператор Анна." in _conversation(ivan.get(f"/tickets/{a}").text)
    web.post(op, f"/op/tickets/{b}/reply", {"text": "Проверьте MX"}, "/op/login")
    wiring = web.gw.gateway.wiring  # the rules only (no event loop: a browser may hold one)
    sweep(wiring.sessions, wiring.sweep_rules(), web.clock() + timedelta(days=31), dry_run=False)
    assert show(web.gw, b)["status"] == "closed_no_reply"
    page = web.client("petr@example.org").get(f"/tickets/{b}").text
    assert "закрыта автоматически: 30 дней без ответа" in _conversation(page)
    english = web.client("petr@example.org").get(f"/tickets/{b}?lang=en").text
    assert "Closed automatically after 30 days without a reply." in english


def test_a_merge_is_recorded_on_both_tickets(web: Web) -> None:
    """The merged ticket says where it went; the one it went into says where it came from."""
    op = web.operator()
    ivan = web.client(IVAN)
    a = web.new_ticket(ivan, "Сайт лежит", "example.ru отдаёт 502")
    b = web.new_ticket(ivan, "Почта", "Письма на info@example.ru не доходят совсем")
    web.post(op, f"/op/tickets/{b}/merge", {"into": str(a), "confirm": "yes"}, "/op/login")
    assert f"Сюда перенесена заявка №{b}." in _conversation(op.get(f"/op/tickets/{a}").text)
    assert f"Сюда перенесена заявка №{b}." in _conversation(ivan.get(f"/tickets/{a}").text)
    assert f"Объединена с заявкой №{a}." in _conversation(op.get(f"/op/tickets/{b}").text)
