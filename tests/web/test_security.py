"""The support page keeps customers apart and refuses forged requests (issue 7, guarantee 6).

Every test talks to the real listener over a socket and tries to leak: another
customer's ticket by number, a forged control-panel header, a used or expired
sign-in link, a form without its CSRF token, markup in what customers write.
"""

from __future__ import annotations

import re
from datetime import timedelta

from gateway.store import outbox, people
from gateway.testing import running_gateway
from tests.helpers import mail, send, show
from tests.web.conftest import Web, web_settings

IVAN, PETR = "ivan@example.ru", "petr@example.org"

CUSTOMER_POSTS = [
    "/signin",
    "/signout",
    "/tickets/new",
    "/tickets/1/reply",
    "/tickets/1/close",
    "/tickets/1/reopen",
    "/tickets/1/notify",
]
OPERATOR_POSTS = [
    "/op/login",
    "/op/signout",
    "/op/held/1/accept",
    "/op/held/1/reject",
    "/op/quarantine/1/retry",
    *(
        f"/op/tickets/1/{verb}"
        for verb in ("reply", "note", "take", "assign", "status", "close", "admin-close", "merge")
    ),
]


def test_another_customers_ticket_is_not_found_by_number(web: Web) -> None:
    """Ticket #1 is Ivan's: Petr gets the same 404 as for a ticket that does not exist."""
    ivan, petr = web.client(IVAN), web.client(PETR)
    number = web.new_ticket(ivan, "Сайт не работает", "example.ru отдаёт 502 с утра")
    assert ivan.get(f"/tickets/{number}").status_code == 200
    seen = petr.get(f"/tickets/{number}")
    missing = petr.get("/tickets/999")
    assert seen.status_code == missing.status_code == 404
    assert "example.ru" not in seen.text and "Сайт не работает" not in seen.text
    assert "Сайт не работает" not in petr.get("/tickets").text
    for path in ("reply", "close", "reopen", "notify"):
        r = web.post(petr, f"/tickets/{number}/{path}", {"text": "это мой тикет", "notify": "on"})
        assert r.status_code == 404, path
    detail = show(web.gw, number)
    assert [m["author_address"] for m in detail["messages"]] == [IVAN]
    assert detail["status"] == "awaiting_operator" and detail["notify_address"] == IVAN


def test_another_customers_attachment_is_not_found(web: Web) -> None:
    """A file of Ivan's mail downloads for Ivan only, and never as a page that could run."""
    message = mail("Логи", "Прикладываю журнал ошибок, 502 на example.ru", sender=IVAN)
    message.add_attachment(
        b"<script>alert(1)</script>", maintype="text", subtype="html", filename="log.html"
    )
    assert send(web.gw, message, sender=IVAN)[0] == 250
    file_id = show(web.gw, 1)["messages"][0]["attachments"][0]["id"]
    got = web.client(IVAN).get(f"/tickets/1/files/{file_id}")
    assert got.status_code == 200 and got.content == b"<script>alert(1)</script>"
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert web.client(PETR).get(f"/tickets/1/files/{file_id}").status_code == 404
    petr = web.client(PETR)
    web.new_ticket(petr, "Мой вопрос", "Почта на example.org не приходит совсем")
    assert petr.get(f"/tickets/2/files/{file_id}").status_code == 404


def test_a_follow_up_cannot_be_linked_to_someone_elses_ticket(web: Web) -> None:
    """follow_up=N of another customer's ticket is ignored: a plain new ticket, not linked."""
    web.new_ticket(web.client(IVAN), "Сайт не работает", "example.ru отдаёт 502 с утра")
    petr = web.client(PETR)
    assert "Сайт не работает" not in petr.get("/tickets/new?follow_up=1").text
    number = web.new_ticket(petr, "Мой вопрос", "Почта на example.org не приходит", follow_up="1")
    detail = show(web.gw, number)
    assert number != 1 and detail["follow_up_of"] is None and detail["customer"] == PETR


def test_a_forged_header_from_a_non_proxy_address_is_ignored(settings, clock) -> None:
    """Only the configured proxies may name the customer; anyone else is asked to sign in."""
    with running_gateway(web_settings(settings, http_trusted_proxies="10.9.9.9"), clock) as gw:
        web = Web(gw, clock)
        try:
            forged = web.client(IVAN)
            r = forged.get("/tickets")
            assert r.status_code == 303 and r.headers["location"] == "/signin"
            assert forged.get("/tickets/new").status_code == 303
        finally:
            web.close()


