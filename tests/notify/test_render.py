"""Notification templates: complete in both languages, strict, escaped, label-free."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError
from markupsafe import Markup, escape

from gateway.desk.model import STATUS_LABELS, Status
from gateway.notify.catalogs import translations
from gateway.notify.render import (
    KINDS,
    LOCALES,
    Templates,
    UnknownTemplate,
    br,
    default_root,
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
    # The reason as a code (notify.context.reason_code), never the audit's English words.
    "status": {
        "old_status_label": "",
        "new_status_label": "",
        "new_status": "in_progress",
        "reason_code": "taken",
        "by_customer": False,
        "locked": False,
    },
    "operator_reply": {"operator_name": "Иван Петров", "text": "Первая строка.\nВторая строка."},
    "reopened": {},
    "follow_up": {"old_number": 7, "days": 41, "window_days": 30},
    "locked_follow_up": {"old_number": 7},
    "auto_closed": {"days": 31, "reopen_until": "2027-01-15"},
    "duplicate": {"original_number": 12},
    "reminder": {"days_left": 3, "close_on": "14.05.2025"},
    "imported": {},
    "confirm_address": {"address": "new@example.org"},
    # Oldest first, as the sweep sends them; status_label is filled in per locale below.
    "escalation": {
        "reply_kind": "d",  # what a reply does (notify.audience)
        "hours": 24,
        "tickets": [
            {
                "number": 12,
                "token": "[#12]",
                "subject": "Сайт не открывается",
                "customer": "anna@example.org",
                "status_label": "",
                "waiting_hours": 51,
                "nudges": 2,
            },
            {
                "number": 15,
                "token": "[#15]",
                "subject": "Не приходит почта",
                "customer": "boris@example.org",
                "status_label": "",
                "waiting_hours": 30,
                "nudges": 0,
            },
            {
                "number": 19,
                "token": "[#19]",
                "subject": "Ошибка 502 после обновления",
                "customer": "anna@example.org",
                "status_label": "",
                "waiting_hours": 25,
                "nudges": 1,
            },
        ],
    },
    "possible_repeat": {
        "reply_kind": "n",  # what a reply does (notify.audience)
        "window_days": 30,
        "old_number": 7,
        "old_subject": "Сайт не работает",
        "similarity_percent": 87,
        "customer": "anna@example.org",
        "text": "Сайт снова не открывается.\nОшибка 502 с утра.",
    },
    # To an operator; "old_number" comes only with event "follow_up".
    "operator_message": {
        "reply_kind": "o",  # what a reply does (notify.audience)
        "event": "message",
        "customer": "anna@example.org",
        "customer_verified": True,
        "customer_id": 42,
        "text": "Сайт всё ещё не открывается.\nСкриншот приложила.",
        "attachments": [
            {"filename": "screenshot.png", "content_type": "image/png", "size": 251_187},
            {"filename": "error.log", "content_type": "text/plain", "size": 812},
        ],
        "flags": ["nudge"],
    },
    "command_error": {
        "reply_kind": "o",  # what a reply does (notify.audience)
        "operator_name": "Иван Петров",
        "errors": [
            {"line": 2, "text": "#закрой", "reason": "unknown command #закрой"},
            {"line": 3, "text": "#объединить сорок", "reason": "#merge needs a number"},
        ],
    },
    "stranger_held": {
        "reply_kind": "n",  # what a reply does (notify.audience)
        "stranger": "eve@example.com",
        "customer": "anna@example.org",
        "held_id": 345,
        "text": "Это мой вопрос, отвечайте мне.\nЕва",
    },
    # To an operator who replied to the digest: about no ticket (issue 13).
    "digest_answer": {"reply_kind": "d"},
    # To the stranger: no "ticket", no "customer_name"; "subject" is this mail's own.
    "held_notice": {"subject": "Re: [#12] вопрос", "token": "[#12]"},
    # Asked for on the support page (issue 7): about no ticket, so it names none.
    "signin_link": {
        "subject": "Вход в техподдержку",
        "link": "https://support.example.net/signin/abc.def",
        "minutes": 30,
    },
}
# Mails to the operators' team: no greeting, no customer commands.
OPERATOR_KINDS = frozenset(
    {
        "escalation",
        "possible_repeat",
        "operator_message",
        "command_error",
        "stranger_held",
        "digest_answer",
    }
)
# Operator mails that end with the operators' command reference instead.
COMMAND_REFERENCE_KINDS = frozenset({"operator_message", "command_error"})
# Mails about many tickets: their context has no "ticket" and no "customer_name".
DIGEST_KINDS = frozenset({"escalation"})
# The answer to a stranger whose mail was held: nothing of the ticket, not even a "ticket" key.
STRANGER_KINDS = frozenset({"held_notice", "signin_link"})
# The answer to an operator's reply to the digest: about no ticket either.
ANSWER_KINDS = frozenset({"digest_answer"})
# Mails about no ticket at all: they carry no token.
TOKENLESS_KINDS = frozenset({"signin_link", "digest_answer"})


def context(kind: str, locale: str = "ru", **overrides: Any) -> dict[str, Any]:
    extra = copy.deepcopy(EXTRA[kind])  # tests change nested values; the table stays as is
    if kind in DIGEST_KINDS:
        ctx: dict[str, Any] = {
            "support_address": "support@example.net",
            "locale": locale,
            **extra,
        }
        for entry in ctx["tickets"]:
            entry["status_label"] = Status.AWAITING_OPERATOR.label(locale)
        ctx.update(overrides)
        return ctx
    if kind in STRANGER_KINDS | ANSWER_KINDS:
        ctx = {"support_address": "support@example.net", "locale": locale, **extra}
        ctx.update(overrides)
        return ctx
    ctx = {
        "ticket": {
            "number": 12,
            "subject": "Сайт не открывается",
            "token": "[#12]",
            "status": Status.AWAITING_OPERATOR.value,
            "status_label": Status.AWAITING_OPERATOR.label(locale),
        },
        "customer_name": "Анна",
        "support_address": "support@example.net",
        "locale": locale,
        **extra,
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


def test_every_kind_has_exactly_one_text_and_one_html_template() -> None:
    """Every kind of mail is written once, a text and an HTML template, for every language:
    no per-language copy (``ru/``, ``en/``) can come back beside it (issue 13)."""
    for kind in KINDS:
        for ext in ("txt", "html"):
            found = sorted(p.relative_to(ROOT) for p in ROOT.rglob(f"{kind}.{ext}"))
            assert found == [Path(f"{kind}.{ext}")], (kind, found)
    folders = sorted(p.name for p in ROOT.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert folders == ["locale"], "a language is a catalog in locale/, not a folder of copies"
    assert all(p.suffix == ".po" for p in (ROOT / "locale").iterdir())


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_both_locales(templates: Templates, kind: str, locale: str) -> None:
    """Every mail renders in both languages, names the ticket's token and loads nothing remote."""
    text, html = templates.render(kind, locale, context(kind, locale))

    assert text.strip() and html.strip()
    assert "<" not in text, "the text part is plain text"
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert f'<html lang="{locale}">' in html
    for part in (text, html):
        if kind not in TOKENLESS_KINDS:
            assert "[#12]" in part, "every mail names the token to keep in the subject"
        assert "support@example.net" in part
    # Plain and simple: nothing loaded from elsewhere, nothing executed.
    lowered = html.lower()
    for banned in ("<script", "<link", "<img", "<iframe", "src=", "url(", "javascript:"):
        assert banned not in lowered, banned


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    "kind",
    sorted(set(KINDS) - {"auto_closed", "confirm_address"} - OPERATOR_KINDS - STRANGER_KINDS),
)
def test_mails_about_an_open_ticket_explain_the_commands(
    templates: Templates, kind: str, locale: str
) -> None:
    """Mail about an open ticket tells the customer how to #close it and turn mail off."""
    for part in templates.render(kind, locale, context(kind, locale)):
        assert "#close" in part
        assert "#notify off" in part


