"""The words of every mail template are in every language's catalog (issue 13).

Extracted the way a translator would (Babel's extractor over the templates, jinja2's
``babel_extract``), so a sentence added to a template without its Russian fails here
instead of reaching a Russian customer in English.
"""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from gateway.notify.render import LOCALES, default_root

ROOT = default_root()
JINJA = "jinja2.ext:babel_extract"
# As notify.render's environment: the whitespace options shape the msgids of {% trans %}.
OPTIONS = {
    "extensions": "jinja2.ext.i18n",
    "trim_blocks": "true",
    "lstrip_blocks": "true",
    "newstyle_gettext": "true",
}


def extracted() -> dict[object, list[str]]:
    """Every msgid (a string, or a (singular, plural) pair) the templates use, with where."""
    found: dict[object, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map=[("**.txt", JINJA), ("**.html", JINJA)],
        options_map={"**.txt": OPTIONS, "**.html": OPTIONS},
    ):
        key = message if isinstance(message, str) else tuple(message[:2])
        found.setdefault(key, []).append(f"{filename}:{lineno}")
    return found


def test_babel_finds_the_words_of_every_template_partials_included() -> None:
    """The extractor sees the sentences of kinds and of shared partials alike."""
    found = extracted()
    assert "Best regards," in found  # _footer
    assert "Commands go on the first line of your reply:" in found  # _reply
    assert ("%(num)d hour", "%(num)d hours") in found  # escalation's plural
    assert len(found) >= 130


def test_every_msgid_has_a_translation_in_every_catalog() -> None:
    """Each msgid the templates use has its words, every plural form filled, in each
    language's .po: no Russian mail ever falls back to an English sentence."""
    found = extracted()
    for lang in LOCALES:
        po = ROOT / "locale" / f"{lang}.po"
        if lang == "en":  # the msgids are the English
            assert not po.exists()
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=lang)
        missing = []
        for key, where in found.items():
            msgid = key if isinstance(key, str) else key[0]
            message = catalog.get(msgid)
            strings = [] if message is None else message.string
            strings = [strings] if isinstance(strings, str) else list(strings)
            wanted = 1 if isinstance(key, str) else catalog.num_plurals
            if len(strings) != wanted or not all(strings) or message.fuzzy:
                missing.append((key, where[0]))
        assert not missing, f"{lang}.po lacks: {missing}"
