"""Every page of the support page on a phone and under axe-core (issue 15).

One gateway with a little of everything (tickets, a reply with a file, a held
stranger's mail, a quarantined mail), then every page a customer or an
operator can reach is opened in headless Chromium: at 390 px nothing may be
wider than the screen, and axe-core (the npm package pinned in
tests/web/axe/, installed by ``.ci/run``) may find nothing serious or critical.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.clock import FrozenClock
from gateway.testing import running_gateway
from tests.helpers import mail, send
from tests.web.conftest import HEADER, PASSWORD, Web, screenshot, sqlite_site_settings

IVAN = "ivan@example.ru"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}
AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
LONG = "https://example.ru/" + "очень-длинный-адрес-" * 6
CUSTOMER_PAGES = [
    "/tickets",
    "/tickets/new",
    "/tickets/1",
    "/tickets/2",
    "/tickets/999",
    "/tickets/search?q=502",
]
OPERATOR_PAGES = [
    "/op",
    "/op?view=all&sort=updated",
    "/op/tickets/1",
    "/op/tickets/2",
    "/op/held",
    "/op/quarantine",
    "/op/search?q=502",
]


def _png(width: int = 120, height: int = 60) -> bytes:
    """A real PNG (a blue and grey band), so the screenshot shows a preview."""
    rows = b"".join(
        b"\x00" + bytes((30, 105, 170) if y < height // 2 else (220, 225, 230)) * width
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Web]:
    """A gateway on SQLite holding one of each thing a page can show."""
    clock = FrozenClock()
    with running_gateway(sqlite_site_settings(tmp_path), clock) as gw:
        web = Web(gw, clock)
        desk = gw.gateway.wiring.desk
        desk.add_operator("Анна", "anna@example.com", PASSWORD)
        ivan = web.client(IVAN)
        web.new_ticket(ivan, "Ошибка 502 на сайте", f"С утра 502 на example.ru, см. {LONG}")
        clock.advance(minutes=5)
        web.new_ticket(ivan, "Почта не доходит " + "x" * 80, "Письма на info@example.ru теряются")
        desk.act(1, "anna@example.com", "reply", text="Перезапустили PHP-FPM, проверьте.")
        reply = mail("Re: [#1] Ошибка 502", "Снова 503:\n    at nginx upstream", sender=IVAN)
        reply.add_attachment(_png(), maintype="image", subtype="png", filename="503.png")
        send(gw, reply, sender=IVAN)
        send(
            gw,
            mail("Re: [#1] Ошибка 502", "Это я, коллега", sender="eve@example.net"),
            sender="eve@example.net",
        )
        send(gw, b"\x00\x01 not a mail", sender="odd@example.net")
        try:
            yield web
        finally:
            web.close()


def _contexts(browser: Any, site: Web, viewport: dict[str, int]) -> tuple[Any, Any]:
    """A customer's context (the panel's header) and a signed-in operator's."""
    customer = browser.new_context(
        viewport=viewport, locale="ru-RU", extra_http_headers={HEADER: IVAN}, bypass_csp=True
    )
    operator = browser.new_context(viewport=viewport, locale="ru-RU", bypass_csp=True)
    page = operator.new_page()
    page.goto(f"{site.base}/op/login")
    page.get_by_label("Адрес или имя").fill("anna@example.com")
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(re.compile(r"/op$"))
    page.close()
    return customer, operator


def _every_page(browser: Any, site: Web, viewport: dict[str, int]) -> Iterator[tuple[str, Any]]:
    customer, operator = _contexts(browser, site, viewport)
    anonymous = browser.new_context(viewport=viewport, locale="ru-RU", bypass_csp=True)
    try:
        for ctx, paths in (
            (anonymous, ["/signin", "/op/login"]),
            (customer, CUSTOMER_PAGES),
            (operator, OPERATOR_PAGES),
        ):
            page = ctx.new_page()
            for path in paths:
                page.goto(site.base + path)
                yield path, page
            page.close()
    finally:
        for ctx in (customer, operator, anonymous):
            ctx.close()


def test_no_page_scrolls_sideways_on_a_phone(site: Web, browser: Any) -> None:
    """At 390 px every page fits the screen: lists are cards, the header band wraps."""
    wide = []
    for path, page in _every_page(browser, site, PHONE):
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if width[0] > width[1]:
            wide.append((path, width))
        if path in ("/op", "/op/tickets/1", "/tickets/1"):
            screenshot(page, "phone" + path.replace("/", "-"))
    assert wide == [], f"pages wider than a 390 px phone: {wide}"


def test_axe_finds_nothing_serious_on_any_page(site: Web, browser: Any) -> None:
    """axe-core, injected into every page, reports no serious or critical violation."""
    if not AXE.exists():
        message = f"axe-core is not installed: (cd {AXE.parents[2]} && npm ci)"
        if os.environ.get("HELPDESK_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    source = AXE.read_text(encoding="utf-8")
    found = []
    for path, page in _every_page(browser, site, DESKTOP):
        page.add_script_tag(content=source)
        result = page.evaluate("async () => (await axe.run()).violations")
        for v in result:
            if v["impact"] in ("serious", "critical"):
                found.append((path, v["id"], [n["target"] for n in v["nodes"]][:3]))
    assert found == [], f"axe-core: {found}"
