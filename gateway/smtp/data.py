"""DATA read in chunks, not line by line (issue 14, hostile-mail benchmark).

aiosmtpd reads DATA one line at a time: a 21 MB mail is 290,000 awaits and
bytearrays on the event loop that every other session shares, and it held
ordinary intake back while it arrived. Here the body is read in 64 KiB chunks,
the end (``CRLF . CRLF``) found with ``bytes.find`` and the dot-stuffing
undone with one ``replace`` (RFC 5321 §4.5.2): the same bytes as aiosmtpd's
loop gives (lines end at CRLF only), at C speed. Bytes after the end (a
pipelined next command) go back to the reader, as aiosmtpd's own STARTTLS
code handles its ``_buffer``. Over the size limit the rest is drained and
answered 552, as aiosmtpd does; line length is not limited beyond that.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiosmtpd.smtp import MISSING

_END = b"\r\n.\r\n"
_CHUNK = 1 << 16


class ChunkedData:
    """Mixed into aiosmtpd's SMTP protocol classes (before them in the bases)."""

    _reader: asyncio.StreamReader
    envelope: Any
    data_size_limit: int | None

    async def smtp_DATA(self, arg: str) -> None:
        if not isinstance(getattr(self._reader, "_buffer", None), bytearray):
            await super().smtp_DATA(arg)  # type: ignore[misc]
            return
        proto: Any = self
        if await proto.check_helo_needed() or await proto.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await proto.push("503 Error: need RCPT command")
            return
        if arg:
            await proto.push("501 Syntax: DATA")
            return
        await proto.push("354 End data with <CR><LF>.<CR><LF>")
        body = await self._read_body()
        if body is None:
            await proto.push("552 Error: Too much mail data")
            proto._set_post_data_state()
            return
        self.envelope.content = body
        self.envelope.original_content = body
        status = await proto._call_handler_hook("DATA")
        proto._set_post_data_state()
        await proto.push("250 OK" if status is MISSING else status)

    async def _read_body(self) -> bytes | None:
        """The message, dot-stuffing undone; None when it was over the size limit."""
        reader, limit = self._reader, self.data_size_limit
        got = bytearray(b"\r\n")  # the line end before the first line: "." first ends it too
        scan, dropped = 0, False
        while (end := got.find(_END, scan)) < 0:
            scan = max(0, len(got) - len(_END) + 1)
            if limit and len(got) > limit + 2 + len(_END):  # keep only what may hold the end
                got, scan, dropped = got[-(len(_END) - 1) :], 0, True
            chunk = await reader.read(_CHUNK)
            if not chunk:  # the client went away; aiosmtpd cancels this session
                raise asyncio.CancelledError
            got += chunk
        rest = got[end + len(_END) :]
        if rest:  # a pipelined command: back to the reader, in front of what follows
            reader._buffer[0:0] = rest  # type: ignore[attr-defined]
        if dropped or (limit and end > limit):
            return None
        return bytes(got[: end + 2]).replace(b"\r\n.", b"\r\n")[2:]
