"""Notification templates: one ``.txt`` and one ``.html`` per kind, for every locale.

The mail is sent as multipart/alternative, so both parts come from the same
context and must say the same thing. Templates never spell a status label: the
caller localizes it from :data:`gateway.desk.model.STATUS_LABELS` and passes it
in, so a label changes in one place. Rendering is strict (``StrictUndefined``):
a template that asks for a name the caller did not provide fails loudly in the
tests instead of mailing a customer a blank.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from importlib.resources import files
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    UndefinedError,
    select_autoescape,
)
from markupsafe import Markup, escape

from gateway.notify.catalogs import translations
from gateway.notify.pretranslate import Pretranslated

KINDS: tuple[str, ...] = (
    "created",
    "status",
    "operator_reply",
    "reopened",
    "follow_up",
    "locked_follow_up",
    "auto_closed",
    "duplicate",
    "reminder",
    "confirm_address",
    "escalation",
    "possible_repeat",
    "operator_message",
    "command_error",
    "stranger_held",
    "held_notice",
    "imported",
    "signin_link",
    "digest_answer",
)

LOCALES: tuple[str, ...] = ("ru", "en")
DEFAULT_LOCALE = "ru"


class UnknownTemplate(LookupError):
    """Asked for a kind of notification that has no templates."""


def default_root() -> Path:
    """The templates shipped inside the package (package data: a wheel installs them)."""
    return Path(str(files("gateway.notify") / "templates"))


_MONTHS = {
    "ru": (
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def long_date(iso: str, locale: str) -> str:
    """A date as people of the locale write it: "15 января 2027 г." / "15 January 2027"
    (never 15.01.2027, which an English reader may take for another day)."""
    text = str(iso)
    if len(text) >= 10 and text[2] == "." and text[5] == ".":  # 14.05.2025, as rows had it
        text = f"{text[6:10]}-{text[3:5]}-{text[0:2]}"
    day = date.fromisoformat(text[:10])
    month = _MONTHS[resolve_locale(locale)][day.month - 1]
    suffix = " г." if resolve_locale(locale) == "ru" else ""
    return f"{day.day} {month} {day.year}{suffix}"


def quote(text: str) -> str:
    """Someone else's text in a plain-text mail: each line behind "> ", as mail clients
    quote, so a customer's "-- " signature line never reads as our signature."""
    return "\n".join(f"> {line}".rstrip() if line else ">" for line in text.splitlines())


def br(text: str) -> Markup:
    """Plain text in HTML: escaped, line breaks as <br> (Outlook for Windows ignores
    ``white-space: pre-wrap``)."""
    # Escaping touches no line break, so the whole text is escaped at once and then cut:
    # the same as line by line, without a Markup per line of a customer's text.
    return Markup("<br>\n".join(str(escape(str(text))).splitlines()))


def decimal(value: float, locale: str) -> str:
    """A size as the locale writes it, one decimal: 245.3 in English, 245,3 in Russian."""
    return format_decimal(value, format="0.0", locale=resolve_locale(locale))


def resolve_locale(locale: str) -> str:
    """A customer's locale may come as ``en-US`` or something we do not ship; Russian is the
    desk's default language, so anything unknown gets Russian rather than an error."""
    lang = (locale or "").strip().lower().replace("_", "-").split("-")[0]
    return lang if lang in LOCALES else DEFAULT_LOCALE


class Templates:
    """One jinja2 environment per language over a template root, reused for every mail.

    Every kind is written once (``<kind>.txt``, ``<kind>.html`` at the root) and
    rendered through that language's gettext catalog (``notify.catalogs``): there
    is no copy per language, so a third language is a catalog, not a fork.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._references: dict[tuple[str, str], str] = {}
        self.envs = {lang: self._environment(lang) for lang in LOCALES}
        self.env = self.envs[DEFAULT_LOCALE]

    def _environment(self, lang: str) -> Environment:
        env = Environment(
            loader=FileSystemLoader(self.root),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            # Block tags on their own line leave no blank line behind: the text part is
            # read as plain text, so stray whitespace would show.
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n", Pretranslated],
            # Templates are read once per process: a stat of both files for every mail
            # was 3 % of the builder's CPU (issue 16). A changed template needs a restart.
            auto_reload=False,
        )
        catalog = translations(self.root, lang)
        env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
        env.pretranslate = catalog.gettext  # type: ignore[attr-defined]  # notify.pretranslate
        env.filters.update(
            long_date=long_date,
            quote=quote,
            br=br,
            decimal=decimal,
        )
        env.globals["reference"] = partial(self._reference, lang)
        return env

    def _reference(self, lang: str, name: str) -> str:
        """A partial that reads the same in every mail of a language, rendered once.

        The operators' command reference is some thirty translated strings: rendering
        it for every operator_message was 40 % of building one (issue 16). It sees
        only ``lang``; Markup for HTML, so the caller's autoescape leaves it whole.
        """
        key = (lang, name)
        if key not in self._references:
            text = self._render_one(lang, name, {"lang": lang})
            self._references[key] = Markup(text) if name.endswith(".html") else text
        return self._references[key]

    def render(self, kind: str, locale: str, context: dict[str, Any]) -> tuple[str, str]:
        """Return ``(text, html)`` for one notification.

        Raises :class:`UnknownTemplate` for a kind we do not send, and
        :class:`jinja2.UndefinedError` (naming the template) when the context lacks a
        name the template uses.
        """
        if kind not in KINDS:
            raise UnknownTemplate(
                f"no e-mail template for kind {kind!r}; known kinds: {', '.join(KINDS)}"
            )
        lang = resolve_locale(locale)
        context = {**context, "lang": lang}
        return (
            self._render_one(lang, f"{kind}.txt", context),
            self._render_one(lang, f"{kind}.html", context),
        )

    def _render_one(self, lang: str, name: str, context: dict[str, Any]) -> str:
        try:
            template = self.envs[lang].get_template(name)
        except TemplateNotFound as exc:
            raise UnknownTemplate(f"e-mail template {name!r} is missing under {self.root}") from exc
        try:
            return template.render(context)
        except UndefinedError as exc:
            raise UndefinedError(f"{name}: {exc.message}") from exc