def test_the_header_from_the_proxy_signs_the_customer_in(web: Web) -> None:
    """From the proxy the header is the customer: an address (made a verified customer)."""
    r = web.client(IVAN).get("/tickets")
    assert r.status_code == 200 and IVAN in r.text
    with web.gw.gateway.sessions() as session:
        person = people.find_customer(session, IVAN)
    assert person is not None and person.verified


def test_every_form_refuses_a_post_without_or_with_a_wrong_token(web: Web) -> None:
    """403 and a page a person can read, whether the token is missing or someone else's;
    every POST route of the page, signed in so that the token is the only thing missing."""
    web.new_ticket(web.client(IVAN), "Сайт не работает", "example.ru отдаёт 502 с утра")
    customer, operator = web.client(IVAN), web.operator()
    web.token(customer)
    web.token(operator, "/op/login")
    other = web.token(web.client(PETR))
    for path in CUSTOMER_POSTS + OPERATOR_POSTS:
        client = operator if path.startswith("/op") else customer
        for data in ({}, {"csrf": "x" * 43}, {"csrf": other}):
            r = client.post(path, data={**data, "text": "hi", "login": "a", "password": "b"})
            assert r.status_code == 403, (path, data)
            assert "Traceback" not in r.text and "Форма устарела" in r.text
    assert [m["author_address"] for m in show(web.gw, 1)["messages"]] == [IVAN]
    assert customer.get("/tickets").status_code == 200, "still signed in: nothing was done"
    assert operator.get("/op").status_code == 200


def test_markup_in_subject_and_text_is_shown_escaped(web: Web) -> None:
    """What a customer writes is text on every page, the operators' included."""
    ivan = web.client(IVAN)
    number = web.new_ticket(
        ivan, '<script>alert("s")</script>', "<img src=x onerror=alert(1)> and <b>bold</b>"
    )
    op = web.operator()
    for page in (
        ivan.get("/tickets").text,
        ivan.get(f"/tickets/{number}").text,
        op.get("/op").text,
        op.get(f"/op/tickets/{number}").text,
    ):
        assert "<script>alert" not in page and "<img src=x" not in page and "<b>bold" not in page
        assert "&lt;script&gt;" in page


def test_sign_in_link_works_once_and_expires(web: Web) -> None:
    """A mailed link signs in once; again, or after its lifetime, it explains and refuses."""
    web.gw.gateway.wiring.desk.add_customer(IVAN, "Иван")
    anon = web.client()
    r = web.post(anon, "/signin", {"email": IVAN.upper()}, "/signin")
    assert r.status_code == 200 and "ivan@example.ru" in r.text
    link = _link(web.mails(1)[0])
    path = link.removeprefix(web.base)
    assert path.startswith("/signin/")
    confirm = anon.get(path)
    assert confirm.status_code == 200 and IVAN in confirm.text
    assert web.post(anon, path, {}, path).status_code == 303
    assert anon.get("/tickets").status_code == 200
    again = web.client()
    assert again.get(path).status_code == 400
    token = web.token(again, "/signin")
    used = again.post(path, data={"csrf": token})
    assert used.status_code == 400 and "уже была использована" in used.text
    assert again.get("/tickets").status_code == 303

    r = web.post(web.client(), "/signin", {"email": IVAN}, "/signin")
    late = _link(web.mails(2)[-1]).removeprefix(web.base)
    web.clock.advance(timedelta(minutes=31))
    expired = web.client()
    page = expired.get(late)
    assert page.status_code == 400 and "истёк" in page.text
    assert expired.post(late, data={"csrf": web.token(expired, "/signin")}).status_code == 400


def test_sign_in_for_an_unknown_address_sends_nothing_and_says_the_same(web: Web) -> None:
    """The page cannot be used to find out who is a customer."""
    r = web.post(web.client(), "/signin", {"email": "nobody@example.net"}, "/signin")
    assert r.status_code == 200 and "nobody@example.net" in r.text
    with web.gw.gateway.sessions() as session:
        assert list(outbox.rows(session, failed_only=False)) == []


def test_a_forged_or_damaged_link_is_refused(web: Web) -> None:
    """A forged or damaged sign-in link is refused with 400."""
    assert web.client().get("/signin/abc.def").status_code == 400
    assert web.client().get("/signin/not-a-token").status_code == 400


