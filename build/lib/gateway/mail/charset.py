"""Which charset a Russian mail client *meant*, when the label is missing or wrong.

8-bit text with no charset, or with a wrong one (windows-1251 labelled koi8-r
and the reverse are common), is settled here with two cheap facts about
Russian text before charset-normalizer gets what is not Russian; see
:func:`decode_guess`. mail-parser was measured for this and turns undeclared
koi8-r into U+FFFD and mislabelled cp1251 into mojibake (README).
"""

from __future__ import annotations

import re

from charset_normalizer import from_bytes

_CYRILLIC_UPPER = re.compile(r"[А-ЯЁ]")
_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
SINGLE_BYTE_CYRILLIC = {"koi8-r", "koi8-u", "windows-1251", "cp1251", "iso-8859-5", "cp866"}
_RUSSIAN_MAX_UPPER = 0.45
_WORD = re.compile(r"\w+")
_LATIN = re.compile(r"[A-Za-z]")


def codec(charset: str) -> str:
    """The codec a declared charset names, with the misspellings mail clients use."""
    charset = charset.strip().strip('"').lower()
    aliases = {
        "cp-1251": "windows-1251",
        "win-1251": "windows-1251",
        "koi8r": "koi8-r",
        "utf8": "utf-8",
        "x-user-defined": "windows-1251",
    }
    return aliases.get(charset, charset)


def looks_swapped(text: str) -> bool:
    """Russian decoded with the wrong single-byte table comes out MOSTLY UPPER CASE."""
    return len(_CYRILLIC.findall(text)) >= 8 and upper_ratio(text) > 0.6


def upper_ratio(text: str) -> float:
    letters = _CYRILLIC.findall(text)
    if not letters:
        return 1.0
    return len(_CYRILLIC_UPPER.findall(text)) / len(letters)


def decode_guess(data: bytes, prefer: tuple[str, ...] = ()) -> str:
    """Decode bytes of unknown charset: UTF-8 if valid, else the most plausible.

    windows-1251 and koi8-r both decode any byte string, and statistical
    detectors guess wrong on the short texts mail is full of (a subject, a
    name). Two cheap facts decide instead: each table maps the other's lower
    case to upper case, so the right reading is the mostly lower-case one; and
    Russian words are all Cyrillic, while Latin-1 text read as Cyrillic gives
    words that mix scripts ("dйjа"). Only when no reading looks Russian does
    charset-normalizer get the bytes.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    readings = []
    for codec in prefer or ("windows-1251", "koi8-r"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if _CYRILLIC.search(text):
            readings.append((upper_ratio(text), text))
    if readings:
        ratio, best = min(readings, key=lambda r: r[0])
        if prefer:
            return best
        mixed = mixes_scripts(best)
        if ratio <= _RUSSIAN_MAX_UPPER and not mixed:
            return best
        if mixed:  # Western European 8-bit, the commonest non-Russian case
            return data.decode("cp1252", "replace")
    guess = from_bytes(data).best()
    if guess is not None:
        return str(guess)
    return data.decode("latin-1")


def mixes_scripts(text: str) -> bool:
    """Most Cyrillic-bearing words also hold Latin letters: not Russian."""
    words = [w for w in _WORD.findall(text) if _CYRILLIC.search(w)]
    mixed = sum(1 for w in words if _LATIN.search(w))
    return mixed * 2 > len(words)
