"""Commands on the first lines, and nudges that must not move a ticket in the queue."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.mail.body import new_text
from gateway.mail.intent import NUDGE_MAX_CHARS, find_nudge, parse_commands
from gateway.mail.parse import parse

FIXTURES = Path(__file__).parents[2] / "fixtures" / "mails"


def load_new_text(name: str) -> str:
    return new_text(parse((FIXTURES / name).read_bytes()).text)


# text → (name, arg, line) of each command, and the line numbers of rejected ones
COMMANDS = [
    pytest.param("#close", (("close", "", 1),), (), id="close"),
    pytest.param("#CLOSE", (("close", "", 1),), (), id="upper-case"),
    pytest.param("#close:", (("close", "", 1),), (), id="trailing-colon"),
    pytest.param("   #close   ", (("close", "", 1),), (), id="surrounding-space"),
    pytest.param("#закрыть", (("close", "", 1),), (), id="zakryt"),
    pytest.param("#закрыто", (("close", "", 1),), (), id="zakryto"),
    pytest.param("#notify off", (("notify", "off", 1),), (), id="argument"),
    pytest.param("#уведомления выкл", (("notify", "выкл", 1),), (), id="russian-argument"),
    pytest.param(
        "#close\n#notify off\nСпасибо!",
        (("close", "", 1), ("notify", "off", 2)),
        (),
        id="two-lines-then-text",
    ),
    pytest.param("\n\n#close\n\nСпасибо", (("close", "", 3),), (), id="leading-blank-lines"),
    pytest.param("#status\n\n#close", (("status", "", 1),), (), id="blank-line-ends-block"),
    pytest.param(
        "#note Клиент звонил, просит перезвонить\nтекст",
        (("note", "Клиент звонил, просит перезвонить", 1),),
        (),
        id="note-with-text",
    ),
    pytest.param("#frobnicate\n#close", (("close", "", 2),), (1,), id="unknown-command"),
    pytest.param("Спасибо, всё работает.\n#close", (), (), id="not-on-first-line"),
    pytest.param("> #close\nСпасибо", (), (), id="quoted"),
    pytest.param("#123 тоже про это", (), (), id="ticket-number-not-command"),
    pytest.param("# close", (), (), id="space-after-hash"),
    pytest.param("Добрый день! Проблема #2 решена.", (), (), id="hash-in-sentence"),
]


@pytest.mark.parametrize(("text", "commands", "error_lines"), COMMANDS)
def test_parse_commands(
    text: str, commands: tuple[tuple[str, str, int], ...], error_lines: tuple[int, ...]
) -> None:
    """Commands count only at the top of the new text, one a line, in Russian or English."""
    found, errors = parse_commands(text)
    assert tuple((c.name, c.arg, c.line) for c in found) == commands
    assert tuple(e.line for e in errors) == error_lines


def test_unknown_command_says_which() -> None:
    """An unknown command is reported by name, with the line as the sender wrote it."""
    _, (error,) = parse_commands("#frobnicate now")
    assert "#frobnicate" in error.reason
    assert error.raw == "#frobnicate now"


def test_close_command_fixture() -> None:
    """A real "#close" reply yields exactly one close command and no error."""
    commands, errors = parse_commands(load_new_text("close-command.eml"))
    assert [c.name for c in commands] == ["close"]
    assert errors == ()


def test_quoted_command_in_fixture_does_nothing() -> None:
    # the full text still holds "> #status" from the quoted operator mail
    """A "#status" quoted from our earlier mail is no command of the customer's."""
    text = parse((FIXTURES / "close-command.eml").read_bytes()).text
    assert "> #status" in text
    commands, _ = parse_commands(text)
    assert [c.name for c in commands] == ["close"]


