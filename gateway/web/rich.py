"""A message's text as the page shows it (issue 15): links clickable, pasted logs and code
as preformatted blocks, everything else escaped.

Customers paste stack traces, nginx logs and config files; shown as prose they
wrap into noise. A block fenced by ``` lines, indented lines, or two or more
consecutive lines that look like log lines (a timestamp or a log level first, a
stack frame) become ``<pre>``. Links (http and https only) open in a new tab
with ``rel="noopener nofollow"``: the page never vouches for them nor lets them
reach back. Escaping happens here, piece by piece, so the result is Markup.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

URL = re.compile(r"https?://[^\s<>\"'«»]+", re.IGNORECASE)
TRAILING = ".,;:!?)]}»"
LOGLIKE = re.compile(
    r"^\s*(\[?\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}|\[?\d{2}/\w{3}/\d{4}:|"
    r"(ERROR|WARN|WARNING|INFO|DEBUG|FATAL|CRIT)\b|Traceback \(|File \"|at [\w.$]+\(|#\d+ )"
)


def _links(text: str) -> Markup:
    out, at = [], 0
    for m in URL.finditer(text):
        url = m.group(0).rstrip(TRAILING)
        end = m.start() + len(url)
        out.append(escape(text[at : m.start()]))
        out.append(
            Markup('<a href="%s" rel="noopener nofollow" target="_blank">%s</a>') % (url, url)
        )
        at = end
    out.append(escape(text[at:]))
    return Markup("").join(out)


def _is_code(line: str) -> bool:
    return line.startswith(("    ", "\t")) or bool(LOGLIKE.match(line))


def _blocks(text: str) -> list[tuple[bool, list[str]]]:
    """(is_code, lines) runs: fenced blocks, and runs of code-like lines of two or more."""
    runs: list[tuple[bool, list[str]]] = []
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            runs.append((True, lines[i + 1 : j]))
            i = j + 1
            continue
        j = i
        while j < len(lines) and _is_code(lines[j]) and lines[j].strip():
            j += 1
        if j - i >= 2:
            runs.append((True, lines[i:j]))
            i = j
            continue
        if runs and not runs[-1][0]:
            runs[-1][1].append(line)
        else:
            runs.append((False, [line]))
        i += 1
    return runs


def rich(text: str | None) -> Markup:
    """The text, escaped, with links and ``<pre>`` blocks (for ``white-space: pre-wrap``)."""
    parts = []
    for code, lines in _blocks(text or ""):
        body = "\n".join(lines)
        if code:
            parts.append(Markup('<pre class="code">%s</pre>') % body)
        else:
            parts.append(_links(body))
    return Markup("").join(parts)
