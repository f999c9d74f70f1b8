"""An old support mailbox, read in date order (``helpdesk import``, issue 6).

A team moving to the gateway brings years of mail as an mbox file or a
Maildir, often both (the inbox, and the Sent folder with the operators'
answers). Imported mail must be replayed in the order it happened, because
threading, statuses and the 30-day rules depend on what came before; so the
archive is read twice: once for the headers that date each message, then
message by message in date order. Only positions and dates stay in memory.

The standard library's ``mailbox`` reads both formats; a message's date comes
from, in order of trust: its ``Date`` header, the newest ``Received`` stamp
(set by our side's MTA, so right even when the sender's clock was not), the
mbox ``From_`` line or the Maildir delivery time, and last the time of the
import. A date in the future (a sender's clock years ahead) is clamped to the
time of the import, so the clock never runs ahead of the real one.
"""

from __future__ import annotations

import mailbox
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO

HEADER_LIMIT = 64 * 1024  # a header block longer than this is read no further for its date
HEAD_READ = 8192
_DATING = frozenset({b"date", b"received"})


class ArchiveError(Exception):
    """The path is not a mailbox we can read; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One message of the archive: where it is, and when it happened."""

    source: int  # which of the opened mailboxes
    key: str  # its key in that mailbox
    at: datetime  # aware, UTC
    dated_by: str  # "Date", "Received", "From_ line", "delivery time", "import time"
    order: int  # position in the files, to keep equal dates in file order


class Archive:
    """One or more mailboxes, as one sequence of messages in date order."""

    def __init__(self, paths: list[Path], now: datetime) -> None:
        self.paths = paths
        self.now = now
        self._boxes: list[mailbox.Mailbox] = [open_mailbox(p) for p in paths]
        self._parser = BytesHeaderParser(policy=compat32)

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        for box in self._boxes:
            box.close()

    def entries(self) -> list[Entry]:
        """Every message, oldest first; one pass over the headers."""
        found: list[Entry] = []
        for source, box in enumerate(self._boxes):
            for key in box.iterkeys():
                at, how = self._date(box, key)
                found.append(Entry(source, key, at, how, len(found)))
        found.sort(key=lambda e: (e.at, e.order))
        return found

    def read(self, entry: Entry) -> bytes:
        """The message's bytes as they were delivered (without the mbox ``From_`` line)."""
        return self._boxes[entry.source].get_bytes(entry.key)

    def label(self, entry: Entry) -> str:
        """Where to find the message by hand: the file, and the key in it."""
        return f"{self.paths[entry.source]}:{entry.key}"

    def _date(self, box: mailbox.Mailbox, key: str) -> tuple[datetime, str]:
        is_mbox, from_line = isinstance(box, mailbox.mbox), b""
        with box.get_file(key, from_=True) if is_mbox else box.get_file(key) as f:
            if is_mbox:
                from_line = f.readline()
            headers = self._parser.parsebytes(_dating_headers(f))
        when = _header_date(headers.get("Date"))
        if when is not None:
            return min(when, self.now), "Date"
        when = _received_date(headers.get_all("Received") or [])
        if when is not None:
            return min(when, self.now), "Received"
        if is_mbox:
            when, how = _from_line_date(from_line), "From_ line"
        else:
            assert isinstance(box, mailbox.Maildir)
            when, how = _delivery_time(box, key), "delivery time"
        if when is not None:
            return min(when, self.now), how
        return self.now, "import time"


def open_mailbox(path: Path) -> mailbox.Mailbox:
    """An mbox file or a Maildir (detected); any other path is a clear error."""
    if path.is_dir():
        if all((path / sub).is_dir() for sub in ("cur", "new")):
            return mailbox.Maildir(path, factory=None, create=False)
        raise ArchiveError(
            f"{path} is a directory but not a Maildir (it has no cur/ and new/); "
            "give the Maildir itself, or an mbox file"
        )
    if not path.exists():
        raise ArchiveError(f"{path} does not exist; give an mbox file or a Maildir")
    try:
        with path.open("rb") as f:
            first = f.read(5)
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror}") from None
    if first and first != b"From ":
        raise ArchiveError(
            f"{path} is not an mbox file (it does not start with a 'From ' line); "
            "give an mbox file or a Maildir"
        )
    return mailbox.mbox(path, factory=None, create=False)


def _dating_headers(f: BinaryIO) -> bytes:
    """The ``Date`` and ``Received`` lines of the header block (unfolded by the parser
    later): all a date needs, without reading the body or parsing every header."""
    head = f.read(HEAD_READ)
    while (end := _end_of_headers(head)) < 0 and len(head) < HEADER_LIMIT:
        more = f.read(HEAD_READ)
        if not more:
            break
        head += more
    if end >= 0:
        head = head[:end]
    kept: list[bytes] = []
    keep = False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):  # a folded continuation of the header above
            if keep:
                kept.append(line)
            continue
        keep = line.split(b":", 1)[0].strip().lower() in _DATING
        if keep:
            kept.append(line)
    return b"".join(kept)


def _end_of_headers(head: bytes) -> int:
    ends = [i for i in (head.find(b"\n\n"), head.find(b"\r\n\r\n")) if i >= 0]
    return min(ends) + 1 if ends else -1


def _header_date(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": the time is UTC, the zone unknown (RFC 5322 §3.3)
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _received_date(values: list) -> datetime | None:
    """The topmost Received stamp: the last hop, our side's own server."""
    for value in values:
        _, semicolon, stamp = str(value).rpartition(";")
        if semicolon:
            return _header_date(stamp.strip())
    return None


def _from_line_date(line: bytes) -> datetime | None:
    """``From sender Tue Jan  2 10:00:00 2024``: the asctime after the sender, local time."""
    parts = line.decode("ascii", "replace").split()
    if len(parts) < 7 or parts[0] != "From":
        return None
    try:
        local = datetime.strptime(" ".join(parts[2:7]), "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return None
    return local.replace(tzinfo=UTC)


def _delivery_time(box: mailbox.Maildir, key: str) -> datetime | None:
    """A Maildir file name starts with its delivery time; else the file's mtime."""
    try:
        return datetime.fromtimestamp(int(key.split(".", 1)[0]), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        return datetime.fromtimestamp(box.get_message(key).get_date(), UTC)
    except (OSError, KeyError, ValueError, OverflowError):
        return None
