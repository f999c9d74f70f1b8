"""``_("...")`` is translated when a template compiles.

Every language has a jinja2 environment of its own (``notify.render``), so the
translation of a literal is known before any mail is rendered. At render time
the i18n extension's newstyle gettext costs three context calls, a catalog
lookup and a ``Markup`` for every sentence, and a notification says a dozen or
more in each of its two parts: the same words, worked out again for every mail
(issue 16).

- ``{{ _("literal") }}`` becomes the translated text itself.
- ``_("literal", name=value, ...)`` anywhere else becomes
  ``("translation"|pretranslated(name=value, ...))``: the filter formats it as
  newstyle gettext does (``Markup`` where autoescape is on, then ``%``), without
  the lookup; a jinja2 filter is a plain call, not a context call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.nodes import EvalContext
from jinja2.utils import pass_eval_context
from markupsafe import Markup

_SHAPE = ("variable_begin", "name", "lparen", "string", "rparen", "variable_end")
FILTER = "pretranslated"


@pass_eval_context
def pretranslated(eval_ctx: EvalContext, translated: str, /, **variables: Any) -> str:
    """What newstyle gettext returns for a text already translated (positional: a
    template's variable may be called ``text``)."""
    rv = Markup(translated) if eval_ctx.autoescape else translated
    return rv % variables


class Pretranslated(Extension):
    """Needs ``environment.pretranslate``: the language's ``gettext``; None leaves all."""

    def __init__(self, environment: object) -> None:
        super().__init__(environment)  # type: ignore[arg-type]
        environment.extend(pretranslate=None)  # type: ignore[attr-defined]
        environment.filters[FILTER] = pretranslated  # type: ignore[attr-defined]

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        translate: Callable[[str], str] | None = self.environment.pretranslate  # type: ignore[attr-defined]
        tokens = list(stream)
        if translate is None:
            yield from tokens
            return
        depth = 0  # parentheses open in the source
        closes: list[int] = []  # depths whose closing parenthesis closes a rewritten call too
        i = 0
        while i < len(tokens):
            token = tokens[i]
            text = _literal(tokens[i : i + len(_SHAPE)], translate)
            if text is not None:
                yield Token(token.lineno, "data", text)  # output as it is, as gettext's Markup
                i += len(_SHAPE)
                continue
            call = _call(tokens[i : i + 4])
            if call is not None:
                line = token.lineno
                yield Token(line, "lparen", "(")
                yield Token(line, "string", translate(call))
                yield Token(line, "pipe", "|")
                yield Token(line, "name", FILTER)
                if tokens[i + 3].type == "comma":  # the variables follow: the filter's own
                    yield Token(line, "lparen", "(")
                    depth += 1
                    closes.append(depth)
                else:
                    yield Token(line, "rparen", ")")
                i += 4
                continue
            if token.type == "lparen":
                depth += 1
            elif token.type == "rparen":
                if closes and closes[-1] == depth:
                    closes.pop()
                    yield token
                    token = Token(token.lineno, "rparen", ")")
                depth -= 1
            yield token
            i += 1


def _literal(window: list[Token], translate: Callable[[str], str]) -> str | None:
    """The translated text of ``{{ _("...") }}``, formatted as newstyle gettext formats it
    (``%%`` is a percent sign); None for anything else."""
    if tuple(t.type for t in window) != _SHAPE or window[1].value != "_":
        return None
    try:
        return translate(window[3].value) % {}
    except (KeyError, TypeError, ValueError):  # it names a variable: formatted at render
        return None


def _call(window: list[Token]) -> str | None:
    """The message id of ``_("...",`` or ``_("...")``; None for anything else."""
    if len(window) < 4 or window[0].type != "name" or window[0].value != "_":
        return None
    if window[1].type != "lparen" or window[2].type != "string":
        return None
    return window[2].value if window[3].type in ("comma", "rparen") else None
