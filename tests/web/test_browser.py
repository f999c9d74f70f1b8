"""The support page in a real browser (headless Chromium driven by Playwright).

Each scenario is what a person does, click by click, and it photographs every
page it passes for the README (tests/.screenshots/; `make screenshots` copies them
to docs/screenshots/). One browser serves the whole
run; each test gets a fresh context (cookies) and a fresh gateway on SQLite.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.clock import FrozenClock
from gateway.testing import running_gateway
from tests.helpers import mail, plain_text, send, show
from tests.web.conftest import HEADER, PASSWORD, Web, screenshot, sqlite_site_settings

IVAN = "ivan@example.ru"
SUBJECT = "Ошибка 502 на сайте"
REQUEST = "Здравствуйте! С утра сайт example.ru отдаёт 502 Bad Gateway, перезапуск не помог."
VIEW = {"width": 1200, "height": 800}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Web]:
    """A gateway on SQLite with its page; the browser tests need no second backend."""
    clock = FrozenClock()
    with running_gateway(sqlite_site_settings(tmp_path), clock) as gw:
        web = Web(gw, clock)
        try:
            yield web
        finally:
            web.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport=VIEW, locale="ru-RU")
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


def _no_dialogs(page: Any) -> list[str]:
    """Collect any alert() — injected markup that ran would show up here."""
    seen: list[str] = []
    page.on("dialog", lambda d: (seen.append(d.message), d.dismiss()))
    return seen


def test_a_customer_from_the_control_panel(site: Web, browser: Any) -> None:
    """Signed in by the panel's header: new ticket with FAQ, the conversation, the duplicate
    question, close and reopen."""
    ctx = browser.new_context(viewport=VIEW, locale="ru-RU", extra_http_headers={HEADER: IVAN})
    try:
        page = ctx.new_page()
        dialogs = _no_dialogs(page)
        page.goto(f"{site.base}/tickets")
        assert page.locator("h1").inner_text() == "Мои заявки"

        page.get_by_role("link", name="Новая заявка").first.click()
        page.wait_for_load_state()
        page.get_by_label("Тема заявки").fill(SUBJECT)
        page.wait_for_selector("#faq:not([hidden]) li")
        assert "502" in page.locator("#faq").inner_text()
        page.get_by_label("Текст заявки").fill(REQUEST)
        screenshot(page, "customer-new-ticket")
        page.get_by_role("button", name="Создать").click()
        page.wait_for_url(re.compile(r"/tickets/1$"))
        assert "Заявка №1 создана" in page.inner_text("main")
        assert show(site.gw, 1)["status"] == "awaiting_operator"

        site.gw.gateway.wiring.desk.add_operator("Анна", "anna@example.com", PASSWORD)
        site.clock.advance(minutes=20)
        site.gw.gateway.wiring.desk.act(
            1,
            "anna@example.com",
            "reply",
            text="Здравствуйте! Перезапустили PHP-FPM, проверьте, пожалуйста.",
        )
        message = mail(f"Re: [#1] {SUBJECT}", "Теперь 503, прикладываю снимок экрана", sender=IVAN)
        message.add_attachment(b"\x89PNG...", maintype="image", subtype="png", filename="503.png")
        site.clock.advance(minutes=15)
        send(site.gw, message, sender=IVAN)
        page.reload()
        assert "Перезапустили PHP-FPM" in page.inner_text("main")
        assert page.get_by_role("link", name="503.png").count() == 1
        screenshot(page, "customer-ticket")

        page.goto(f"{site.base}/tickets/new")
        page.get_by_label("Тема заявки").fill(SUBJECT)
        page.get_by_label("Текст заявки").fill(REQUEST.replace("С утра", "Всё утро"))
        page.get_by_role("button", name="Создать").click()
        assert "У вас уже есть заявка №1" in page.inner_text("h1")
        screenshot(page, "customer-duplicate")
        page.get_by_role("button", name="Добавить в №1").click()
        page.wait_for_url(re.compile(r"/tickets/1$"))

        page.goto(f"{site.base}/tickets/new")
        page.get_by_label("Тема заявки").fill('<script>alert("x")</script> Почта')
        page.get_by_label("Текст заявки").fill("<img src=x onerror=alert(1)> письма не доходят")
        page.get_by_role("button", name="Создать").click()
        page.wait_for_url(re.compile(r"/tickets/2$"))
        assert '<script>alert("x")</script> Почта' in page.inner_text("h1")
        page.goto(f"{site.base}/tickets")
        screenshot(page, "customer-my-tickets")

        page.goto(f"{site.base}/tickets/1")
        page.get_by_role("button", name="Закрыть").click()
        page.wait_for_selector("text=Заявка закрыта.")
        assert page.get_by_role("button", name="Открыть заново").count() == 1
        screenshot(page, "customer-ticket-closed")
        page.get_by_label("Открыть заново").fill("Ошибка вернулась")
        page.get_by_role("button", name="Открыть заново").click()
        page.wait_for_selector("text=Заявка открыта снова.")
        assert show(site.gw, 1)["status"] == "awaiting_operator"

        page.goto(f"{site.base}/tickets/1?lang=en")
        assert "Awaiting operator reply" in page.inner_text("main")
        screenshot(page, "customer-ticket-en")
        assert dialogs == [], "customer text ran as script"
    finally:
        ctx.close()


def test_a_customer_signs_in_with_a_mailed_link(site: Web, context: Any) -> None:
    """In a browser a customer asks for a link, signs in with it, signs out; the link then fails."""
    site.gw.gateway.wiring.desk.add_customer(IVAN, "Иван")
    page = context.new_page()
    page.goto(f"{site.base}/")
    page.wait_for_url(re.compile(r"/signin$"))
    screenshot(page, "customer-signin")
    page.get_by_label("Ваш адрес e-mail").fill(IVAN)
    page.get_by_role("button", name="Прислать ссылку").click()
    assert page.locator("h1").inner_text() == "Проверьте почту"
    screenshot(page, "customer-signin-sent")
    text = plain_text(site.mails(1)[0])
    link = re.search(r"http://\S+/signin/\S+", text)
    assert link
    page.goto(link.group(0))
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(re.compile(r"/tickets$"))
    assert IVAN in page.inner_text("header")
    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url(re.compile(r"/signin$"))
    page.goto(link.group(0))
    assert "уже была использована" in page.inner_text("main") or "не работает" in page.inner_text(
        "main"
    )
    screenshot(page, "customer-link-used")


def test_an_operator_works_the_queue(site: Web, context: Any) -> None:
    """In a browser an operator signs in, takes, answers and notes a ticket, rejects held mail."""
    site.gw.gateway.wiring.desk.add_operator("Анна", "anna@example.com", PASSWORD)
    site.gw.gateway.wiring.desk.add_operator("Борис", "boris@example.com", PASSWORD)
    ivan, petr = site.client(IVAN), site.client("petr@example.org")
    site.new_ticket(ivan, SUBJECT, REQUEST)
    site.clock.advance(minutes=30)
    site.new_ticket(petr, "Не приходит почта", "Письма на info@example.org не доходят со вчера")
    site.clock.advance(minutes=5)
    site.post(ivan, "/tickets/1/reply", {"text": "Когда вы ответите?"})
    stranger = mail(
        f"Re: [#1] {SUBJECT}", "Я тоже вижу 502, это мой сайт?", sender="eve@example.net"
    )
    send(site.gw, stranger, sender="eve@example.net")
    send(site.gw, b"\x00\x01 not a mail", sender="odd@example.net")

    page = context.new_page()
    dialogs = _no_dialogs(page)
    page.goto(f"{site.base}/op")
    page.wait_for_url(re.compile(r"/op/login$"))
    screenshot(page, "operator-login")
    page.get_by_label("Адрес или имя").fill("anna@example.com")
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(re.compile(r"/op$"))
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 2 and "#1" in rows.nth(0).inner_text()
    screenshot(page, "operator-queue")

    page.get_by_role("link", name=SUBJECT).click()
    page.get_by_role("button", name="Взять в работу").click()
    page.wait_for_selector("text=Готово.")
    page.get_by_label("Ответ клиенту").fill("Перезапустили PHP-FPM, проверьте, пожалуйста.")
    page.get_by_role("button", name="Отправить ответ").click()
    page.wait_for_selector("text=Готово.")
    page.get_by_label("Внутренняя заметка (клиент не увидит)").fill("Клиент на старом тарифе")
    page.get_by_role("button", name="Добавить заметку").click()
    page.wait_for_selector("text=Готово.")
    page.locator("details.trace").first.click()
    screenshot(page, "operator-ticket")
    detail = show(site.gw, 1)
    assert detail["status"] == "awaiting_customer"
    assert [e["actor"] for e in detail["events"]][-2:] == ["operator:Анна", "operator:Анна"]

    page.goto(f"{site.base}/op/search?q=ошибки+сайт")
    assert "#1" in page.inner_text("main") and page.locator("mark").count() >= 1
    screenshot(page, "operator-search")

    page.get_by_role("link", name="Задержанные письма").click()
    assert "eve@example.net" in page.inner_text("main")
    screenshot(page, "operator-held")
    page.get_by_role("button", name="Отклонить").click()
    page.wait_for_selector("text=Задержанных писем нет.")

    page.get_by_role("link", name="Карантин").click()
    assert "odd@example.net" in page.inner_text("main")
    screenshot(page, "operator-quarantine")

    page.goto(f"{site.base}/op/tickets/999")
    assert page.locator("h1").inner_text() == "Страница не найдена"
    screenshot(page, "error-not-found")
    assert dialogs == []
