"""Real clients' mail over a real SMTP session ends as readable tickets.

The quirks of Russian mail (no charset, a wrong one, HTML only, RFC 2231
file names) must survive the whole path — SMTP, the writer, the database and
``ticket show`` — not just the parser.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gateway.testing import RunningGateway
from tests.helpers import send, show, tickets

FIXTURES = Path(__file__).parents[1] / "fixtures" / "mails"


@pytest.mark.parametrize(
    ("name", "subject", "words"),
    [
        pytest.param(
            "koi8r-no-charset.eml",
            "Не работает принтер в бухгалтерии",
            ("Принтер в бухгалтерии не печатает", "замятие бумаги"),
            id="koi8r-no-charset",
        ),
        pytest.param(
            "cp1251-declared-koi8r.eml",
            "Счёт на оплату за ноябрь",
            ("Пришлите, пожалуйста, счёт на оплату",),
            id="cp1251-labelled-koi8r",
        ),
        pytest.param(
            "html-only-outlook.eml",
            "Не могу войти в личный кабинет",
            ("не могу войти в личный кабинет", "https://portal.example.com/login"),
            id="html-only",
        ),
    ],
)
def test_russian_mail_is_stored_readable(
    gateway: RunningGateway, name: str, subject: str, words: tuple[str, ...]
) -> None:
    """Whatever charset the client used or failed to declare, the ticket reads as Russian."""
    raw = (FIXTURES / name).read_bytes()
    code, _ = send(gateway, raw)
    assert code == 250
    (ticket,) = tickets(gateway)
    assert ticket["subject"] == subject
    (message,) = show(gateway, ticket["number"])["messages"]
    for word in words:
        assert word in message["text"]
    assert "\r" not in message["text"]


def test_attachment_is_stored_with_name_type_and_size(gateway: RunningGateway) -> None:
    """An RFC 2231 Russian file name and the exact bytes reach the ticket."""
    raw = (FIXTURES / "attachment-rfc2231-russian-name.eml").read_bytes()
    assert send(gateway, raw)[0] == 250
    (ticket,) = tickets(gateway)
    (message,) = show(gateway, ticket["number"])["messages"]
    (pdf,) = message["attachments"]
    assert pdf["filename"] == "Счёт на оплату №42 от 25.11.2026.pdf"
    assert pdf["content_type"] == "application/pdf"
    assert pdf["size"] == 1249
    assert "%PDF" not in message["text"]
    # the stored bytes are the decoded file, not its base64
    from gateway.mail.parse import parse

    original = parse(raw).attachments[0].data
    assert pdf["sha256"] == hashlib.sha256(original).hexdigest()