def test_operator_pages_need_the_submission_credentials(web: Web) -> None:
    """Wrong password: 401 and the form again; no operator page without signing in."""
    web.gw.gateway.wiring.desk.add_operator("Анна", "anna@example.com", "secret-pass")
    c = web.client()
    assert c.get("/op").status_code == 303
    r = web.post(c, "/op/login", {"login": "anna@example.com", "password": "nope"}, "/op/login")
    assert r.status_code == 401 and "Неверный адрес или пароль" in r.text
    r = web.post(c, "/op/login", {"login": "ghost@example.com", "password": "x"}, "/op/login")
    assert r.status_code == 401
    assert c.get("/op").status_code == 303
    assert web.client(IVAN).get("/op").status_code == 303, "a customer is not an operator"


def test_password_guessing_is_throttled_per_login(web: Web) -> None:
    """Five wrong passwords, then a pause even for the right one; it ends with the window."""
    web.gw.gateway.wiring.desk.add_operator("Анна", "anna@example.com", "secret-pass")
    c = web.client()

    def login(password: str) -> int:
        r = web.post(
            c, "/op/login", {"login": "anna@example.com", "password": password}, "/op/login"
        )
        return r.status_code

    assert [login("nope") for _ in range(5)] == [401] * 5
    assert login("secret-pass") == 429
    assert (
        "Слишком много неудачных попыток"
        in web.post(
            c, "/op/login", {"login": "ANNA@example.com", "password": "x"}, "/op/login"
        ).text
    )
    web.clock.advance(minutes=16)
    assert login("secret-pass") == 303


def test_session_cookie_is_httponly_and_samesite(web: Web) -> None:
    """The session cookie is HttpOnly and SameSite=Lax, and not Secure on plain HTTP."""
    r = web.client().get("/signin")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie


def test_secure_cookie_when_configured(settings, clock) -> None:
    """With http_cookie_secure=yes the session cookie is marked Secure."""
    with running_gateway(web_settings(settings, http_cookie_secure="yes"), clock) as gw:
        web = Web(gw, clock)
        try:
            assert "; secure" in web.client().get("/signin").headers["set-cookie"].lower()
        finally:
            web.close()


def test_unknown_pages_are_human(web: Web) -> None:
    """An unknown page, or a ticket not yours, is a human "not found" page in your language."""
    r = web.client(IVAN).get("/no/such/page")
    assert r.status_code == 404 and "Страница не найдена" in r.text
    assert "Not found" in web.client(IVAN).get("/tickets/5?lang=en").text


def _link(message) -> str:  # type: ignore[no-untyped-def]
    text = message.get_body(("plain",)).get_content()
    found = re.search(r"https?://\S+/signin/\S+", text)
    assert found, text
    return found.group(0)


def test_password_guessing_is_throttled_across_instances(settings, clock) -> None:
    """Issue 14.9: five wrong passwords at one instance also stop the right one at another."""
    with (
        running_gateway(web_settings(settings), clock) as a,
        running_gateway(web_settings(settings), clock) as b,
    ):
        first, second = Web(a, clock), Web(b, clock)
        try:
            a.gateway.wiring.desk.add_operator("Анна", "anna@example.com", "secret-pass")

            def login(web: Web, password: str) -> int:
                data = {"login": "anna@example.com", "password": password}
                return web.post(web.client(), "/op/login", data, "/op/login").status_code

            assert [login(first, "nope") for _ in range(5)] == [401] * 5
            assert login(second, "secret-pass") == 429
        finally:
            first.close()
            second.close()


def test_a_copied_session_cookie_is_dead_after_sign_out(web: Web) -> None:
    """Issue 14.12: signing out ends the session itself; a copy of the cookie is worthless."""
    op = web.operator()
    assert op.get("/op").status_code == 200
    copied = web.client()
    copied.cookies.update(dict(op.cookies))
    assert copied.get("/op").status_code == 200
    assert copied.get("/op/search?q=502").status_code == 200
    assert web.post(op, "/op/signout", {}, "/op").status_code == 303
    assert copied.get("/op/search?q=502").status_code == 303  # the search asks too
    assert copied.get("/op").status_code == 303

    web.gw.gateway.wiring.desk.add_customer(IVAN, "Иван")
    ivan = web.client()
    web.post(ivan, "/signin", {"email": IVAN}, "/signin")
    path = _link(web.mails(1)[0]).removeprefix(web.base)
    assert web.post(ivan, path, {}, path).status_code == 303
    copied = web.client()
    copied.cookies.update(dict(ivan.cookies))
    assert copied.get("/tickets").status_code == 200
    assert web.post(ivan, "/signout", {}, "/tickets").status_code == 303
    assert copied.get("/tickets").status_code == 303
