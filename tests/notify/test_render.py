"""Notification templates: complete in both languages, strict, escaped, label-free."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError
from markupsafe import escape

from gateway.desk.model import STATUS_LABELS, Status
from gateway.notify.render import (
    KINDS,
    LOCALES,
    Templates,
    UnknownTemplate,
    default_root,
    plural_en,
    plural_ru,
    resolve_locale,
)

ROOT = default_root()
CYRILLIC = re.compile(r"[а-яА-ЯёЁ]")

# What each kind needs beyond the common keys; the notify side must send exactly these.
EXTRA: dict[str, dict[str, Any]] = {
    "created": {
        "text": "Сайт не открывается.\nОшибка 502 с утра.",
        "faq": [
            {
                "question": "Сайт показывает ошибку 502",
                "answer": "Посмотрите журнал ошибок.",
                "url": "https://help.example.net/502?a=1&b=2",
            },
            {"question": "Как сменить PHP", "answer": "В панели управления.", "url": ""},
        ],
    },
    "status": {"old_status_label": "", "new_status_label": "", "reason": "Нашли причину."},
    "operator_reply": {"operator_name": "Иван Петров", "text": "Первая строка.\nВторая строка."},
    "reopened": {},
    "follow_up": {"old_number": 7, "days": 41, "window_days": 30},
    "locked_follow_up": {"old_number": 7},
    "auto_closed": {"days": 31, "window_days": 30},
    "duplicate": {"original_number": 12},
    "reminder": {"days_left": 3, "close_on": "14.05.2025"},
    "confirm_address": {"address": "new@example.org"},
}


def context(kind: str, locale: str = "ru", **overrides: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "ticket": {
            "number": 12,
            "subject": "Сайт не открывается",
            "token": "[#12]",
            "status_label": Status.AWAITING_OPERATOR.label(locale),
        },
        "customer_name": "Анна",
        "support_address": "support@example.net",
        "locale": locale,
        **EXTRA[kind],
    }
    if kind == "status":
        ctx["old_status_label"] = Status.AWAITING_OPERATOR.label(locale)
        ctx["new_status_label"] = Status.IN_PROGRESS.label(locale)
    ctx.update(overrides)
    return ctx


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates(ROOT)


def template_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*") if p.is_file())


def test_every_kind_has_a_text_and_an_html_template_in_every_locale() -> None:
    for locale in LOCALES:
        names = {p.name for p in (ROOT / locale).iterdir() if not p.name.startswith("_")}
        assert names == {f"{k}.{ext}" for k in KINDS for ext in ("txt", "html")}, locale


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_both_locales(templates: Templates, kind: str, locale: str) -> None:
    text, html = templates.render(kind, locale, context(kind, locale))

    assert text.strip() and html.strip()
    assert "<" not in text, "the text part is plain text"
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert f'<html lang="{locale}">' in html
    for part in (text, html):
        assert "[#12]" in part, "every mail names the token to keep in the subject"
        assert "support@example.net" in part
    # Plain and simple: nothing loaded from elsewhere, nothing executed.
    lowered = html.lower()
    for banned in ("<script", "<link", "<img", "<iframe", "src=", "url(", "javascript:"):
        assert banned not in lowered, banned


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", sorted(set(KINDS) - {"auto_closed", "confirm_address"}))
def test_mails_about_an_open_ticket_explain_the_commands(
    templates: Templates, kind: str, locale: str
) -> None:
    for part in templates.render(kind, locale, context(kind, locale)):
        assert "#close" in part
        assert "#notify off" in part


@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_context_key_raises(templates: Templates, kind: str) -> None:
    # confirm_address goes to an address not yet confirmed, so it does not name the customer.
    common = ["support_address"]
    if kind != "confirm_address":
        common.append("customer_name")
    for key in [*common, *EXTRA[kind]]:
        ctx = context(kind)
        del ctx[key]
        with pytest.raises(UndefinedError):
            templates.render(kind, "ru", ctx)
    ctx = context(kind)
    del ctx["ticket"]["token"]
    with pytest.raises(UndefinedError, match=rf"ru/{kind}\.txt"):
        templates.render(kind, "ru", ctx)


def test_a_missing_status_label_raises(templates: Templates) -> None:
    ctx = context("reopened")
    del ctx["ticket"]["status_label"]
    with pytest.raises(UndefinedError):
        templates.render("reopened", "en", ctx)


@pytest.mark.parametrize("kind", ["nope", "_base", "../ru/created", "created.txt", ""])
def test_unknown_kind_raises(templates: Templates, kind: str) -> None:
    with pytest.raises(UnknownTemplate, match="no e-mail template for kind"):
        templates.render(kind, "ru", context("reopened"))


def test_a_kind_whose_file_is_missing_raises_unknown_template(tmp_path: Path) -> None:
    with pytest.raises(UnknownTemplate, match=r"ru/created\.txt"):
        Templates(tmp_path).render("created", "ru", context("created"))


@pytest.mark.parametrize(
    ("asked", "used"),
    [
        ("ru", "ru"),
        ("en", "en"),
        ("EN", "en"),
        ("en-US", "en"),
        ("en_GB", "en"),
        ("de", "ru"),
        ("", "ru"),
    ],
)
def test_unknown_locale_falls_back_to_russian(templates: Templates, asked: str, used: str) -> None:
    assert resolve_locale(asked) == used
    ctx = context("reopened", used)
    assert templates.render("reopened", asked, ctx) == templates.render("reopened", used, ctx)


@pytest.mark.parametrize("locale", LOCALES)
def test_html_escapes_what_the_customer_wrote(templates: Templates, locale: str) -> None:
    evil = '<script>alert("x")</script> & Co'
    ctx = context("created", locale, text=evil, customer_name=evil)
    ctx["ticket"]["subject"] = evil
    text, html = templates.render("created", locale, ctx)

    assert "<script" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in html
    # The text part is not HTML: it carries the characters as written.
    assert evil in text
    assert "&lt;" not in text and "&amp;" not in text


@pytest.mark.parametrize("locale", LOCALES)
def test_html_escapes_the_operator_and_the_reason(templates: Templates, locale: str) -> None:
    _, html = templates.render(
        "operator_reply", locale, context("operator_reply", locale, operator_name="<b>Eve</b>")
    )
    assert "<b>Eve</b>" not in html and "&lt;b&gt;Eve&lt;/b&gt;" in html
    _, html = templates.render("status", locale, context("status", locale, reason="<i>because</i>"))
    assert "<i>" not in html and "&lt;i&gt;because&lt;/i&gt;" in html


@pytest.mark.parametrize("locale", LOCALES)
def test_an_operator_reply_keeps_its_lines_in_both_parts(templates: Templates, locale: str) -> None:
    reply = (
        "Добрый день!\n\nМы перезапустили PHP-FPM.\n"
        "Проверьте, пожалуйста, <сайт> & почту.\n-- \nИван"
    )
    text, html = templates.render(
        "operator_reply", locale, context("operator_reply", locale, text=reply)
    )
    text_lines = text.splitlines()
    for line in reply.splitlines():
        if line.strip():
            assert line in text_lines, line
            assert str(escape(line)) in html, line
    # The HTML keeps the line breaks the operator typed.
    assert "white-space:pre-wrap" in html
    assert str(escape("Добрый день!\n\nМы перезапустили PHP-FPM.")) in html


@pytest.mark.parametrize("locale", LOCALES)
def test_status_labels_come_from_the_context(templates: Templates, locale: str) -> None:
    old, new = Status.IN_PROGRESS.label(locale), Status.CLOSED.label(locale)
    ctx = context("status", locale, old_status_label=old, new_status_label=new)
    ctx["ticket"]["status_label"] = new
    for part in templates.render("status", locale, ctx):
        assert old in part and new in part
    ctx = context("status", locale, old_status_label="LABEL-OLD", new_status_label="LABEL-NEW")
    ctx["ticket"]["status_label"] = "LABEL-NOW"
    text, html = templates.render("status", locale, ctx)
    for part in (text, html):
        assert "LABEL-OLD" in part and "LABEL-NEW" in part
    assert "LABEL-NOW" in html, "the HTML header shows the ticket's current status"


@pytest.mark.parametrize("path", template_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_spells_a_status_label(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    for labels in STATUS_LABELS.values():
        for label in labels.values():
            assert label not in source, f"{label!r} belongs in STATUS_LABELS, not in {path.name}"


@pytest.mark.parametrize("path", template_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_are_in_their_own_language(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    locale = path.parent.name
    if path.parent == ROOT:  # the layout shared by all locales holds no words at all
        assert not CYRILLIC.search(source)
        assert not any(word in source for word in ("Hello", "Ticket", "Status:", "Please"))
    elif locale == "en":
        assert not CYRILLIC.search(source), "English templates carry no Russian"
    elif not path.name.startswith("_quote"):
        assert CYRILLIC.search(source), "Russian templates are written in Russian"


ENGLISH_BOILERPLATE = ["Hello", "Dear", "ticket", "Ticket", "reply", "Please", "regards", "status"]
RUSSIAN_BOILERPLATE = ["Здравствуйте", "заявк", "уважением", "ответьте"]


@pytest.mark.parametrize("kind", KINDS)
def test_rendered_mails_do_not_mix_languages(templates: Templates, kind: str) -> None:
    neutral = {"customer_name": "Anna"}
    ru_text, ru_html = templates.render(kind, "ru", context(kind, "ru", **neutral))
    for part in (ru_text, ru_html):
        assert CYRILLIC.search(part)
        for word in ENGLISH_BOILERPLATE:
            assert word not in part, word
    en_text, en_html = templates.render(kind, "en", context(kind, "en"))
    for part in (en_text, en_html):
        for word in RUSSIAN_BOILERPLATE:
            assert word not in part, word


@pytest.mark.parametrize(("locale", "greeting"), [("ru", "Здравствуйте!"), ("en", "Hello,")])
def test_an_empty_name_greets_without_one(templates: Templates, locale: str, greeting: str) -> None:
    text, html = templates.render("reopened", locale, context("reopened", locale, customer_name=""))
    assert text.startswith(greeting + "\n")
    assert f">{greeting}</p>" in html
    named, _ = templates.render("reopened", locale, context("reopened", locale))
    assert "Анна" in named.splitlines()[0]


@pytest.mark.parametrize("locale", LOCALES)
def test_created_offers_the_faq_only_when_there_is_one(templates: Templates, locale: str) -> None:
    text, html = templates.render("created", locale, context("created", locale))
    for part in (text, html):
        assert "Сайт показывает ошибку 502" in part and "В панели управления." in part
    assert "https://help.example.net/502?a=1&b=2" in text
    assert 'href="https://help.example.net/502?a=1&amp;b=2"' in html
    assert html.count("href=") == 1, "an entry without a url gets no link"

    bare_text, bare_html = templates.render("created", locale, context("created", locale, faq=[]))
    for part in (bare_text, bare_html):
        assert "Сайт показывает ошибку 502" not in part
        assert "FAQ" not in part and "частых вопросов" not in part
    # Asking to check the FAQ first is the point of listing it.
    assert ("FAQ" if locale == "en" else "частых вопросов") in text


def test_the_text_part_lays_out_cleanly(templates: Templates) -> None:
    for kind in KINDS:
        for locale in LOCALES:
            text, _ = templates.render(kind, locale, context(kind, locale))
            assert "\n\n\n" not in text, (kind, locale)
            assert text.endswith("support@example.net\n"), (kind, locale)
            assert all(line == line.rstrip() or line == "-- " for line in text.splitlines())


def test_confirm_address_says_how_to_confirm_and_what_if_not(templates: Templates) -> None:
    text, _ = templates.render("confirm_address", "ru", context("confirm_address"))
    assert "new@example.org" in text and "ответьте на это письмо" in text
    assert "проигнорируйте" in text
    text, _ = templates.render("confirm_address", "en", context("confirm_address", "en"))
    assert "new@example.org" in text and "reply to this email" in text and "ignore" in text


@pytest.mark.parametrize(
    ("n", "word"),
    [
        (0, "дней"),
        (1, "день"),
        (2, "дня"),
        (4, "дня"),
        (5, "дней"),
        (11, "дней"),
        (12, "дней"),
        (14, "дней"),
        (21, "день"),
        (22, "дня"),
        (30, "дней"),
        (101, "день"),
        (111, "дней"),
    ],
)
def test_plural_ru(n: int, word: str) -> None:
    assert plural_ru(n, "день", "дня", "дней") == word


def test_plural_en() -> None:
    assert [plural_en(n, "day", "days") for n in (0, 1, 2, 21)] == ["days", "day", "days", "days"]


def test_day_counts_read_naturally(templates: Templates) -> None:
    text, _ = templates.render("reminder", "ru", context("reminder", days_left=1))
    assert "через 1 день" in text
    text, _ = templates.render("auto_closed", "ru", context("auto_closed", days=31))
    assert "31 день" in text and "в течение 30 дней" in text
    text, _ = templates.render("reminder", "en", context("reminder", "en", days_left=1))
    assert "in 1 day," in text
