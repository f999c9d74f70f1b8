"""Files on the support page (issue 15): uploaded by customers on a new ticket and a reply,
stored through intake as the form-mail's attachments, mailed to operators, previewed when
they are images, and handed back with a safe Content-Disposition."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.clock import FrozenClock
from gateway.config import Settings
from gateway.testing import running_gateway
from tests.helpers import show
from tests.web.conftest import CSRF, Web, web_settings

IVAN = "ivan@example.ru"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _upload(web: Web, path: str, fields: dict[str, str], files: list, page: str) -> int:
    client = web.client(IVAN)
    token = CSRF.search(client.get(page).text).group(1)
    r = client.post(path, data={"csrf": token, **fields}, files=files)
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def test_an_upload_reaches_operators_as_a_mail_attachment(web: Web) -> None:
    """A file attached on "New ticket" is stored with the ticket and arrives, attached, in
    the mail every operator gets about the new ticket."""
    web.gw.gateway.wiring.desk.add_operator("Анна", "anna@example.com", "pw")
    number = _upload(
        web,
        "/tickets/new",
        {"subject": "Ошибка 502", "text": "Снимок экрана приложен", "notify": "on"},
        [("files", ("экран.png", PNG, "image/png"))],
        "/tickets/new",
    )
    files = show(web.gw, number)["messages"][0]["attachments"]
    assert [(f["filename"], f["size"]) for f in files] == [("экран.png", len(PNG))]
    for_operator = []
    for m in web.mails(2):
        if "anna@example.com" in str(m["To"]):
            for_operator.append(m)
    assert for_operator, "the operator was mailed"
    parts = [p for p in for_operator[0].iter_attachments()]
    assert [(p.get_filename(), p.get_content()) for p in parts] == [("экран.png", PNG)]


def test_a_reply_with_a_file_and_its_preview(web: Web) -> None:
    """A reply may carry files; an image is previewed inline (its real type), any other file
    downloads as octet-stream; names are encoded, never raw in the header."""
    number = web.new_ticket(web.client(IVAN), "Сайт лежит", "example.ru отдаёт 502")
    _upload(
        web,
        f"/tickets/{number}/reply",
        {"text": "Вот лог и снимок"},
        [
            ("files", ("снимок.png", PNG, "image/png")),
            ("files", ('evil";\r\nX-Bad: 1.html', b"<script>alert(1)</script>", "text/html")),
        ],
        f"/tickets/{number}",
    )
    files = show(web.gw, number)["messages"][-1]["attachments"]
    assert len(files) == 2
    ivan = web.client(IVAN)
    page = ivan.get(f"/tickets/{number}").text
    image, html = files[0]["id"], files[1]["id"]
    assert f'<img class="preview" src="/tickets/{number}/files/{image}?preview=1"' in page
    shown = ivan.get(f"/tickets/{number}/files/{image}?preview=1")
    assert shown.headers["content-type"] == "image/png"
    assert shown.headers["content-disposition"].startswith("inline;")
    forced = ivan.get(f"/tickets/{number}/files/{html}?preview=1")
    assert forced.headers["content-type"] == "application/octet-stream"
    disposition = forced.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "\r" not in disposition
    assert "X-Bad" not in forced.headers and '";' not in disposition.split("filename=")[1][1:-60]


@pytest.fixture
def small_web(settings: Settings, clock: FrozenClock):  # type: ignore[no-untyped-def]
    """A gateway whose mail size limit is 64 KB."""
    with running_gateway(replace(web_settings(settings), max_message_size=64 * 1024), clock) as gw:
        w = Web(gw, clock)
        try:
            yield w
        finally:
            w.close()


def test_files_over_the_mail_limit_are_refused_and_nothing_is_sent(small_web: Web) -> None:
    """Files larger than a mail may be get a page saying so, and no ticket is made."""
    client = small_web.client(IVAN)
    token = CSRF.search(client.get("/tickets/new").text).group(1)
    r = client.post(
        "/tickets/new",
        data={"csrf": token, "subject": "Большой файл", "text": "см. вложение", "notify": "on"},
        files=[("files", ("big.bin", b"x" * 100 * 1024, "application/octet-stream"))],
    )
    assert r.status_code == 413 and "больше допустимого размера письма" in r.text
    assert small_web.client(IVAN).get("/tickets").text.count("Большой файл") == 0
