"""How the page writes things (issue 15): links clickable and safe, pasted logs as code,
moments as <time> in the reader's zone, and a language switch that loses nothing."""

from __future__ import annotations

import re
from typing import Any

from gateway.web.rich import rich
from tests.helpers import mail, send
from tests.web.conftest import PASSWORD, Web

IVAN = "ivan@example.ru"
LOG = (
    "Сайт падает, вот лог:\n"
    "2026-12-01 10:00:01 [error] 123#0: upstream timed out\n"
    "2026-12-01 10:00:02 [error] 123#0: connect() failed\n"
    "Подробнее: https://example.ru/status?x=1&y=<b>."
)


def test_links_are_clickable_and_logs_are_preformatted(web: Web) -> None:
    """A URL becomes a nofollow/noopener link, consecutive log lines a <pre>, and markup
    around them stays text — for the customer and the operator alike."""
    op = web.operator()
    number = web.new_ticket(web.client(IVAN), "Ошибка 504", LOG)
    for page in (
        web.client(IVAN).get(f"/tickets/{number}").text,
        op.get(f"/op/tickets/{number}").text,
    ):
        assert '<a href="https://example.ru/status?x=1&amp;y=" rel="noopener nofollow"' in page
        assert re.search(r'<pre class="code">2026-12-01 10:00:01 \[error\][^<]*\n2026', page)
        assert "&lt;b&gt;" in page and "<b>" not in page


def test_rich_text_never_links_other_schemes() -> None:
    """javascript: and data: are not links; quotes cannot break out of href."""
    out = str(rich('javascript:alert(1) data:text/html,x https://a.example/"onmouseover=1'))
    assert "javascript:alert(1)" in out and 'href="javascript' not in out
    assert 'href="https://a.example/"' in out and '"onmouseover' not in out


def test_moments_are_time_elements_in_utc_without_script(web: Web) -> None:
    """Every message time is <time datetime="…+00:00">… UTC</time>."""
    number = web.new_ticket(web.client(IVAN), "Сайт лежит", "example.ru отдаёт 502")
    page = web.client(IVAN).get(f"/tickets/{number}").text
    assert re.search(
        r'<time datetime="2026-01-01T12:00:00\+00:00">2026-01-01 12:00 UTC</time>', page
    )


def test_the_language_switch_keeps_the_query(web: Web) -> None:
    """RU/EN links keep the search, the filters and the page."""
    op = web.operator()
    page = op.get("/op", params={"view": "closed", "customer": IVAN}).text
    assert 'href="?view=closed&amp;customer=ivan%40example.ru&amp;lang=en"' in page
    found = op.get("/op/search", params={"q": "сайт 502"}).text
    assert 'href="?q=%D1%81%D0%B0%D0%B9%D1%82+502&amp;lang=en"' in found


def test_the_quarantine_table_has_no_empty_header(web: Web) -> None:
    """Every column of the quarantine has a header (screen readers announce it)."""
    op = web.operator()
    send(web.gw, b"\x00\x01 not a mail", sender="odd@example.net")
    assert "<th></th>" not in op.get("/op/quarantine").text


def test_browser_shows_local_times_and_keeps_typed_text_across_languages(
    web: Web, browser: Any
) -> None:
    """In Moscow the 12:00 UTC message reads 15:00; text typed in the reply box survives
    the switch to English."""
    web.gw.gateway.wiring.desk.add_operator("Анна", "anna@example.com", PASSWORD)
    number = web.new_ticket(web.client(IVAN), "Сайт лежит", "example.ru отдаёт 502")
    send(web.gw, mail(f"Re: [#{number}] Сайт лежит", "ещё", sender=IVAN), sender=IVAN)
    ctx = browser.new_context(
        locale="ru-RU", timezone_id="Europe/Moscow", extra_http_headers={"X-Panel-User": IVAN}
    )
    try:
        page = ctx.new_page()
        page.goto(f"{web.base}/tickets/{number}")
        assert "15:00" in page.locator("li.msg time").first.inner_text()
        page.get_by_label("Ответить").fill("Черновик ответа")
        page.get_by_role("link", name="EN", exact=True).click()
        page.wait_for_url(re.compile(r"lang=en"))
        assert page.locator("textarea[name=text]").input_value() == "Черновик ответа"
    finally:
        ctx.close()
