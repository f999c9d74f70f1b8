"""Every word of the page exists in both languages, and the status labels are the shared ones."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.desk.model import STATUS_LABELS
from gateway.web import i18n
from gateway.web.site import default_root

KEY = re.compile(r"""\bt\(\s*["']([a-z_]+)["']""")
PY = Path(__file__).resolve().parents[2] / "gateway" / "web"


def test_every_key_used_by_a_template_or_a_page_exists() -> None:
    """Every phrase a page or template asks for exists: no page shows a bare key."""
    sources = [*default_root().glob("*.html"), *PY.glob("*.py")]
    used = {key for f in sources for key in KEY.findall(f.read_text(encoding="utf-8"))}
    used |= {
        f"{prefix}_{kind}"
        for prefix in ("author", "op_author")
        for kind in ("customer", "operator", "system", "stranger")
    }
    used |= {f"view_{v}" for v in ("needs_us", "closed", "all", "mine", "unassigned")}
    used |= {f"sort_{s}" for s in ("waiting", "updated", "number")}
    # t("author_" + kind); site.error(t(key)); t("view_" + v); t("sort_" + s)
    dynamic = {"author_", "op_author_", "key", "view_", "sort_"}
    assert used - set(i18n.STRINGS) - dynamic == set()
    flashed = re.findall(
        r'flash\(\s*request,\s*"([a-z_]+)"',
        "".join(f.read_text(encoding="utf-8") for f in PY.glob("*.py")),
    )
    assert set(flashed) - set(i18n.STRINGS) == set()


def test_both_languages_are_filled_and_take_the_same_values() -> None:
    """Every phrase is written in both languages, with the same {placeholders} in each."""
    for key, (ru, en) in i18n.STRINGS.items():
        assert ru.strip() and en.strip(), key
        assert set(re.findall(r"{(\w+)}", ru)) == set(re.findall(r"{(\w+)}", en)), key


def test_status_labels_are_not_written_twice() -> None:
    """The page shows STATUS_LABELS (desk.model), like the notifications."""
    labels = {label for pair in STATUS_LABELS.values() for label in pair.values()}
    assert not labels & {text for pair in i18n.STRINGS.values() for text in pair}
    pages = "".join(f.read_text(encoding="utf-8") for f in default_root().glob("*.html"))
    assert not any(label in pages for label in labels)