@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_context_key_raises(templates: Templates, kind: str) -> None:
    # confirm_address goes to an address not yet confirmed, so it does not name the customer;
    # a digest is about many tickets and many customers; a stranger is told nothing of them.
    """A template missing a value it needs fails loudly, naming itself, never prints a blank."""
    common = ["support_address"]
    if kind != "confirm_address" and kind not in DIGEST_KINDS | STRANGER_KINDS | ANSWER_KINDS:
        common.append("customer_name")
    for key in [*common, *EXTRA[kind]]:
        ctx = context(kind)
        del ctx[key]
        with pytest.raises(UndefinedError):
            templates.render(kind, "ru", ctx)
    if kind in TOKENLESS_KINDS:
        return
    ctx = context(kind)
    if kind in DIGEST_KINDS:
        del ctx["tickets"][0]["token"]
    elif kind in STRANGER_KINDS:
        del ctx["token"]
    else:
        del ctx["ticket"]["token"]
    with pytest.raises(UndefinedError, match=rf"(ru/)?{kind}\.txt"):
        templates.render(kind, "ru", ctx)


def test_a_missing_status_label_raises(templates: Templates) -> None:
    """A mail without its status label fails instead of showing an empty status."""
    ctx = context("reopened")
    del ctx["ticket"]["status_label"]
    with pytest.raises(UndefinedError):
        templates.render("reopened", "en", ctx)


@pytest.mark.parametrize("kind", ["nope", "_base", "../ru/created", "created.txt", ""])
def test_unknown_kind_raises(templates: Templates, kind: str) -> None:
    """An unknown kind of mail, or a path-like name, is refused: no template is guessed."""
    with pytest.raises(UnknownTemplate, match="no e-mail template for kind"):
        templates.render(kind, "ru", context("reopened"))


