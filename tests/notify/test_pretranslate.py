"""Translating ``_("...")`` when a template compiles changes no word of any mail.

``notify.pretranslate`` rewrites the templates' gettext calls before they compile
(issue 16). A customer must get the same letter as gettext at render time would
write: every kind, both languages, with names and texts that HTML must escape,
with and without a greeting's name, and every event of an operator's copy.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.notify.render import KINDS, LOCALES, Templates, default_root
from tests.notify.test_render import context

EVIL = '<b>Анна & "Co"</b> 100% {{ x }}'
VARIANTS: dict[str, dict[str, Any]] = {
    "as in the tests": {},
    "no name": {"customer_name": ""},
    "a name HTML must escape": {"customer_name": EVIL},
}
OPERATOR_VARIANTS: dict[str, dict[str, Any]] = {
    **{
        f"event {e}": {"event": e, "old_number": 7}
        for e in ("created", "reopened", "follow_up", "message")
    },
    "a guest, every flag": {
        "customer_verified": False,
        "flags": ["nudge", "duplicate", "auto", EVIL],
        "text": EVIL,
        "customer": EVIL,
        "old_number": 7,
    },
    "a byte, a kilobyte, a megabyte": {
        "attachments": [
            {"filename": EVIL, "content_type": "text/plain", "size": size}
            for size in (1, 812, 2_500_000)
        ]
    },
}


@pytest.fixture(scope="module")
def both() -> tuple[Templates, Templates]:
    """Templates as serve makes them, and the same with gettext at render time only."""
    plain = Templates(default_root())
    for env in plain.envs.values():
        env.pretranslate = None  # before any template compiles: nothing is rewritten
    return Templates(default_root()), plain


def _cases() -> list[tuple[str, str, str]]:
    out = []
    for kind in KINDS:
        names = [*VARIANTS, *(OPERATOR_VARIANTS if kind == "operator_message" else ())]
        out += [(kind, locale, name) for locale in LOCALES for name in names]
    return out


@pytest.mark.parametrize(("kind", "locale", "variant"), _cases())
def test_a_pretranslated_mail_reads_as_gettext_writes_it(
    both: tuple[Templates, Templates], kind: str, locale: str, variant: str
) -> None:
    fast, plain = both
    overrides = {**VARIANTS, **OPERATOR_VARIANTS}[variant]
    ctx = context(kind, locale, **overrides)
    text, html = fast.render(kind, locale, ctx)
    assert (text, html) == plain.render(kind, locale, ctx)
    assert "pretranslated" not in text + html


def test_the_rewrite_happened(both: tuple[Templates, Templates]) -> None:
    """The comparison above means something only if the fast templates were rewritten."""
    fast, plain = both
    source = "{{ _('Ticket') }} {{ _('Status: %(status)s.', status=s) }}"
    for env, rewritten in ((fast.envs["en"], True), (plain.envs["en"], False)):
        code = env.compile(source, raw=True)
        assert ("pretranslated" in code) is rewritten
        assert ("'Ticket'" in code) is not rewritten  # the msgid, left to gettext
