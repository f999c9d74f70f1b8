"""An operator's files (issue 15): attached on the ticket page or to a mailed reply, stored
with the operator's message, shown (an image previewed) on the page, and carried to the
customer as attachments of the ``operator_reply`` mail the smarthost receives."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gateway.clock import FrozenClock
from gateway.config import Settings
from gateway.testing import RecordingSMTP
from tests.test_operators_mail import ANNA, CUSTOMER, PASSWORD, Desk, op_mail, open_desk
from tests.web.conftest import CSRF, Web, web_settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 64
LOG = b"2026-11-25 10:00:01 upstream timed out\n"


@pytest.fixture
def site(settings: Settings, clock: FrozenClock, smarthost: RecordingSMTP) -> Iterator[Desk]:
    """A desk (submission, two operators, a recording smarthost) that also serves the page."""
    with open_desk(web_settings(settings), clock, smarthost) as desk:
        yield desk


def _signed_in(web: Web) -> httpx.Client:
    client = web.client()
    token = CSRF.search(client.get("/op/login").text).group(1)  # type: ignore[union-attr]
    r = client.post("/op/login", data={"csrf": token, "login": ANNA, "password": PASSWORD})
    assert r.status_code == 303, r.text
    return client


def _files_of_reply(site: Desk) -> list[tuple[str | None, bytes]]:
    replies = [s for s in site.sent() if s.kind == "operator_reply" and s.to == CUSTOMER]
    assert len(replies) == 1, replies
    message = replies[0].message
    assert message is not None, "the reply was not sent"
    return [(p.get_filename(), p.get_payload(decode=True)) for p in message.iter_attachments()]


def test_an_operators_upload_on_the_page_reaches_the_customer_attached(
    site: Desk, clock: FrozenClock
) -> None:
    """A file the operator attaches to a reply on the ticket page is stored with the reply,
    previewed on the page, and arrives at the customer attached to the operator_reply mail."""
    number = site.customer()
    site.sent()
    web = Web(site.gw, clock)
    try:
        op = _signed_in(web)
        page = f"/op/tickets/{number}"
        token = CSRF.search(op.get(page).text).group(1)  # type: ignore[union-attr]
        r = op.post(
            f"{page}/reply",
            data={"csrf": token, "text": "Снимок и лог приложены", "then": "awaiting_customer"},
            files=[
                ("files", ("схема.png", PNG, "image/png")),
                ("files", ("nginx.log", LOG, "text/plain")),
            ],
        )
        assert r.status_code == 303, r.text
        assert _files_of_reply(site) == [("схема.png", PNG), ("nginx.log", LOG)]
        shown = site.show(number)["messages"][-1]
        assert [a["filename"] for a in shown["attachments"]] == ["схема.png", "nginx.log"]
        image = shown["attachments"][0]["id"]
        html = op.get(page).text
        assert f'<img class="preview" src="{page}/files/{image}?preview=1"' in html
        preview = op.get(f"{page}/files/{image}?preview=1")
        assert preview.headers["content-disposition"].startswith("inline;")
        assert preview.content == PNG
    finally:
        web.close()


def test_an_operators_mailed_attachment_reaches_the_customer(site: Desk) -> None:
    """An operator's reply by mail with a file attached: the file is kept with the reply and
    goes on to the customer attached, as it would from the operator's own mail client."""
    number = site.customer()
    site.sent()
    answer = op_mail("Отчёт во вложении.", number=number, to=site.o_address(number))
    answer.add_attachment(PNG, maintype="image", subtype="png", filename="отчёт.png")
    site.operator(answer)
    assert _files_of_reply(site) == [("отчёт.png", PNG)]
    shown = site.show(number)["messages"][-1]
    assert [a["filename"] for a in shown["attachments"]] == ["отчёт.png"]


def test_an_operators_files_over_the_mail_limit_are_refused(
    settings: Settings, clock: FrozenClock, smarthost: RecordingSMTP
) -> None:
    """Files larger than a mail may be: the page says so, and nothing reaches the customer."""
    small = web_settings(settings, max_message_size=64 * 1024)
    with open_desk(small, clock, smarthost) as desk:
        number = desk.customer()
        desk.sent()
        web = Web(desk.gw, clock)
        try:
            op = _signed_in(web)
            page = f"/op/tickets/{number}"
            token = CSRF.search(op.get(page).text).group(1)  # type: ignore[union-attr]
            r = op.post(
                f"{page}/reply",
                data={"csrf": token, "text": "Большой файл", "then": "awaiting_customer"},
                files=[("files", ("big.bin", b"x" * 100 * 1024, "application/octet-stream"))],
            )
            assert r.status_code == 303
            assert "больше допустимого размера" in op.get(page).text
            assert [s for s in desk.sent() if s.kind == "operator_reply"] == []
            assert desk.show(number)["messages"][-1]["author"] == "customer"
        finally:
            web.close()