def test_a_kind_whose_file_is_missing_raises_unknown_template(tmp_path: Path) -> None:
    """A template file missing from the folder is reported by its path."""
    with pytest.raises(UnknownTemplate, match=r"created\.txt"):
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
    """A customer's language is matched loosely ("en-US", "EN"); unknown ones get Russian."""
    assert resolve_locale(asked) == used
    ctx = context("reopened", used)
    assert templates.render("reopened", asked, ctx) == templates.render("reopened", used, ctx)


@pytest.mark.parametrize("locale", LOCALES)
def test_html_escapes_what_the_customer_wrote(templates: Templates, locale: str) -> None:
    """The customer's words, name and subject are escaped in HTML and kept as written in text."""
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
    """An operator's name and a status reason are escaped in the HTML part."""
    _, html = templates.render(
        "operator_reply", locale, context("operator_reply", locale, operator_name="<b>Eve</b>")
    )
    assert "<b>Eve</b>" not in html and "&lt;b&gt;Eve&lt;/b&gt;" in html
    ctx = context("status", locale, reason_code="admin", admin_reason="<i>because</i>")
    _, html = templates.render("status", locale, ctx)
    assert "<i>" not in html and "&lt;i&gt;because&lt;/i&gt;" in html


@pytest.mark.parametrize("locale", LOCALES)
def test_an_operator_reply_keeps_its_lines_in_both_parts(templates: Templates, locale: str) -> None:
    """An operator's reply reaches the customer line by line in both the text and HTML parts."""
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
    # The HTML keeps the line breaks the operator typed, as <br> (Outlook ignores pre-wrap).
    assert "pre-wrap" not in html
    assert "Добрый день!<br>\n<br>\nМы перезапустили PHP-FPM." in html


@pytest.mark.parametrize("locale", LOCALES)
def test_status_labels_come_from_the_context(templates: Templates, locale: str) -> None:
    """Status names come from the one label table, never from the template's own words."""
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
    """No template spells a status label itself: STATUS_LABELS is the one place for them."""
    source = path.read_text(encoding="utf-8")
    for labels in STATUS_LABELS.values():
        for label in labels.values():
            assert label not in source, f"{label!r} belongs in STATUS_LABELS, not in {path.name}"


