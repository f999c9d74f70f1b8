"""FAQ suggestions for the "ticket created" mail.

The seed in ``config/faq.toml`` is written by support staff, so a mistake in it
must stop the start with a sentence naming the file and the entry, not surface
later as a half-empty notification. Matching is deliberately simple and
predictable — keywords, not a search engine — so whoever edits the file can tell
why an entry was suggested. Russian inflects, so a keyword matches a word that
begins with it ("почт" → "почта", "почтой"), and a full word is cut back to a
rough stem first ("пароль" → "парол" → "пароля").
"""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any


class FaqError(ValueError):
    """The FAQ file exists but cannot be used; the message is one line naming it."""


@dataclass(frozen=True)
class FaqEntry:
    question: str
    answer: str
    url: str
    keywords: tuple[str, ...]
    locale: str


_FIELDS = frozenset({"locale", "question", "answer", "url", "keywords"})
_WORD = re.compile(r"\w+")
_CYRILLIC = re.compile(r"[а-я]")

# Inflectional endings cut from a keyword word before prefix matching, longest first (the
# first that fits wins). Only words long enough to keep a stem of at least _MIN_STEM letters
# are cut, so "сайт" and "диск" stay whole while "почта" becomes "почт", "пароль" "парол".
_RU_ENDINGS = (
    *("ами", "ями", "ого", "его", "ому", "ему", "ыми", "ими"),
    *("ах", "ях", "ам", "ям", "ом", "ем", "ой", "ей", "ий", "ый"),
    *("ая", "яя", "ое", "ее", "ые", "ие", "ов", "ев", "ть"),
    *("а", "я", "о", "е", "ы", "и", "у", "ю", "ь", "й"),
)
_EN_ENDINGS = ("ing", "ed", "es", "s", "e")
_MIN_STEM = 4
# Shorter keyword words ("не", "a", "to") must match a whole word, or they would match
# half of every sentence.
_MIN_PREFIX = 3


def _normalize(text: str) -> str:
    return text.casefold().replace("ё", "е")


def _words(text: str) -> list[str]:
    return _WORD.findall(_normalize(text))


def _stem(word: str) -> str:
    endings = _RU_ENDINGS if _CYRILLIC.search(word) else _EN_ENDINGS
    for ending in endings:
        if word.endswith(ending) and len(word) - len(ending) >= _MIN_STEM:
            return word[: -len(ending)]
    return word


@lru_cache(maxsize=4096)  # the keywords are few and fixed: stem each once, not per mail
def _pattern(keyword: str) -> tuple[tuple[str, bool], ...]:
    """A keyword as a sequence of (stem, whole-word-only) to find in consecutive words."""
    parts = []
    for word in _words(keyword):
        if word.isdigit() or len(word) < _MIN_PREFIX:
            parts.append((word, True))
        else:
            parts.append((_stem(word), False))
    return tuple(parts)


def _in_vocabulary(stem: str, exact: bool, vocabulary: Sequence[str]) -> bool:
    at = bisect_left(vocabulary, stem)
    if at == len(vocabulary):
        return False
    return vocabulary[at] == stem if exact else vocabulary[at].startswith(stem)


def _occurs(
    pattern: Sequence[tuple[str, bool]], words: Sequence[str], vocabulary: Sequence[str]
) -> bool:
    """Does the keyword occur? ``vocabulary`` is the sorted distinct words, so each word
    of a keyword is a binary search; only a phrase whose every word is in the text is
    looked for word by word (the scan was a fifth of a notification's cost, issue 16)."""
    if not pattern or not all(_in_vocabulary(s, e, vocabulary) for s, e in pattern):
        return False
    if len(pattern) == 1:
        return True
    span = len(pattern)
    first, first_exact = pattern[0]
    for start in range(len(words) - span + 1):
        word = words[start]
        if not (word == first if first_exact else word.startswith(first)):
            continue
        if all(
            words[start + i] == stem if exact else words[start + i].startswith(stem)
            for i, (stem, exact) in enumerate(pattern[1:], start=1)
        ):
            return True
    return False


def match_faq(
    entries: Iterable[FaqEntry], text: str, locale: str, limit: int = 3
) -> list[FaqEntry]:
    """The entries of ``locale`` whose keywords occur most often in ``text``, best first.

    The score is the number of distinct keywords found; an entry with none is never
    suggested, and equal scores keep the order of the file (its author's priority).
    """
    words = _words(text)
    if not words or limit <= 0:
        return []
    vocabulary = sorted(set(words))
    scored: list[tuple[int, int, FaqEntry]] = []
    for index, entry in enumerate(entries):
        if entry.locale != locale:
            continue
        score = sum(
            1 for keyword in set(entry.keywords) if _occurs(_pattern(keyword), words, vocabulary)
        )
        if score:
            scored.append((-score, index, entry))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in scored[:limit]]


def load_faq(path: Path) -> list[FaqEntry]:
    """Read ``[[entry]]`` tables from a TOML file; no file means no suggestions."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise FaqError(f"{path}: cannot read the FAQ file: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FaqError(f"{path}: not valid TOML: {exc}") from exc

    unknown = sorted(set(data) - {"entry"})
    if unknown:
        raise FaqError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; use [[entry]]")
    raw_entries = data.get("entry", [])
    if not isinstance(raw_entries, list):
        raise FaqError(f"{path}: 'entry' must be an array of tables, written [[entry]]")
    return [_entry(path, number, raw) for number, raw in enumerate(raw_entries, start=1)]


def _entry(path: Path, number: int, raw: Any) -> FaqEntry:
    where = f"{path}: entry {number}"
    if not isinstance(raw, dict):
        raise FaqError(f"{where}: must be a table, written [[entry]]")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise FaqError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELDS))}"
        )
    fields: dict[str, str] = {}
    for name in ("locale", "question", "answer"):
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            raise FaqError(f"{where}: {name!r} is required and must be a non-empty string")
        fields[name] = value.strip()
    url = raw.get("url", "")
    if not isinstance(url, str):
        raise FaqError(f"{where}: 'url' must be a string")
    url = url.strip()
    if url and not url.startswith(("https://", "http://")):
        raise FaqError(f"{where}: 'url' must start with https:// or http://, got {url!r}")
    keywords = raw.get("keywords")
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise FaqError(f"{where}: 'keywords' must be a list of strings")
    cleaned = tuple(k.strip() for k in keywords if k.strip())
    if not cleaned:
        raise FaqError(f"{where}: 'keywords' is empty, so the entry could never be suggested")
    return FaqEntry(
        question=fields["question"],
        answer=fields["answer"],
        url=url,
        keywords=cleaned,
        locale=fields["locale"],
    )
