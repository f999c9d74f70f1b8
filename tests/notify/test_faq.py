"""FAQ suggestions: the seed file loads, requests find the right entries, mistakes are named."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from gateway.notify.faq import FaqEntry, FaqError, load_faq, match_faq

SEED = Path(__file__).resolve().parents[2] / "config" / "faq.toml"


@pytest.fixture(scope="module")
def seed() -> list[FaqEntry]:
    return load_faq(SEED)


def entry(question: str, *keywords: str, locale: str = "ru") -> FaqEntry:
    return FaqEntry(question=question, answer="…", url="", keywords=tuple(keywords), locale=locale)


def test_the_seed_covers_the_common_questions_in_both_languages(seed: list[FaqEntry]) -> None:
    """The shipped FAQ answers common questions in Russian and English, in 2–4 sentences each."""
    for locale in ("ru", "en"):
        entries = [e for e in seed if e.locale == locale]
        assert len(entries) >= 8, locale
        for e in entries:
            assert e.question and e.answer and e.keywords
            assert "\n" not in e.answer, "answers are one paragraph"
            sentences = len(re.findall(r"[.!?](?:\s|$)", e.answer))
            assert 2 <= sentences <= 4, f"short and useful: {e.question}"
    assert {e.locale for e in seed} == {"ru", "en"}


# (locale, request, the question that must come first)
SEED_CASES = [
    ("ru", "Здравствуйте! Сайт выдаёт 502 Bad Gateway уже час", "502"),
    ("ru", "Сайт недоступен, пишет 503 Service Unavailable", "502"),
    ("ru", "Перенёс домен к вам, сменил NS, но днс не резолвится", "NS-серверов"),
    ("ru", "Не могу отправить письмо, почтовая программа пишет ошибку SMTP", "SMTP"),
    ("ru", "Все наши письма клиентам попадают в спам", "спам"),
    ("ru", "Как подключить SSL-сертификат? Браузер пишет, что сайт небезопасный", "SSL"),
    ("ru", "Забыл пароль от панели управления, не могу войти", "пароль"),
    ("ru", "Закончилось место, квота диска превышена", "диске"),
    ("ru", "Нужна версия PHP 8.2 для нового модуля", "PHP"),
    ("ru", "Случайно удалил файлы, восстановите сайт из бэкапа за вчера", "резервной копии"),
    ("en", "Hi, my site is down with 503 Service Unavailable", "502 or 503"),
    ("en", "The domain is not resolving after I changed the nameservers", "resolve"),
    ("en", "I can't send emails through SMTP from Thunderbird", "SMTP"),
    ("en", "Our emails land in the recipients' junk folder", "spam"),
    ("en", "The SSL certificate expired and Chrome says Not Secure", "SSL"),
    ("en", "I forgot my password and cannot log in to the control panel", "password"),
    ("en", "Disk quota exceeded, no space left", "disk"),
    ("en", "Please switch my site to a newer PHP version", "PHP version"),
    ("en", "Please restore yesterday's backup, I deleted some files", "backup"),
]


@pytest.mark.parametrize(("locale", "text", "expected"), SEED_CASES)
def test_requests_find_the_right_seed_entry(
    seed: list[FaqEntry], locale: str, text: str, expected: str
) -> None:
    """A request about a 502, DNS, SMTP, spam, SSL, … is offered the matching FAQ entry first."""
    found = match_faq(seed, text, locale)
    assert found, text
    assert expected in found[0].question
    assert all(e.locale == locale for e in found)
    assert len(found) <= 3


@pytest.mark.parametrize(
    ("locale", "text"),
    [("ru", "Добрый день, подскажите, какой у меня тариф?"), ("en", "What is my invoice total?")],
)
def test_unrelated_requests_get_no_suggestions(
    seed: list[FaqEntry], locale: str, text: str
) -> None:
    """A request the FAQ does not cover gets no suggestions rather than wrong ones."""
    assert match_faq(seed, text, locale) == []


# (keyword, text, matches?)
WORD_FORMS = [
    ("почт", "Не работает почта", True),
    ("почт", "не могу воспользоваться почтой", True),
    ("почт", "ПОЧТОВЫЙ ящик переполнен", True),
    ("пароль", "не помню пароля", True),
    ("пароль", "сменили паролем", True),
    ("почта", "проблема с почтой", True),
    ("сертификат", "истёк срок сертификата", True),
    ("ssl", "Не выпускается SSL-сертификат", True),
    ("SSL", "ssl не работает", True),
    ("ssl-сертификат", "проблема с SSL-сертификатом", True),
    ("ещё", "еще раз пишу", True),
    ("bad gateway", "Error: 502 Bad Gateway", True),
    ("bad gateway", "bad request at the gateway", False),
    ("backup", "my backups are gone", True),
    ("restore", "restoring the site failed", True),
    ("502", "ошибка 5020", False),
    ("ns", "answer", False),
    ("ns", "поменял ns у регистратора", True),
    ("не открыва", "сайт не открывается", True),
    ("не открыва", "сайт нет открывашки", False),
    ("диск", "дискотека", True),
    ("php", "Сайт на PHP", True),
    ("mail", "e-mail is broken", True),
    ("почт", "письмо", False),
]


@pytest.mark.parametrize(("keyword", "text", "hit"), WORD_FORMS)
def test_keywords_match_word_forms(keyword: str, text: str, hit: bool) -> None:
    """A keyword matches its Russian word forms and case, and not inside an unrelated word."""
    e = entry("q", keyword, locale="any")
    assert (match_faq([e], text, "any") == [e]) is hit


def test_more_keywords_found_ranks_higher_and_ties_keep_file_order() -> None:
    """Entries matching more keywords come first; ties keep the file's order."""
    a = entry("a", "сайт")
    b = entry("b", "сайт", "502")
    c = entry("c", "сайт")
    d = entry("d", "тариф")
    found = match_faq([a, b, c, d], "Сайт отдаёт 502, сайт лежит", "ru")
    assert found == [b, a, c], "a keyword counts once, however often it occurs"


