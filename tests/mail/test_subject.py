"""Subjects: reply/forward chains are stripped, the ticket token is found wherever it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.mail.parse import parse
from gateway.mail.subject import find_token, format_token, strip_prefixes, thread_subject

FIXTURES = Path(__file__).parents[2] / "fixtures" / "mails"

# raw subject → subject without its prefix chain, ticket title, ticket number
SUBJECTS = [
    pytest.param("Не работает VPN", "Не работает VPN", "Не работает VPN", None, id="plain"),
    pytest.param("Re: Не работает VPN", "Не работает VPN", "Не работает VPN", None, id="re"),
    pytest.param("RE: RE: Printer", "Printer", "Printer", None, id="RE-RE"),
    pytest.param("Re:Re:Re:Printer", "Printer", "Printer", None, id="re-no-spaces"),
    pytest.param("Re : Printer", "Printer", "Printer", None, id="space-before-colon"),
    pytest.param("Re[2]: Printer", "Printer", "Printer", None, id="re-bracket-counter"),
    pytest.param("Re(3): Printer", "Printer", "Printer", None, id="re-paren-counter"),
    pytest.param("AW: Drucker", "Drucker", "Drucker", None, id="AW"),
    pytest.param("WG: Drucker", "Drucker", "Drucker", None, id="WG"),
    pytest.param("SV: Skrivare", "Skrivare", "Skrivare", None, id="SV"),
    pytest.param("Ответ: Принтер", "Принтер", "Принтер", None, id="Ответ"),
    pytest.param("Отв: Принтер", "Принтер", "Принтер", None, id="Отв"),
    pytest.param("ОТВ: Принтер", "Принтер", "Принтер", None, id="ОТВ-upper"),
    pytest.param("Fwd: Принтер", "Принтер", "Принтер", None, id="Fwd"),
    pytest.param("FWD: Принтер", "Принтер", "Принтер", None, id="FWD-upper"),
    pytest.param("Fw: Принтер", "Принтер", "Принтер", None, id="Fw"),
    pytest.param("Пересл.: Принтер", "Принтер", "Принтер", None, id="Пересл."),
    pytest.param("Пересл: Принтер", "Принтер", "Принтер", None, id="Пересл"),
    pytest.param(
        "Re: Fw: Re[2]: AW: Ответ: Пересл.: Принтер", "Принтер", "Принтер", None, id="mixed-chain"
    ),
    pytest.param(
        "Re: Fwd: [#123] Не приходят письма",
        "[#123] Не приходят письма",
        "Не приходят письма",
        123,
        id="chain-then-token",
    ),
    pytest.param(
        "RE: [#123] RE: Не приходят письма",
        "[#123] RE: Не приходят письма",
        "Не приходят письма",
        123,
        id="prefix-after-token",
    ),
    pytest.param(
        "Не приходят письма [#123]",
        "Не приходят письма [#123]",
        "Не приходят письма",
        123,
        id="token-at-end",
    ),
    pytest.param(
        "Письма [#123] с сайта", "Письма [#123] с сайта", "Письма с сайта", 123, id="token-middle"
    ),
    pytest.param("Re: [# 42 ] Сайт", "[# 42 ] Сайт", "Сайт", 42, id="token-with-spaces"),
    pytest.param("Re: [#0042] Сайт", "[#0042] Сайт", "Сайт", 42, id="token-leading-zeros"),
    pytest.param("Re: Заказ #123 не пришёл", "Заказ #123 не пришёл", None, None, id="bare-hash"),
    pytest.param("Счёт [123] от 25.11", "Счёт [123] от 25.11", None, None, id="brackets-no-hash"),
    pytest.param("Счёт [№123]", "Счёт [№123]", None, None, id="numero-sign"),
    pytest.param("Ticket#123 status", "Ticket#123 status", None, None, id="hash-no-brackets"),
    pytest.param("[#abc] Сайт", "[#abc] Сайт", None, None, id="hash-not-digits"),
    pytest.param("Return of goods", "Return of goods", None, None, id="re-as-word-start"),
    pytest.param("Trouble: VPN", "Trouble: VPN", None, None, id="tr-as-word-start"),
    pytest.param("Отвертка сломалась", "Отвертка сломалась", None, None, id="отв-as-word-start"),
]


@pytest.mark.parametrize(("raw", "stripped", "title", "token"), SUBJECTS)
def test_strip_prefixes(raw: str, stripped: str, title: str | None, token: int | None) -> None:
    """Any chain of Re:, AW:, Ответ:, Fwd:, Пересл.: … is stripped; "Return", "Отвертка" stay."""
    assert strip_prefixes(raw) == stripped


@pytest.mark.parametrize(("raw", "stripped", "title", "token"), SUBJECTS)
def test_find_token(raw: str, stripped: str, title: str | None, token: int | None) -> None:
    """A reply whose subject carries [#12] anywhere, after any prefix chain, names ticket #12."""
    assert find_token(raw) == token


@pytest.mark.parametrize(("raw", "stripped", "title", "token"), SUBJECTS)
def test_thread_subject(raw: str, stripped: str, title: str | None, token: int | None) -> None:
    """A ticket's title is the subject without prefixes and without its token."""
    assert thread_subject(raw) == (title if title is not None else stripped)


def test_first_token_wins() -> None:
    """With two tokens in a subject ("[#7] merged into [#9]"), the first names the ticket."""
    assert find_token("Re: [#7] merged into [#9]") == 7


@pytest.mark.parametrize(
    ("token_format", "subject", "number"),
    [
        pytest.param("[#{number}]", "Re: [#77] x", 77, id="default"),
        pytest.param("{T-{number}}", "Re: {T-77} x", 77, id="braces"),
        pytest.param("{T-{number}}", "Re: [#77] x", None, id="default-token-not-custom"),
        pytest.param("(Ticket {number})", "AW: (ticket 77) x", 77, id="case-insensitive"),
    ],
)
def test_custom_token_format(token_format: str, subject: str, number: int | None) -> None:
    """A configured token format ("{T-77}", "(Ticket 77)") is found in any case; [#77] is not."""
    assert find_token(subject, token_format) == number


@pytest.mark.parametrize("number", [1, 123, 987654321])
def test_format_token_round_trips(number: int) -> None:
    """The token we put in a subject is the one we find in the reply, for any ticket number."""
    subject = f"Re: {format_token(number)} Не работает VPN"
    assert format_token(123) == "[#123]"
    assert find_token(subject) == number
    assert thread_subject(subject) == "Не работает VPN"


def test_encoded_koi8r_subject_names_its_ticket() -> None:
    """A KOI8-R encoded-word subject still names its ticket and gives its title."""
    mail = parse((FIXTURES / "encoded-word-subject-koi8r.eml").read_bytes())
    assert find_token(mail.subject) == 123
    assert thread_subject(mail.subject) == "Не приходят письма с сайта"