NUDGES = [
    pytest.param("Когда вы ответите?", id="kogda-otvetite"),
    pytest.param("когда уже будет ответ???", id="kogda-budet-otvet"),
    pytest.param("Сколько ещё ждать?", id="skolko-zhdat"),
    pytest.param("Сколько можно ждать?!", id="skolko-mozhno"),
    pytest.param("Есть новости?", id="est-novosti"),
    pytest.param("Есть какие-нибудь новости по заявке?", id="kakie-nibud-novosti"),
    pytest.param("Посмотрите заявку №123", id="posmotrite-zayavku"),
    pytest.param("Ответьте уже!", id="otvette-uzhe"),
    pytest.param("Жду ответа.", id="zhdu-otveta"),
    pytest.param("Ну что там?", id="nu-chto-tam"),
    pytest.param("Здравствуйте!\n\nКогда вы ответите?\n\nС уважением,\nИван", id="with-greeting"),
    pytest.param("Any update?", id="any-update"),
    pytest.param("Hello,\n\nany news?\n\nThanks", id="any-news-greeting"),
    pytest.param("When will you reply?", id="when-will-you-reply"),
    pytest.param("I'm still waiting.", id="still-waiting"),
    pytest.param("Please check my ticket", id="check-my-ticket"),
    pytest.param("How long do I wait?", id="how-long"),
    pytest.param("ping", id="ping"),
    pytest.param("Up", id="up"),
]


@pytest.mark.parametrize("text", NUDGES)
def test_nudges_are_detected(text: str) -> None:
    """Nudges are detected: "Когда вы ответите?", "Есть новости?", "Any update?", "ping"…"""
    assert find_nudge(text) is not None


LONG_REQUEST = (
    "Добрый день!\n\n"
    "Сегодня утром снова пропал доступ к VPN у всего отдела продаж, клиент пишет ошибку 809. "
    "Вчера ваш инженер менял сертификат на шлюзе, после этого всё и началось. Перезагрузка "
    "клиентов не помогает, на двух ноутбуках переустановили профиль. Подскажите, когда вы "
    "ответите по прошлой заявке и что нам делать сейчас? Логи во вложении."
)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(LONG_REQUEST, id="long-request-asking-kogda"),
        pytest.param("Когда будет готов счёт за ноябрь?", id="short-question-with-kogda"),
        pytest.param("Сломался принтер, когда сможете прислать мастера?", id="kogda-master"),
        pytest.param("Здравствуйте!\n\nСпасибо!", id="only-greeting"),
        pytest.param("", id="empty"),
        pytest.param("Please update the DNS record for example.net", id="update-not-any-update"),
    ],
)
def test_real_requests_are_not_nudges(text: str) -> None:
    """Real requests, even ones asking "когда", are not nudges and move the ticket as usual."""
    assert find_nudge(text) is None


def test_long_request_is_over_the_nudge_limit() -> None:
    # the test above must be about length, not about the wording missing the patterns
    """A long request is no nudge by its length alone, though its question would be one."""
    assert len(LONG_REQUEST) > NUDGE_MAX_CHARS
    assert find_nudge("Подскажите, когда вы ответите по прошлой заявке?") is not None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "Проверьте, что там с DNS-записями для example.net, сайт не открывается.",
            id="chto-tam-s-dns",
        ),
        pytest.param("Ответьте, пожалуйста, можно ли оплатить счёт картой?", id="otvette-vopros"),
        pytest.param("When can I get a copy of the October invoice?", id="when-can-i-get"),
    ],
)
def test_short_real_request_with_nudge_words_is_not_a_nudge(text: str) -> None:
    """A short real question with nudge words in it ("Ответьте, можно ли…") is no nudge."""
    assert find_nudge(text) is None


def test_punctuated_posmotrite_pozhaluysta_is_a_nudge() -> None:
    """A nudge with commas, "Посмотрите, пожалуйста, мою заявку", is still a nudge."""
    assert find_nudge("Посмотрите, пожалуйста, мою заявку") is not None


def test_nudge_fixture() -> None:
    """A real nudge mail is recognised by its new words, "Когда вы ответите"."""
    assert find_nudge(load_new_text("nudge-ru.eml")) == "Когда вы ответите"


@pytest.mark.parametrize(
    "name",
    ["reply-with-quote-ru.eml", "koi8r-no-charset.eml", "html-only-outlook.eml"],
)
def test_customer_fixtures_are_not_nudges(name: str) -> None:
    """Real customers' requests and replies are not mistaken for nudges."""
    assert find_nudge(load_new_text(name)) is None
