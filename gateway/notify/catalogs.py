"""The mails' words in each language: gettext catalogs, compiled in memory (issue 13).

A template written once (``templates/<kind>.txt``) says its sentences in English
inside ``{% trans %}`` / ``_()``; ``templates/locale/<lang>.po`` holds each
language's words, plural forms included (Russian has three: 1 день, 2 дня,
5 дней). The ``.po`` is read with Babel and compiled to a ``GNUTranslations``
at start — no ``.mo`` build step, so a wheel (whose package data holds the
``.po`` files) works as the source tree does. A third language is a catalog,
not a copy of every template: every kind is written once.
"""

from __future__ import annotations

import gettext
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po


def translations(root: Path, lang: str) -> gettext.NullTranslations:
    """The catalog of ``lang`` under ``root/locale``; English (the msgids) needs none."""
    po = root / "locale" / f"{lang}.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=lang)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
