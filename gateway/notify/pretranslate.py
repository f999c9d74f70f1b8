"""``{{ _("literal") }}`` becomes its translation when a template compiles.

Every language has a jinja2 environment of its own (``notify.render``), so the
translation of a literal is known before any mail is rendered. At render time
the i18n extension's newstyle gettext costs a context call, a catalog lookup
and a ``Markup`` for every sentence, and a notification says a dozen or more
in each of its two parts: the same words, worked out again for every mail
(issue 16). A sentence with variables, or inside a larger expression, is left
to gettext at render time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream

_SHAPE = ("variable_begin", "name", "lparen", "string", "rparen", "variable_end")


class Pretranslated(Extension):
    """Needs ``environment.pretranslate``: the language's ``gettext``; None leaves all."""

    def __init__(self, environment: object) -> None:
        super().__init__(environment)  # type: ignore[arg-type]
        environment.extend(pretranslate=None)  # type: ignore[attr-defined]

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        translate: Callable[[str], str] | None = self.environment.pretranslate  # type: ignore[attr-defined]
        tokens = list(stream)
        i = 0
        while i < len(tokens):
            window = tokens[i : i + len(_SHAPE)]
            text = _literal(window, translate) if translate else None
            if text is None:
                yield tokens[i]
                i += 1
                continue
            yield Token(window[0].lineno, "data", text)  # output as it is, as gettext's Markup
            i += len(_SHAPE)


def _literal(window: list[Token], translate: Callable[[str], str]) -> str | None:
    """The translated text of ``{{ _("...") }}``, formatted as newstyle gettext formats it
    (``%%`` is a percent sign); None for anything else."""
    if tuple(t.type for t in window) != _SHAPE or window[1].value != "_":
        return None
    try:
        return translate(window[3].value) % {}
    except (KeyError, TypeError, ValueError):  # it names a variable: gettext says so at render
        return None
