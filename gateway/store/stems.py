"""The words of the search: Snowball stems, and the fragment shown for a hit (issue 15).

FTS5 has no Russian stemmer, so SQLite's index holds the stems made here (Russian
Snowball for Cyrillic, English Porter 2 for Latin: the algorithms PostgreSQL
uses), and a query is stemmed the same way. The fragment around a hit is cut and
marked from the same stems on both backends. Text only: no SQL here.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

WORD = re.compile(r"\w+")
CYRILLIC = re.compile(r"[а-я]")
LATIN = re.compile(r"[a-z]")

_RU = snowballstemmer.stemmer("russian")
_EN = snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """One word's stem: Russian Snowball for Cyrillic, English (Porter 2) for Latin."""
    word = word.lower().replace("ё", "е")
    if CYRILLIC.search(word):
        return str(_RU.stemWord(word))
    if LATIN.search(word):
        return str(_EN.stemWord(word))
    return word


def stems(value: str) -> list[str]:
    return [stem(w) for w in WORD.findall(value)]


def fragment(query: str, body: str, width: int = 24) -> list[tuple[str, bool]]:
    """About ``width`` words of ``body`` around its first matching word, as
    (text, matched) pieces for the template to mark (it escapes every piece)."""
    wanted = set(stems(query))
    words = list(WORD.finditer(body))
    first = next((i for i, m in enumerate(words) if stem(m.group()) in wanted), None)
    if first is None:
        return [(body[:200], False)] if body else []
    lo = max(0, first - width // 3)
    hi = min(len(words), lo + width)
    start = words[lo - 1].end() if lo else 0
    end = words[hi].start() if hi < len(words) else len(body)
    pieces: list[tuple[str, bool]] = [("… " if lo else "", False)]
    at = start
    for m in words[lo:hi]:
        if stem(m.group()) in wanted:
            pieces += [(body[at : m.start()], False), (m.group(), True)]
            at = m.end()
    pieces += [(body[at:end], False), (" …" if hi < len(words) else "", False)]
    return [p for p in pieces if p[0]]
