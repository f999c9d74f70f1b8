"""Is this the same request again? Fingerprints and similarity of normalized texts (DESIGN §4).

A customer who does not hear back in an hour sends the request again, from
the web form and then by mail, or to two addresses. Those copies must not
become a second ticket (work for two operators) nor a new message in the
queue. What counts as "the same" is decided here, on text only:

* **normalize**: Unicode NFKC (a decomposed "й" is one letter), case folded,
  ``ё`` read as ``е``, punctuation and runs of white space reduced to one
  space — except dots, ``@``, ``:`` and ``/`` inside a word, which keep
  ``example.com``, ``10.0.0.1`` and ``user@example.ru`` whole. Quotes and
  signatures are removed by the caller (``mail.body``) before the text
  reaches the domain.
* **exact**: equal SHA-256 of the normalized text (cheap, indexable).
* **near**: Jaccard similarity of the sets of character 5-grams
  ("shingles"). Character shingles rather than word shingles because one
  changed word in a short request removes three word 3-grams of ten but only
  five character 5-grams of sixty; rather than a fuzzy edit ratio because it
  is linear in the text, and order-insensitive enough that a request with a
  greeting added in front still matches. The candidates are one customer's
  few recent tickets, so the exact set comparison is affordable and MinHash's
  estimate would buy nothing.
* **identifiers must agree**: a near match also needs the identifiers of one
  text (words with a digit, a dot or an ``@``: domains, addresses, error codes,
  dates) to be among the other's. "example.com returns 502" and "example.org
  returns 502" share almost every shingle but are two problems; a re-sent
  request that adds a date or a phone number is still the same one.

Standard library only: the domain stays pure (DESIGN §2).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

SHINGLE = 5
# Below this many normalized characters only an exact match counts: "да",
# "спасибо" or "any update" say the same words for different reasons.
MIN_NEAR_CHARS = 40
# Stored for comparing later requests with; enough to tell two requests apart.
KEEP_CHARS = 4000

_WORD = re.compile(r"[^\W_]+(?:[.@:/][^\W_]+)*")


def normalize(text: str) -> str:
    """Text without case, punctuation and white-space differences."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    return " ".join(_WORD.findall(folded))


def identifiers(normalized: str) -> frozenset[str]:
    """The words that name a thing: domains, addresses, numbers, codes.

    A normalized word is letters, digits and inner ``.@:/``; any that is not all
    letters has a digit or one of those (``isalpha`` is a C loop; a regex was
    a tenth of intake's time).
    """
    return frozenset(w for w in normalized.split() if not w.isalpha())


def request_text(subject: str, text: str, *, normalized_text: str | None = None) -> str:
    """A new request is its subject and its text: "Помогите" alone says nothing.

    ``normalized_text``, when the caller has it already, saves normalizing twice.
    """
    body = normalize(text) if normalized_text is None else normalized_text
    return f"{normalize(subject)} {body}".strip()


def digest(normalized: str) -> str:
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def shingles(normalized: str) -> frozenset[str]:
    if len(normalized) <= SHINGLE:
        return frozenset({normalized})
    return frozenset(normalized[i : i + SHINGLE] for i in range(len(normalized) - SHINGLE + 1))


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of two normalized texts' shingle sets, 0.0 … 1.0."""
    if a == b:
        return 1.0
    sa, sb = shingles(a), shingles(b)
    union = len(sa | sb)
    return len(sa & sb) / union if union else 0.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """One of the customer's recent tickets, as dedup needs it."""

    number: int
    open: bool
    digest: str
    normalized: str


@dataclass(frozen=True, slots=True)
class Match:
    number: int
    open: bool
    score: float  # similarity; 1.0 for an exact match
    exact: bool = False  # the normalized texts are equal (same digest)


def best_match(normalized: str, candidates: Iterable[Candidate], threshold: float) -> Match | None:
    """The candidate this request repeats, if any; open tickets win over closed ones.

    Exact beats near; among equals the oldest ticket wins, so two copies of a
    request always collapse onto the same first ticket.
    """
    key = digest(normalized)
    near_ok = len(normalized) >= MIN_NEAR_CHARS
    mine = normalized[:KEEP_CHARS]
    names = identifiers(mine)
    best: Match | None = None
    ordered = sorted(candidates, key=lambda c: (not c.open, c.number))
    first_exact = next((c for c in ordered if c.digest == key), None)
    if first_exact is not None and first_exact.open:  # nothing can beat it: skip the shingles
        return Match(first_exact.number, True, 1.0, exact=True)
    for c in ordered:
        if c.digest == key:
            found = Match(c.number, c.open, 1.0, exact=True)
        elif near_ok and len(c.normalized) >= MIN_NEAR_CHARS and _same_things(names, c.normalized):
            score = similarity(mine, c.normalized)
            if score < threshold:
                continue
            found = Match(c.number, c.open, score)
        else:
            continue
        if best is None or (found.open, found.exact, found.score) > (
            best.open,
            best.exact,
            best.score,
        ):
            best = found
    return best


def _same_things(names: frozenset[str], other: str) -> bool:
    """One text's identifiers are all in the other (either way round)."""
    theirs = identifiers(other)
    return names <= theirs or theirs <= names
