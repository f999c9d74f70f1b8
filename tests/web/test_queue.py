"""The operators' queue at scale (issue 15): views with counts, keyset pages, sorts,
filters, the operators' wording of statuses, and the header's counts."""

from __future__ import annotations

import re

from gateway.store import raw
from tests.helpers import mail, send, show
from tests.web.conftest import Web

ROW = re.compile(r'<tr class="queue-row">\s*<td data-label="№"><a href="/op/tickets/(\d+)">')
COUNT = re.compile(r'href="[^"]*view=(\w+)[^"]*"[^>]*>[^<]*<span class="count">([^<]+)</span>')


def _numbers(html: str) -> list[int]:
    return [int(n) for n in ROW.findall(html)]


def _counts(html: str) -> dict[str, str]:
    return dict(COUNT.findall(html))


def _many(web: Web, count: int) -> list[int]:
    """``count`` tickets, one per customer (so none is a duplicate of another), a minute apart."""
    numbers = []
    for i in range(count):
        numbers.append(
            web.new_ticket(web.client(f"c{i}@example.ru"), f"Вопрос {i}", f"Текст номер {i}")
        )
        web.clock.advance(minutes=1)
    return numbers


def test_the_queue_pages_by_keyset_without_losing_or_repeating_a_ticket(web: Web) -> None:
    """55 open tickets: page one shows the 50 longest waiting, the next link the other 5,
    each ticket once; sorting by number turns the order round."""
    numbers = _many(web, 55)
    op = web.operator()
    first = op.get("/op").text
    assert _numbers(first) == numbers[:50]
    link = re.search(r'href="([^"]+)" rel="next"', first)
    assert link, "a next-page link"
    assert "after=" in link.group(1) and "offset" not in link.group(1)
    second = op.get(link.group(1).replace("&amp;", "&")).text
    assert _numbers(second) == numbers[50:]
    assert 'rel="next"' not in second
    newest = op.get("/op", params={"sort": "number"}).text
    assert _numbers(newest)[:3] == numbers[::-1][:3]
    assert len(first.encode()) < 150_000


def test_views_split_what_needs_us_from_what_waits_for_the_customer(web: Web) -> None:
    """The default view holds awaiting-operator and in-progress tickets; one waiting for the
    customer is in its own view, named in operators' words, and closed ones are found too."""
    op = web.operator()
    a, b, c = _many(web, 3)
    web.post(op, f"/op/tickets/{b}/reply", {"text": "Проверьте, пожалуйста"}, "/op/login")
    web.post(op, f"/op/tickets/{c}/close", {"confirm": "yes"}, "/op/login")
    assert show(web.gw, b)["status"] == "awaiting_customer"
    default = op.get("/op").text
    assert _numbers(default) == [a]
    waiting = op.get("/op", params={"view": "waiting"}).text
    assert _numbers(waiting) == [b]
    assert "Ждём клиента" in waiting and "Требуется ваш ответ" not in waiting
    assert "Ждём клиента" in op.get(f"/op/tickets/{b}").text
    assert "Требуется ваш ответ" not in op.get(f"/op/tickets/{b}").text
    customer_page = web.client("c1@example.ru").get(f"/tickets/{b}").text
    assert "Требуется ваш ответ" in customer_page, "customers keep their wording"
    assert _numbers(op.get("/op", params={"view": "closed"}).text) == [c]
    assert sorted(_numbers(op.get("/op", params={"view": "all"}).text)) == [a, b, c]
    counts = _counts(default)
    assert (counts["needs_us"], counts["waiting"], counts["closed"], counts["all"]) == (
        "1",
        "1",
        "1",
        "3",
    )
    web.post(op, f"/op/tickets/{a}/take", {}, "/op/login")
    assert _numbers(op.get("/op", params={"view": "mine"}).text) == [a]
    assert _numbers(op.get("/op", params={"view": "unassigned"}).text) == [b]


def test_filter_by_customer_address_or_number(web: Web) -> None:
    """A customer filter by address (any case) or by customer number shows only theirs."""
    op = web.operator()
    a, b = _many(web, 2)
    by_address = op.get("/op", params={"customer": "C1@example.ru"}).text
    assert _numbers(by_address) == [b]
    customer_id = show(web.gw, a)["customer_id"]
    assert _numbers(op.get("/op", params={"customer": str(customer_id)}).text) == [a]
    assert _numbers(op.get("/op", params={"customer": "nobody@example.ru"}).text) == []


def test_the_header_counts_held_and_quarantined_mail(web: Web) -> None:
    """The header's Held and Quarantine links carry how many wait there."""
    op = web.operator()
    (number,) = _many(web, 1)
    stranger = mail(f"Re: [#{number}] Вопрос 0", "Это коллега", sender="petr@example.org")
    assert send(web.gw, stranger, sender="petr@example.org")[0] == 250
    with web.gw.gateway.sessions.begin() as session:
        raw.store_raw(
            session,
            idem_key="sha256:y",
            received_at=web.clock(),
            source="smtp",
            mail_from="odd@example.net",
            rcpt_tos=["support@example.com"],
            data=b"x",
            state="quarantined",
            error="cannot parse: test",
        )
    page = op.get("/op").text
    assert re.search(r'href="/op/held">[^<]*<span class="count">1</span>', page)
    assert re.search(r'href="/op/quarantine">[^<]*<span class="count">1</span>', page)