@pytest.mark.parametrize("path", template_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_are_in_their_own_language(path: Path) -> None:
    """Russian templates are written in Russian, English ones carry no Russian."""
    source = path.read_text(encoding="utf-8")
    locale = path.parent.name
    if path.parent == ROOT:  # shared by all locales: words only as catalog msgids (issue 13)
        bare = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
        bare = re.sub(r"\{% trans.*?%\}.*?\{% endtrans %\}", "", bare, flags=re.S)
        bare = re.sub(r'(?:_|ngettext)\((?:\s*"(?:[^"\\]|\\.)*",?)+', "", bare)
        assert not CYRILLIC.search(source)
        assert not any(word in bare for word in ("Hello", "Ticket", "Status:", "Please")), bare
    elif locale == "en":
        assert not CYRILLIC.search(source), "English templates carry no Russian"
    elif not path.name.startswith("_quote"):
        assert CYRILLIC.search(source), "Russian templates are written in Russian"


ENGLISH_BOILERPLATE = ["Hello", "Dear", "ticket", "Ticket", "reply", "Please", "regards", "status"]
RUSSIAN_BOILERPLATE = ["Здравствуйте", "заявк", "уважением", "ответьте"]


@pytest.mark.parametrize("kind", KINDS)
def test_rendered_mails_do_not_mix_languages(templates: Templates, kind: str) -> None:
    """A rendered mail speaks one language: no English boilerplate in Russian mail or back."""
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
    """A customer without a name is greeted plainly, not "Здравствуйте, !"."""
    text, html = templates.render("reopened", locale, context("reopened", locale, customer_name=""))
    assert text.startswith(greeting + "\n")
    assert f">{greeting}</p>" in html
    named, _ = templates.render("reopened", locale, context("reopened", locale))
    assert "Анна" in named.splitlines()[0]


@pytest.mark.parametrize("locale", LOCALES)
def test_created_offers_the_faq_only_when_there_is_one(templates: Templates, locale: str) -> None:
    """The "created" mail lists matching FAQ entries with links, and only when some match."""
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
    """Every text part ends with the support address, without blank-line runs or trailing spaces."""
    for kind in KINDS:
        for locale in LOCALES:
            text, _ = templates.render(kind, locale, context(kind, locale))
            assert "\n\n\n" not in text, (kind, locale)
            assert text.endswith("support@example.net\n"), (kind, locale)
            assert all(line == line.rstrip() or line == "-- " for line in text.splitlines())


def test_confirm_address_says_how_to_confirm_and_what_if_not(templates: Templates) -> None:
    """The confirmation mail says to reply to confirm the new address, or to ignore it."""
    text, _ = templates.render("confirm_address", "ru", context("confirm_address"))
    assert "new@example.org" in text and "ответьте на это письмо" in text
    assert "проигнорируйте" in text
    text, _ = templates.render("confirm_address", "en", context("confirm_address", "en"))
    assert "new@example.org" in text and "reply to this email" in text and "ignore" in text


@pytest.mark.parametrize(
    ("n", "word"),
    [
        (0, "заявок"),
        (1, "заявка"),
        (2, "заявки"),
        (4, "заявки"),
        (5, "заявок"),
        (11, "заявок"),
        (12, "заявок"),
        (14, "заявок"),
        (21, "заявка"),
        (22, "заявки"),
        (30, "заявок"),
        (101, "заявка"),
        (111, "заявок"),
    ],
)
def test_plural_ru(n: int, word: str) -> None:
    """Russian counts take the catalog's right form: 1 заявка, 2 заявки, 5 заявок, 21 заявка,
    11 заявок (the Plural-Forms rule of locale/ru.po, no hand-written rule)."""
    ru = translations(ROOT, "ru")
    assert ru.ngettext("%(num)d ticket", "%(num)d tickets", n) % {"num": n} == f"{n} {word}"


def test_plural_en() -> None:
    """English counts take the right form: 1 ticket, 0 or 2 tickets (the msgids)."""
    en = translations(ROOT, "en")
    said = [en.ngettext("%(num)d ticket", "%(num)d tickets", n) % {"num": n} for n in (0, 1, 2, 21)]
    assert said == ["0 tickets", "1 ticket", "2 tickets", "21 tickets"]


def test_day_counts_read_naturally(templates: Templates) -> None:
    """Reminders and auto-close mail say "через 1 день", "31 день", "in 1 day" naturally."""
    text, _ = templates.render("reminder", "ru", context("reminder", days_left=1))
    assert "через 1 день" in text
    text, _ = templates.render("auto_closed", "ru", context("auto_closed", days=31))
    assert "31 день" in text and "до 15 января 2027 г." in text
    text, _ = templates.render("reminder", "en", context("reminder", "en", days_left=1))
    assert "in 1 day," in text


def between_tokens(part: str, tokens: list[str]) -> list[str]:
    """The stretch of a digest from each token to the next, in the order the tokens appear."""
    starts = sorted(part.index(token) for token in tokens)
    return [part[a:b] for a, b in zip(starts, [*starts[1:], len(part)], strict=True)]


TAG = re.compile(r"<[^>]+>")


@pytest.mark.parametrize(
    ("locale", "lead", "waited", "nudged"),
    [
        ("ru", "дольше 24 ч.: 3 заявки", "Ждёт ответа: {} ч.", "спрашивал о новостях:"),
        ("en", "more than 24 hours: 3 tickets", "Waiting: {} hours", "asked for an update:"),
    ],
    ids=["ru", "en"],
)
@pytest.mark.parametrize("given", ["oldest_first", "newest_first"])
def test_escalation_lists_every_ticket_oldest_first(
    templates: Templates, locale: str, lead: str, waited: str, nudged: str, given: str
) -> None:
    """The digest counts the tickets, names the threshold and lists each one, oldest first."""
    ctx = context("escalation", locale)
    assert "ticket" not in ctx and "customer_name" not in ctx
    listed = ctx["tickets"]
    if given == "newest_first":  # the order holds even if a caller forgets to sort
        ctx["tickets"] = listed[::-1]
    text, html = templates.render("escalation", locale, ctx)

    tokens = [t["token"] for t in listed]
    for part in (text, TAG.sub("", html)):
        assert lead in part, "how many tickets, and the threshold"
        assert sorted(tokens, key=part.index) == tokens, "oldest first"
        for entry, stretch in zip(listed, between_tokens(part, tokens), strict=True):
            assert entry["subject"] in stretch and entry["customer"] in stretch
            assert entry["status_label"] in stretch
            assert waited.format(entry["waiting_hours"]) in stretch
            # Only a ticket whose customer asked "any update?" gets the line.
            if entry["nudges"]:
                assert f"{nudged} {entry['nudges']} " in stretch
            else:
                assert nudged not in stretch


@pytest.mark.parametrize(
    ("locale", "n", "says"),
    [
        ("ru", 1, ["дольше 1 ч.: 1 заявка.", "Ждёт ответа: 1 ч.\n", "о новостях: 1 раз\n"]),
        ("ru", 3, ["дольше 3 ч.: 3 заявки.", "Ждёт ответа: 3 ч.\n", "о новостях: 3 раза\n"]),
        ("ru", 5, ["дольше 5 ч.: 5 заявок.", "Ждёт ответа: 5 ч.\n", "о новостях: 5 раз\n"]),
        ("ru", 21, ["дольше 21 ч.: 21 заявка.", "о новостях: 21 раз\n"]),
        ("en", 1, ["more than 1 hour: 1 ticket.", "Waiting: 1 hour\n", "update: 1 time\n"]),
        ("en", 2, ["more than 2 hours: 2 tickets.", "Waiting: 2 hours\n", "update: 2 times\n"]),
    ],
    ids=["ru-1", "ru-3", "ru-5", "ru-21", "en-1", "en-2"],
)
def test_escalation_counts_read_naturally(
    templates: Templates, locale: str, n: int, says: list[str]
) -> None:
    """Tickets, hours and nudges take the plural their number asks for."""
    entry = {**context("escalation", locale)["tickets"][0], "waiting_hours": n, "nudges": n}
    listed = [{**entry, "number": k, "token": f"[#{k}]"} for k in range(12, 12 + n)]
    text, _ = templates.render(
        "escalation", locale, context("escalation", locale, hours=n, tickets=listed)
    )
    for phrase in says:
        assert phrase in text, phrase


@pytest.mark.parametrize(
    "key", ["token", "subject", "customer", "status_label", "waiting_hours", "nudges"]
)
def test_escalation_needs_every_field_of_a_listed_ticket(templates: Templates, key: str) -> None:
    """A listed ticket without a field the digest shows fails loudly, naming the template."""
    ctx = context("escalation")
    del ctx["tickets"][-1][key]
    with pytest.raises(UndefinedError, match=r"escalation\.txt"):
        templates.render("escalation", "ru", ctx)


@pytest.mark.parametrize(
    ("locale", "says"),
    [
        (
            "ru",
            [
                "Новая заявка",
                "от клиента Анна (anna@example.org)",
                "за последние 30 дней",
                "сходство",
                "связаны",
            ],
        ),
        (
            "en",
            [
                "New ticket",
                "from Анна (anna@example.org)",
                "within the last 30 days",
                "similar",
                "linked",
            ],
        ),
    ],
    ids=["ru", "en"],
)
def test_possible_repeat_names_both_tickets_and_the_new_text(
    templates: Templates, locale: str, says: list[str]
) -> None:
    """Both numbers and subjects, the customer, the similarity, the window, the link, the text."""
    text, html = templates.render("possible_repeat", locale, context("possible_repeat", locale))
    for part in (text, html):
        assert "[#12]" in part and "#7" in part, "both ticket numbers"
        assert "Сайт не открывается" in part and "Сайт не работает" in part, "both subjects"
        assert "87%" in part
        for phrase in says:
            assert phrase in part, phrase
        for line in EXTRA["possible_repeat"]["text"].splitlines():
            assert line in part
    assert text.index("[#12]") < text.index("#7"), "the new ticket is named first"
    # No name on file: the address alone, without empty brackets.
    text, html = templates.render(
        "possible_repeat", locale, context("possible_repeat", locale, customer_name="")
    )
    for part in (text, html):
        assert "anna@example.org" in part and "()" not in part and "( " not in part


# The customer's command block (_reply.*), which no operator mail carries.
CUSTOMER_COMMANDS = {"ru": "если вопрос решён", "en": "if your issue is solved"}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", sorted(OPERATOR_KINDS))
def test_operator_mails_do_not_talk_to_a_customer(
    templates: Templates, kind: str, locale: str
) -> None:
    """Operators get no greeting and no customer commands (#close, #notify off): at most the
    operators' own command reference."""
    for part in templates.render(kind, locale, context(kind, locale)):
        assert "Здравствуйте" not in part and "Hello" not in part
        assert CUSTOMER_COMMANDS[locale] not in part
        if kind not in COMMAND_REFERENCE_KINDS:
            assert "#close" not in part and "#notify off" not in part


@pytest.mark.parametrize("locale", LOCALES)
def test_operator_mails_escape_what_customers_wrote(templates: Templates, locale: str) -> None:
    """Subjects, names, addresses and text from customers are escaped in HTML, kept in text."""
    evil = '<script>alert("x")</script> & Co'
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co"

    ctx = context("escalation", locale)
    ctx["tickets"][1]["subject"] = evil
    ctx["tickets"][2]["customer"] = evil
    text, html = templates.render("escalation", locale, ctx)
    assert "<script" not in html and html.count(escaped) == 2  # the subject, the customer
    assert text.count(evil) == 2

    ctx = context("possible_repeat", locale, old_subject=evil, text=evil, customer_name=evil)
    ctx["ticket"]["subject"] = evil
    text, html = templates.render("possible_repeat", locale, ctx)
    # The new subject in the title, the header and the body; the old subject; the name; the text.
    assert "<script" not in html and html.count(escaped) == 6
    assert text.count(evil) == 4
    assert "&lt;" not in text and "&amp;" not in text


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_duplicate_after_a_merge_names_both_tickets(templates: Templates, locale: str) -> None:
    """A merge by the dedup sweep tells the customer which ticket went where, in both parts."""
    merged = context("duplicate", locale, original_number=12, merged_number=15)
    plain = context("duplicate", locale, original_number=12)
    for part in templates.render("duplicate", locale, merged):
        assert "#15" in part and "#12" in part
    text, _ = templates.render("duplicate", locale, plain)
    assert "#15" not in text and "#12" in text


OPERATOR_COMMANDS = {
    "ru": [
        "#взять",
        "#статус in_progress|awaiting_customer|awaiting_operator",
        "#закрыть",
        "#admin-close",
        "#заметка",
        "#назначить",
        "#объединить",
        "#уведомления on|off",
    ],
    "en": [
        "#take",
        "#status in_progress|awaiting_customer|awaiting_operator",
        "#close",
        "#admin-close",
        "#note",
        "#assign",
        "#merge",
        "#notify on|off",
    ],
}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", sorted(COMMAND_REFERENCE_KINDS))
def test_operator_mails_carry_the_command_reference(
    templates: Templates, kind: str, locale: str
) -> None:
    """Every operator command, in the mail's language, and what a plain reply does."""
    stripped = {"ru": "цитаты и подпись будут убраны", "en": "quoted text and your signature"}
    for part in templates.render(kind, locale, context(kind, locale)):
        part = TAG.sub("", part)
        for command in OPERATOR_COMMANDS[locale]:
            assert command in part, command
        assert stripped[locale] in part


FOLLOW_UP_IS_NEW = {"created", "follow_up"}


@pytest.mark.parametrize(
    ("locale", "says"),
    [
        (
            "ru",
            {
                "created": "Новая заявка [#12]",
                "message": "Новое сообщение клиента в заявке [#12]",
                "reopened": "заявка возобновлена",
                "follow_up": "продолжение закрытой заявки #7",
            },
        ),
        (
            "en",
            {
                "created": "New ticket [#12]",
                "message": "New message from the customer in ticket [#12]",
                "reopened": "has been reopened",
                "follow_up": "a follow-up of the closed ticket #7",
            },
        ),
    ],
    ids=["ru", "en"],
)
def test_operator_message_says_what_happened(
    templates: Templates, locale: str, says: dict[str, str]
) -> None:
    """New ticket, new message, reopened, follow-up of #N: each says so, and only that."""
    for event, phrase in says.items():
        extra = {"old_number": 7} if event == "follow_up" else {}
        ctx = context("operator_message", locale, event=event, **extra)
        for part in templates.render("operator_message", locale, ctx):
            part = TAG.sub("", part)
            assert phrase in part, (event, phrase)
            assert ctx["ticket"]["status_label"] in part
            # A follow-up is a new ticket too; otherwise no mail says another event's words.
            others = [p for e, p in says.items() if e != event and {e, event} != FOLLOW_UP_IS_NEW]
            assert not any(other in part for other in others), event
    # A follow-up without the closed ticket's number fails loudly.
    with pytest.raises(UndefinedError, match=r"operator_message\.txt"):
        templates.render(
            "operator_message", locale, context("operator_message", locale, event="follow_up")
        )


@pytest.mark.parametrize(
    ("locale", "guest", "verified"),
    [("ru", "гость", "подтверждённая учётная запись №42"), ("en", "guest", "verified account #42")],
    ids=["ru", "en"],
)
def test_operator_message_tells_a_verified_customer_from_a_guest(
    templates: Templates, locale: str, guest: str, verified: str
) -> None:
    """An operator sees whether the customer is a verified account (with its number) or a guest."""
    for part in templates.render("operator_message", locale, context("operator_message", locale)):
        part = TAG.sub("", part)
        assert verified in part and "anna@example.org" in part and "Анна" in part
        assert guest not in part
    ctx = context("operator_message", locale, customer_verified=False)
    for part in templates.render("operator_message", locale, ctx):
        part = TAG.sub("", part)
        assert guest in part and "42" in part
        assert verified not in part


@pytest.mark.parametrize(
    ("locale", "sizes", "heading"),
    [
        ("ru", ["245,3 КБ", "812 байт", "3,3 МБ", "1 байт"], "Вложения (4)"),
        ("en", ["245.3 KB", "812 bytes", "3.3 MB", "1 byte"], "Attachments (4)"),
    ],
    ids=["ru", "en"],
)
def test_operator_message_lists_the_attachments_with_sizes(
    templates: Templates, locale: str, sizes: list[str], heading: str
) -> None:
    """An operator sees each attachment's name and size, in bytes, KB or MB of their language."""
    attachments = [
        *EXTRA["operator_message"]["attachments"],
        {"filename": "backup.zip", "content_type": "application/zip", "size": 3_500_000},
        {"filename": "empty.txt", "content_type": "text/plain", "size": 1},
    ]
    ctx = context("operator_message", locale, attachments=attachments)
    text, html = templates.render("operator_message", locale, ctx)
    for part in (text, html):
        assert heading in part
        for entry, size in zip(attachments, sizes, strict=True):
            assert entry["filename"] in part and entry["content_type"] in part
            assert f"{entry['content_type']}, {size}" in part, size
        names = [entry["filename"] for entry in attachments]
        assert sorted(names, key=part.index) == names, "in the order they came"
    # No attachments: no empty heading.
    ctx = context("operator_message", locale, attachments=[])
    for part in templates.render("operator_message", locale, ctx):
        assert heading.split(" (")[0] not in part


@pytest.mark.parametrize(
    ("locale", "nudge", "heading"),
    [
        ("ru", "клиент спрашивает о новостях", "Отметки"),
        ("en", "the customer asks for news", "Marked"),
    ],
    ids=["ru", "en"],
)
def test_operator_message_explains_the_flags(
    templates: Templates, locale: str, nudge: str, heading: str
) -> None:
    """An operator sees what each flag means ("nudge"); an unknown flag is shown as it is."""
    for part in templates.render("operator_message", locale, context("operator_message", locale)):
        assert f"{heading}: " in part and nudge in part
    ctx = context("operator_message", locale, flags=["nudge", "something_new"])
    for part in templates.render("operator_message", locale, ctx):
        assert nudge in part and "something_new" in part, "an unknown flag is shown as it is"
    ctx = context("operator_message", locale, flags=[])
    for part in templates.render("operator_message", locale, ctx):
        assert heading not in part


@pytest.mark.parametrize("locale", LOCALES)
def test_operator_message_keeps_the_whole_text_and_its_lines(
    templates: Templates, locale: str
) -> None:
    """An operator gets the customer's whole text, signature and line breaks included."""
    message = "Добрый день!\n\nСайт <снова> не открывается & почта тоже.\n\n-- \nАнна"
    ctx = context("operator_message", locale, text=message)
    text, html = templates.render("operator_message", locale, ctx)
    # The whole text, signature included, quoted: "-- " never stands bare (issue 13).
    assert "\n".join(f"> {x}".rstrip() if x else ">" for x in message.splitlines()) in text
    assert "\n-- \n" not in text
    assert str(escape(message)).replace("\n", "<br>\n") in html
    assert "pre-wrap" not in html


@pytest.mark.parametrize(
    ("locale", "lines", "says"),
    [
        (
            "ru",
            ["Строка 2: #закрой", "Строка 3: #объединить сорок"],
            ["в командах 2 ошибки", "Ничего не изменилось", "клиенту ничего не отправлено"],
        ),
        (
            "en",
            ["Line 2: #закрой", "Line 3: #объединить сорок"],
            [
                "its commands have 2 errors",
                "Nothing has changed",
                "nothing was sent to the customer",
            ],
        ),
    ],
    ids=["ru", "en"],
)
def test_command_error_names_each_wrong_line_and_why(
    templates: Templates, locale: str, lines: list[str], says: list[str]
) -> None:
    """Which line, as written, why; that nothing changed; how to fix it."""
    fix = {"ru": "отправьте ответ ещё раз", "en": "send your reply again"}
    text, html = templates.render("command_error", locale, context("command_error", locale))
    for part in (text, TAG.sub("", html)):
        for line, error in zip(lines, EXTRA["command_error"]["errors"], strict=True):
            assert line in part, line
            assert error["reason"] in part.split(line, 1)[1].split("\n")[1], "the reason follows"
        for phrase in [*says, fix[locale], "Иван Петров", "[#12]"]:
            assert phrase in part, phrase
    one = [EXTRA["command_error"]["errors"][0]]
    text, _ = templates.render(
        "command_error", locale, context("command_error", locale, errors=one)
    )
    assert {"ru": "1 ошибка.", "en": "1 error."}[locale] in text
    assert lines[1] not in text


@pytest.mark.parametrize(
    ("locale", "says"),
    [
        ("ru", ["eve@example.com", "Клиент заявки: Анна (anna@example.org)", "№345"]),
        ("en", ["eve@example.com", "The ticket's customer: Анна (anna@example.org)", "345"]),
    ],
    ids=["ru", "en"],
)
def test_stranger_held_names_the_held_message_and_how_to_decide(
    templates: Templates, locale: str, says: list[str]
) -> None:
    """Operators told of a held stranger's mail see who wrote, to whose ticket, and the commands."""
    text, html = templates.render("stranger_held", locale, context("stranger_held", locale))
    for part in (text, TAG.sub("", html)):
        for phrase in says:
            assert phrase in part, phrase
        for command in (
            "helpdesk held list",
            "helpdesk held accept 345",
            "helpdesk held reject 345",
        ):
            assert command in part, command
        for line in EXTRA["stranger_held"]["text"].splitlines():
            assert line in part


@pytest.mark.parametrize("locale", LOCALES)
def test_held_notice_tells_the_stranger_nothing_about_the_ticket(
    templates: Templates, locale: str
) -> None:
    """The stranger is not the ticket's customer: the token they wrote, and nothing more."""
    ctx = context("held_notice", locale)
    assert "ticket" not in ctx and "customer_name" not in ctx
    # Whatever a careless caller might add is not rendered: the template names none of it.
    leaks = {
        "ticket_subject": "Сайт не открывается",
        "customer": "anna@example.org",
        "customer_name": "Анна",
        "status_label": Status.AWAITING_OPERATOR.label(locale),
        "text": "Ошибка 502 с утра.",
    }
    says = {
        "ru": ["упомянут номер [#12]", "другому отправителю", "передано оператору", "не указывая"],
        "en": ["mentioning [#12]", "another sender", "passed to an operator", "without the number"],
    }
    for part in templates.render("held_notice", locale, {**ctx, **leaks}):
        part = TAG.sub("", part)
        for phrase in says[locale]:
            assert phrase in part, phrase
        for value in leaks.values():
            assert value not in part, value
        for labels in STATUS_LABELS.values():
            assert labels[locale] not in part
        assert "#close" not in part and "#notify" not in part


@pytest.mark.parametrize("locale", LOCALES)
def test_held_notice_escapes_html(templates: Templates, locale: str) -> None:
    """What a stranger wrote is escaped in the HTML of our answer to them."""
    evil = '<script>alert("x")</script> & Co'
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co"
    ctx = context("held_notice", locale, subject=evil, token=f"[#12] {evil}")
    text, html = templates.render("held_notice", locale, ctx)
    assert "<script" not in html and escaped in html
    assert evil in text and "&lt;" not in text


@pytest.mark.parametrize("locale", LOCALES)
def test_new_operator_mails_escape_what_others_wrote(templates: Templates, locale: str) -> None:
    """Customer, stranger and operator input is escaped in HTML and kept as written in text."""
    evil = '<script>alert("x")</script> & Co'
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co"
    attachment = {"filename": evil, "content_type": "text/html", "size": 10}
    cases = {
        "operator_message": {
            "text": evil,
            "customer": evil,
            "attachments": [attachment],
            "flags": [evil],
        },
        "command_error": {
            "operator_name": evil,
            "errors": [{"line": 1, "text": evil, "reason": evil}],
        },
        "stranger_held": {"stranger": evil, "text": evil},
    }
    for kind, overrides in cases.items():
        text, html = templates.render(kind, locale, context(kind, locale, **overrides))
        assert "<script" not in html, kind
        # One per value in the body (a list holds one each).
        assert html.count(escaped) >= len(overrides), kind
        assert text.count(evil) >= len(overrides), kind
        assert "&lt;" not in text and "&amp;" not in text, kind


@pytest.mark.parametrize("locale", LOCALES)
def test_the_shared_command_reference_leaves_each_mail_its_own_reply_sentence(
    templates: Templates, locale: str
) -> None:
    """The reference is rendered once per language (issue 16); what a reply does is still each
    mail's own: a team copy names its own ticket, an operator's copy speaks to that operator."""
    team = {**context("operator_message", locale), "reply_kind": "n"}
    other = {**team, "ticket": {**team["ticket"], "token": "[#99]"}}
    mine = {**team, "reply_kind": "o"}
    rendered = [templates.render("operator_message", locale, c) for c in (team, other, mine)]
    for i in (0, 1):  # text and HTML
        team_part, other_part, mine_part = (TAG.sub("", r[i]) for r in rendered)
        assert "[#99]" in other_part and "[#99]" not in team_part
        assert "[#12]" not in other_part  # nothing of the first mail rendered stays in the next
        assert other_part.count("[#99]") == team_part.count("[#12]")
        assert "[#99]" not in mine_part and team_part != mine_part
        for part in (team_part, other_part, mine_part):
            for command in OPERATOR_COMMANDS[locale]:
                assert command in part, command


@pytest.mark.parametrize(
    "text",
    [
        "",
        "one line",
        "a < b & c > d\n\"quoted\" and 'single'\n",
        "crlf\r\nand cr\rand lf\n\nblank above\u2028line separator\x0bvertical tab",
        "<script>alert(1)</script>\n&amp; already escaped?\n",
    ],
)
def test_br_escapes_every_line_and_breaks_them(text: str) -> None:
    """What a customer wrote shows in HTML as written: each line escaped, a <br> between."""
    lines = text.splitlines()
    assert br(text) == "<br>\n".join(str(escape(line)) for line in lines)
    assert isinstance(br(text), Markup)
    assert "<script>" not in br(text)
