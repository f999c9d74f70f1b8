"""A notification's text part reads back as it was written (RFC 3676, format=flowed).

Operators read a customer's text, and the command reference, in the notification's
text part; customers read our answers there. A mail client joins the soft breaks
and undoes the space-stuffing: what it shows must be every line as written,
indents, runs of spaces, a line that starts with "From " or holds a ">", and long
words included. (Long indented lines once lost their indent, and a long line
starting "From " its stuffing.)
"""

from __future__ import annotations

import email
import random
from email import policy

import pytest

from gateway.mail.compose import flowed
from gateway.mail.wire import to_wire
from tests.helpers import plain_text
from tests.mail.test_wire import outgoing

WORDS = [
    "word",
    "слово",
    "From",
    ">",
    ">>x",
    "=",
    ".",
    "a",
    "ёжик,",
    "x" * 90,
    "https://example.com/" + "p" * 70,
]
PREFIXES = ["", "", "", " ", "    ", "From ", "> ", ">", ">> ", "> > ", ">>"]


def written(seed: int) -> str:
    rnd = random.Random(seed)
    lines = []
    for _ in range(rnd.randint(1, 12)):
        if rnd.random() < 0.05:
            lines.append("-- ")
            continue
        words = [rnd.choice(WORDS) for _ in range(rnd.randint(0, 40))]
        gaps = [" " * rnd.choice((1, 1, 1, 1, 2, 3)) for _ in words]
        body = "".join(w + g for w, g in zip(words, gaps, strict=True))
        lines.append(rnd.choice(PREFIXES) + body)
    return "\n".join(lines)


def as_a_reader_shows_it(text: str) -> str:
    """What a mail client shows of ``text`` sent as it is: trailing spaces dropped, quote
    marks normalised to "> " (the reader's own join, ``tests.helpers.plain_text``)."""
    out = []
    for line in text.splitlines():
        if line == "-- ":
            out.append(line)
            continue
        line = line.rstrip()
        depth = len(line) - len(line.lstrip(">"))
        if depth:
            body = line[depth:]
            body = body[1:] if body.startswith(" ") else body
            line = f"{'>' * depth} {body}".rstrip()
        out.append(line)
    return "\n".join(out)


@pytest.mark.parametrize("seed", range(300))
def test_every_line_reads_back_as_written(seed: int) -> None:
    text = written(seed)
    message = email.message_from_bytes(to_wire(outgoing(text, None)), policy=policy.default)
    assert plain_text(message).rstrip("\n") == as_a_reader_shows_it(text).rstrip("\n")
    for line in flowed(text).splitlines():
        assert len(line) <= 74 or max(map(len, line.split())) > 70, line


def test_indent_and_from_survive_a_break() -> None:
    indented = "  #статус in_progress|awaiting_customer — сменить статус заявки, " * 2
    assert flowed(indented).startswith("   #статус")  # stuffed: the reader keeps two spaces
    long_from = "From here on " + "word " * 20
    assert flowed(long_from).startswith(" From here on")
    # a soft break right before ">" must not make the rest a quote
    pieces = flowed("x " * 35 + "> not a quote").splitlines()
    assert pieces[1] == "not a quote" or not pieces[1].startswith(">")
