"""new_text(): what the sender wrote now, without the quoted history and the signature."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.mail.body import new_text
from gateway.mail.parse import parse

FIXTURES = Path(__file__).parents[2] / "fixtures" / "mails"

NEW_RU = "Новый текст ответа: VPN снова отключается каждые 5 минут."
NEW_EN = "New reply text: the VPN drops every 5 minutes again."

# text → the new words that must stay, and the old words that must go
CASES = [
    pytest.param(
        f"{NEW_RU}\n\nср, 25 нояб. 2026 г. в 10:00, Support <support@example.com>:\n\n"
        "> Перезагрузите роутер.\n> Служба поддержки",
        NEW_RU,
        ("Перезагрузите", "Служба поддержки", "25 нояб."),
        id="gmail-ru-attribution",
    ),
    pytest.param(
        f"{NEW_RU}\n\n25.11.2026 10:00, Support пишет:\n> Перезагрузите роутер.",
        NEW_RU,
        ("Перезагрузите", "пишет"),
        id="thunderbird-ru-pishet",
    ),
    pytest.param(
        f"{NEW_RU}\n\n25.11.2026 10:00, Иван Петров написал:\n> Перезагрузите роутер.",
        NEW_RU,
        ("Перезагрузите", "написал"),
        id="thunderbird-ru-napisal",
    ),
    pytest.param(
        f'{NEW_RU}\n\n25.11.2026, 10:00, "Support" <support@example.com>:\n> Перезагрузите роутер.',
        NEW_RU,
        ("Перезагрузите", "support@example.com"),
        id="yandex",
    ),
    pytest.param(
        f"{NEW_RU}\n\nСреда, 25 ноября 2026, 10:00 +03:00 от Support <support@example.com>:\n"
        "> Перезагрузите роутер.",
        NEW_RU,
        ("Перезагрузите", "Среда"),
        id="mail-ru",
    ),
    pytest.param(
        f"{NEW_RU}\n\nОт: Support <support@example.com>\nОтправлено: 25 ноября 2026 г. 10:00\n"
        "Кому: Иван Петров <ivan@example.net>\nТема: RE: [#123] VPN\n\n"
        "Перезагрузите роутер, без кавычек, как пишет Outlook.",
        NEW_RU,
        ("Перезагрузите", "Отправлено:", "Тема:"),
        id="outlook-ru-header-block",
    ),
    pytest.param(
        f"{NEW_EN}\n\nOn Wed, Nov 25, 2026 at 10:00 AM Support <support@example.com> wrote:\n\n"
        "> Please restart the router.",
        NEW_EN,
        ("restart the router", "wrote:"),
        id="gmail-en",
    ),
    pytest.param(
        f"{NEW_EN}\n\nFrom: Support <support@example.com>\n"
        "Sent: Wednesday, November 25, 2026 10:00 AM\nTo: Ivan <ivan@example.net>\n"
        "Subject: RE: [#123] VPN\n\nPlease restart the router.",
        NEW_EN,
        ("restart the router", "Sent:"),
        id="outlook-en-header-block",
    ),
    pytest.param(
        f"{NEW_RU}\n> Перезагрузите роутер.\n> Служба поддержки",
        NEW_RU,
        ("Перезагрузите",),
        id="bare-quote-lines",
    ),
    pytest.param(
        f"{NEW_RU}\n\n-- \nИван Петров\nтел. +7 900 000-00-00",
        NEW_RU,
        ("Иван Петров", "+7 900"),
        id="rfc3676-signature",
    ),
    pytest.param(
        f"{NEW_RU}\r\n\r\n-- \r\nИван Петров\r\nтел. +7 900 000-00-00\r\n",
        NEW_RU,
        ("Иван Петров", "+7 900"),
        id="rfc3676-signature-crlf",
    ),
    pytest.param(
        f"{NEW_RU}\n\n--\nИван Петров",
        NEW_RU,
        ("Иван Петров",),
        id="signature-dashes-without-space",
    ),
    pytest.param(
        f"{NEW_RU}\n\n-- \nИван Петров\n\n25.11.2026 10:00, Support пишет:\n> Перезагрузите.",
        NEW_RU,
        ("Иван Петров", "Перезагрузите"),
        id="signature-then-quote",
    ),
]


@pytest.mark.parametrize(("text", "kept", "dropped"), CASES)
def test_quotes_and_signatures_are_stripped(text: str, kept: str, dropped: tuple[str, ...]) -> None:
    """A reply shows only the new words: quoted history of common clients and signatures go."""
    result = new_text(text)
    assert kept in result
    for old in dropped:
        assert old not in result


@pytest.mark.parametrize(
    ("text", "signature"),
    [
        pytest.param(f"{NEW_RU}\n\nС уважением,\nИван Петров", "Иван Петров", id="s-uvazheniem"),
        pytest.param(f"{NEW_EN}\n\nBest regards,\nJohn Smith", "John Smith", id="best-regards"),
        pytest.param(f"{NEW_RU}\n\nОтправлено с iPhone", "iPhone", id="otpravleno-s-iphone"),
    ],
)
def test_closing_formula_signatures_are_stripped(text: str, signature: str) -> None:
    """A signature after "С уважением", "Best regards" or "Отправлено с iPhone" is cut off."""
    result = new_text(text)
    assert result.startswith(NEW_RU if NEW_RU in text else NEW_EN)
    assert signature not in result


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Шаги:\n---\n1. открыть настройки\n2. выключить VPN", id="rule-not-signature"),
        pytest.param("Просто текст.\nВторая строка.", id="no-history"),
        pytest.param("Цена 100 > 50, это ошибка в счёте", id="gt-inside-line"),
    ],
)
def test_text_without_history_stays_whole(text: str) -> None:
    """Text with no quote or signature (a "---" rule, a ">" inside a line) is kept whole."""
    assert new_text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "", id="empty"),
        pytest.param(" \n\t", "", id="blank"),
        pytest.param(
            "> только цитата\n> и ничего больше",
            "> только цитата\n> и ничего больше",
            id="only-quote-is-kept",
        ),
    ],
)
def test_never_empty_unless_input_is(text: str, expected: str) -> None:
    """A message that is all quote is kept as it is: stripping never leaves an empty message."""
    assert new_text(text) == expected


def test_reply_fixture_keeps_only_the_new_words() -> None:
    """A real Russian reply with a quote keeps exactly the customer's two new sentences."""
    mail = parse((FIXTURES / "reply-with-quote-ru.eml").read_bytes())
    result = new_text(mail.text)
    assert result == (
        "Спасибо, после перезагрузки роутера интернет заработал.\n"
        'Но теперь не открывается почта на телефоне: пишет "ошибка сертификата".'
    )


def test_close_command_fixture_drops_the_quoted_command() -> None:
    """A #close reply keeps its command and words, not the #status quoted below them."""
    mail = parse((FIXTURES / "close-command.eml").read_bytes())
    result = new_text(mail.text)
    assert result.startswith("#close")
    assert "заявку можно закрыть" in result
    assert "#status" not in result
