"""Every kind of mail, in both languages, as bytes on the wire (issue 13, RFC 5322/2047/3676).

Encoded words of at most 75 characters, header lines of at most 78, no header
folded right after its colon (a parser then reads a leading space), one
MIME-Version at the top, Content-Language, a text part wrapped at 72 as
format=flowed, English dates never written 01.01.2027 — and ``policy.strict``
parses every mail without a defect.
"""

from __future__ import annotations

import email
import json
import re
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header

import pytest

from gateway.notify.build import DispatchRules, Letter, build
from gateway.notify.render import KINDS, LOCALES, Templates, default_root
from tests.notify.test_render import context

LONG_SUBJECT = "Не работает сайт интернет-магазина после переноса на новый тариф хостинга"
BRAND = "Хостинг «Пример» — служба технической поддержки клиентов"
ENCODED_WORD = re.compile(r"=\?[^?]+\?[bBqQ]\?[^?]*\?=")
NUMERIC_DATE = re.compile(r"\b\d{2}\.\d{2}\.\d{4}\b")


def wire(kind: str, locale: str, brand: str = BRAND) -> bytes:
    ctx = context(kind, locale)
    if "ticket" in ctx:
        ctx["ticket"]["subject"] = LONG_SUBJECT
    else:
        ctx.setdefault("subject", f"Re: {LONG_SUBJECT}")
    if kind == "operator_reply":
        ctx["operator_name"] = "Александра Константиновна Преображенская"
    if kind == "created":
        ctx["text"] = (
            "Здравствуйте!\n" + "Очень длинная строка письма клиента. " * 12 + "\n-- \nИван"
        )
    letter = Letter(
        id=7,
        kind=kind,
        locale=locale,
        context=json.dumps(ctx, ensure_ascii=False),
        to_address="ivan@example.ru",
        message_id="<1.2.3.helpdesk@example.com>",
        in_reply_to="<first@example.ru>",
        references="<first@example.ru> " + " ".join(f"<m{i}@example.com>" for i in range(12)),
        auto_submitted="auto-replied",
        created_at=datetime(2027, 1, 1, 9, 0, tzinfo=UTC),
    )
    rules = DispatchRules(support="support@example.com", secret=b"k" * 32, brand=brand)
    _, data = build(letter, Templates(default_root()), rules)
    return data


def headers_of(data: bytes) -> list[str]:
    """The top header block's physical lines."""
    return data.split(b"\r\n\r\n", 1)[0].decode("ascii").split("\r\n")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_mail_has_headers_every_client_reads_alike(kind: str, locale: str) -> None:
    """Encoded words <= 75, lines <= 78, no fold after a colon, strict parse, no defects."""
    data = wire(kind, locale)
    lines = headers_of(data)
    for line in lines:
        assert len(line) <= 78, line
        for word in ENCODED_WORD.findall(line):
            assert len(word) <= 75, word
        assert not re.fullmatch(r"[A-Za-z-]+:\s*", line), f"folded after the colon: {line!r}"
    message = email.message_from_bytes(data, policy=policy.strict)  # raises on a defect
    for part in message.walk():
        assert not part.defects, (part.get_content_type(), part.defects)
    assert sum(1 for line in lines if line.lower().startswith("mime-version:")) == 1
    for part in list(message.walk())[1:]:
        assert "MIME-Version" not in part
    assert message["Content-Language"] == locale
    assert message["Subject"] == str(message["Subject"]).strip()
    # Encoded words end between words: every parser reads the words whole (CPython's
    # address parser adds a space between adjacent encoded words; RFC 2047 decoders do not).
    assert BRAND in " ".join(str(message["From"]).split())


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_text_part_is_flowed_at_72_and_the_dates_are_the_locales(
    kind: str, locale: str
) -> None:
    """text/plain format=flowed, no line over 78 (72 + a long word), no 01.01.2027 in English."""
    message = email.message_from_bytes(wire(kind, locale), policy=policy.default)
    plain = message.get_body(("plain",))
    assert plain is not None and plain.get_param("format") == "flowed"
    text = plain.get_content()
    for line in text.splitlines():
        assert len(line) <= 78 or " " not in line.strip(), line
        assert line != "-- " or kind == "operator_reply", "a customer's signature line, bare"
    html = message.get_body(("html",)).get_content()
    assert "pre-wrap" not in html
    if locale == "en":
        assert not NUMERIC_DATE.search(text), NUMERIC_DATE.search(text)


def test_the_operator_reply_from_name_is_the_operator_and_the_brand() -> None:
    """From: "Operator (Brand)", folded into encoded words a strict parser reads back."""
    data = wire("operator_reply", "ru")
    email.message_from_bytes(data, policy=policy.strict)  # no defect
    raw = re.search(rb"^From: (.*?)\r\n(?=\S)", data, re.S | re.M)
    assert raw is not None
    # Decoded as RFC 2047 says (space between adjacent encoded words ignored), as mail
    # clients do; CPython's address parser puts a space there, which is its own quirk.
    name = str(make_header(decode_header(raw.group(1).decode().replace("\r\n", ""))))
    assert name.startswith("Александра Константиновна Преображенская")
    assert f"({BRAND})" in name


def test_without_a_brand_the_sender_is_support_in_the_mails_language() -> None:
    """No HELPDESK_BRAND: "Техподдержка" / "Support", as before."""
    for locale, name in (("ru", "Техподдержка"), ("en", "Support")):
        message = email.message_from_bytes(wire("created", locale, brand=""), policy=policy.strict)
        assert message["From"].addresses[0].display_name == name
