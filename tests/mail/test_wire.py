"""The fast wire form of a notification says what the email package's form says (issue 16).

``to_wire`` encodes a body once for every copy of an event and writes the MIME
structure itself; a mail client must not see a difference: the same headers, the
same text (flowed, trailing spaces and all), the same HTML, no parser defect.
"""

from __future__ import annotations

import email
import random
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from email import policy

import pytest

from gateway.mail.compose import Outgoing, compose, prefolded, to_bytes
from gateway.mail.wire import OnTheWire, body_of, to_wire

TEXTS = {
    "russian, long lines, a signature": (
        "Здравствуйте!\n" + "Очень длинная строка письма клиента. " * 12 + "\n-- \nИван\n"
    ),
    "mbox From, a lone dot, tabs, =, no last newline": (
        "Hello\n\nFrom here on\n.\n x \ttab at the end\t\n=equals= and a space \nlast"
    ),
    "one long word in both scripts": "a" * 200 + "\n" + "б" * 100,
    "crlf and a quote": "Line one\r\n> quoted " + "word " * 30 + "\r\nend\r\n",
}
HTML = "<p>Привет &amp; hello</p>\n<p>" + "слово " * 60 + "</p>"


def outgoing(text: str, html: str | None, to: str = "ivan@example.ru") -> Outgoing:
    return Outgoing(
        from_name="Техподдержка",
        from_address="support@example.com",
        to=to,
        subject="[#12] Не работает сайт интернет-магазина после переноса на новый тариф",
        message_id=f"<1.{to}.helpdesk@example.com>",
        reply_to=f"support+o12.{to.split('@')[0]}@example.com",
        date=datetime(2027, 1, 1, 9, 0, tzinfo=UTC),
        text=text,
        html=html,
        in_reply_to="<first@example.ru>",
        references=["<first@example.ru>", "<2.helpdesk@example.com>"],
        headers={"X-Helpdesk-Ticket": "12"},
        language="ru",
    )


@pytest.mark.parametrize("html", [HTML, None], ids=["alternative", "text only"])
@pytest.mark.parametrize("name", list(TEXTS))
def test_the_wire_form_reads_as_the_email_packages_does(name: str, html: str | None) -> None:
    mail = outgoing(TEXTS[name], html)
    ours = email.message_from_bytes(to_wire(mail), policy=policy.strict)
    theirs = email.message_from_bytes(to_bytes(compose(mail)), policy=policy.strict)
    for part in ours.walk():
        assert not part.defects, part.defects
    assert ours.get_content_type() == theirs.get_content_type()

    def headers(m: email.message.Message) -> list[tuple[str, str]]:
        skip = ("Content-Type", "Content-Transfer-Encoding")  # base64 where it is shorter
        return sorted((k, str(v)) for k, v in m.items() if k not in skip)

    assert headers(ours) == headers(theirs)
    plain = ours.get_body(("plain",))
    assert plain.get_param("format") == "flowed" and plain.get_content_charset() == "utf-8"
    assert plain.get_content() == theirs.get_body(("plain",)).get_content()
    if html is not None:
        assert ours.get_body(("html",)).get_content() == theirs.get_body(("html",)).get_content()
    for line in to_wire(mail).split(b"\r\n"):
        assert len(line) <= 78, line


def test_copies_share_one_body_and_keep_their_own_headers() -> None:
    """Three operators' copies: one encoded body, each with its own To and Reply-To."""
    bodies: dict = {}
    copies = [
        to_wire(outgoing(TEXTS["russian, long lines, a signature"], HTML, to), bodies)
        for to in ("anna@example.com", "boris@example.com", "vera@example.com")
    ]
    assert len(bodies) == 1
    _, tails = zip(*(c.split(b"\r\n\r\n", 1) for c in copies), strict=True)
    assert len(set(tails)) == 1
    for to, data in zip(("anna", "boris", "vera"), copies, strict=True):
        message = email.message_from_bytes(data, policy=policy.default)
        assert message["To"] == f"{to}@example.com"
        assert message["Reply-To"] == f"support+o12.{to}@example.com"
    # The same notification built again (a resend) is the same bytes.
    again = to_wire(outgoing(TEXTS["russian, long lines, a signature"], HTML, "anna@example.com"))
    assert again == copies[0]


def test_russian_goes_as_base64_and_english_stays_quoted_printable() -> None:
    """Quoted-printable spends six bytes on a Cyrillic letter; base64 spends 2.7."""
    russian = "Добрый день! Сайт не открывается после переноса на новый тариф.\n" * 20
    english = "Hello! The site does not open after the move to the new plan.\n" * 20
    for text, cte in ((russian, "base64"), (english, "quoted-printable")):
        data = to_wire(outgoing(text, None))
        message = email.message_from_bytes(data, policy=policy.strict)
        assert message["Content-Transfer-Encoding"] == cte
        assert message.get_content().replace("\r\n", "\n") == text
        assert len(data.split(b"\r\n\r\n", 1)[1]) < 1.45 * len(text.encode())


def test_every_boundary_folds_as_the_policy_folds_it() -> None:
    """The multipart Content-Type is folded once with a stand-in digest: every body's own
    boundary must come out as the policy would fold it, byte for byte."""
    for _ in range(200):
        word = secrets.token_hex(8)
        value = dict(body_of(f"text {word}", f"<p>{word}</p>").headers)["Content-Type"]
        boundary = value.split('boundary="', 1)[1].rstrip('"')
        assert len(boundary) == 34 and boundary.startswith("=_")
        assert value == prefolded("Content-Type", f'multipart/alternative; boundary="{boundary}"')


@pytest.mark.parametrize("seed", range(50))
def test_the_fast_form_is_on_the_wire_whatever_the_line_ends(seed: int) -> None:
    """Senders trust ``OnTheWire`` without counting line ends: every line must end in CRLF
    and no CR or LF stand alone, whatever line ends the texts and the subject came with."""
    rnd = random.Random(seed)
    ends = ["\n", "\r\n", "\r", "\n\r", "\r\r\n", ""]

    def mixed(words: list[str]) -> str:
        return "".join(rnd.choice(words) + rnd.choice(ends) for _ in range(rnd.randint(1, 60)))

    mail = outgoing(mixed(["слово", "word", ".", "=", "From x"]), mixed(["<p>и</p>", "&amp;"]))
    mail = replace(mail, subject=mixed(["Тема", "subject"]), from_name=mixed(["Анна", "Ann"]))
    data = to_wire(mail)
    assert isinstance(data, OnTheWire)
    plain = bytes(data)
    crlf = plain.count(b"\r\n")
    assert plain.endswith(b"\r\n") and plain.count(b"\n") == crlf == plain.count(b"\r")