def test_at_most_limit_entries() -> None:
    """At most three suggestions by default, or the limit asked for."""
    entries = [entry(str(i), "сайт") for i in range(5)]
    assert match_faq(entries, "сайт", "ru") == entries[:3]
    assert match_faq(entries, "сайт", "ru", limit=1) == entries[:1]
    assert match_faq(entries, "сайт", "ru", limit=0) == []


def test_only_the_customers_locale_is_offered() -> None:
    """Only entries in the customer's language are offered."""
    ru = entry("ru", "ssl", locale="ru")
    en = entry("en", "ssl", locale="en")
    assert match_faq([en, ru], "SSL expired", "ru") == [ru]
    assert match_faq([en, ru], "SSL истёк", "en") == [en]
    assert match_faq([en, ru], "SSL", "de") == []


@pytest.mark.parametrize("text", ["", "   \n\t", "!!! ???"])
def test_empty_text_gets_nothing(seed: list[FaqEntry], text: str) -> None:
    """An empty or punctuation-only request gets no suggestions."""
    assert match_faq(seed, text, "ru") == []


def test_entries_are_frozen() -> None:
    """A loaded FAQ entry cannot be changed by the code that uses it."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry("q", "k").question = "other"  # type: ignore[misc]


def test_a_missing_file_means_no_faq(tmp_path: Path) -> None:
    """No FAQ file means no suggestions, not an error."""
    assert load_faq(tmp_path / "nope.toml") == []


def test_an_entry_loads_with_its_fields(tmp_path: Path) -> None:
    """An entry loads with its question, answer, link, keywords and language, trimmed."""
    path = tmp_path / "faq.toml"
    path.write_text(
        '[[entry]]\nlocale = "ru"\nquestion = " Вопрос "\nanswer = "Ответ."\n'
        'url = "https://help.example.net/a"\nkeywords = ["почт", " "]\n\n'
        '[[entry]]\nlocale = "en"\nquestion = "Q"\nanswer = "A."\nkeywords = ["mail"]\n',
        encoding="utf-8",
    )
    assert load_faq(path) == [
        FaqEntry("Вопрос", "Ответ.", "https://help.example.net/a", ("почт",), "ru"),
        FaqEntry("Q", "A.", "", ("mail",), "en"),
    ]


GOOD = 'locale = "ru"\nquestion = "Q"\nanswer = "A."\nkeywords = ["k"]\n'

# (file content, words the one-line message must contain)
MALFORMED = [
    ("[[entry]\nlocale = ", "not valid TOML"),
    ("entry = 5\n", "array of tables"),
    ("entry = [1]\n", "entry 1: must be a table"),
    ("[faq]\nx = 1\n", "unknown top-level key(s) faq"),
    ("[[entry]]\n" + GOOD.replace('question = "Q"\n', ""), "entry 1: 'question' is required"),
    ("[[entry]]\n" + GOOD.replace('answer = "A."', 'answer = ""'), "'answer' is required"),
    ("[[entry]]\n" + GOOD.replace('locale = "ru"', "locale = 1"), "'locale' is required"),
    ("[[entry]]\n" + GOOD.replace('["k"]', '"k"'), "'keywords' must be a list of strings"),
    ("[[entry]]\n" + GOOD.replace('["k"]', "[1]"), "'keywords' must be a list of strings"),
    ("[[entry]]\n" + GOOD.replace('["k"]', "[]"), "'keywords' is empty"),
    ("[[entry]]\n" + GOOD.replace("keywords", "keyword"), "unknown key(s) keyword"),
    ("[[entry]]\n" + GOOD + 'url = "javascript:alert(1)"\n', "'url' must start with https://"),
    ("[[entry]]\n" + GOOD + "url = 3\n", "'url' must be a string"),
    ("[[entry]]\n" + GOOD + "[[entry]]\n" + GOOD.replace("keywords", "kw"), "entry 2: unknown"),
]


@pytest.mark.parametrize(("content", "problem"), MALFORMED)
def test_a_malformed_file_is_named_in_one_line(tmp_path: Path, content: str, problem: str) -> None:
    """A mistake in the FAQ file is one line naming the file, the entry and what to fix."""
    path = tmp_path / "faq.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FaqError) as info:
        load_faq(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert problem in message


def test_a_file_that_is_not_utf8_is_malformed(tmp_path: Path) -> None:
    """A FAQ file not in UTF-8 is reported as malformed, not read as garbage."""
    path = tmp_path / "faq.toml"
    path.write_bytes("question = 'Вопрос'\n".encode("cp1251"))
    with pytest.raises(FaqError, match="not valid TOML"):
        load_faq(path)


def test_an_unreadable_path_is_an_error_not_an_empty_faq(tmp_path: Path) -> None:
    """A FAQ path that cannot be read is an error, not silently an empty FAQ."""
    with pytest.raises(FaqError, match="cannot read"):
        load_faq(tmp_path)
