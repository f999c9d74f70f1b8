"""Files a person attaches on the page (issue 15), and files the page hands back.

An upload becomes an attachment of the mail the form already is (``mailer``),
so it is stored by intake exactly like a mail's attachment and operators get it
in their ``operator_message`` mail. The limit is the SMTP one
(``HELPDESK_MAX_MESSAGE_SIZE``, announced in EHLO SIZE): the whole mail, files
included, must fit, or nothing is sent and the page says so.

Going back out, a file downloads (``attachment``, ``application/octet-stream``,
``nosniff``); only a raster image whose bytes are what its type says is shown
inline, for the preview — never SVG or HTML, which could run as our page.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from urllib.parse import quote

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

MAX_FILES = 10
# Raster types shown inline, each with the bytes its data must start with.
PREVIEWABLE = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\;]')


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


class TooLarge(Exception):
    """The files do not fit in one mail of the SMTP size limit."""


def too_large(request: Request, limit: int) -> bool:
    """Refuse before reading: a declared body larger than a mail may be (plus the form)."""
    declared = request.headers.get("content-length", "")
    return declared.isdigit() and int(declared) > limit + 256 * 1024


async def files_of(form: FormData, limit: int) -> list[Upload]:
    """The form's non-empty files, at most MAX_FILES; TooLarge past the mail limit."""
    found: list[Upload] = []
    total = 0
    try:
        for item in form.getlist("files"):
            if not isinstance(item, UploadFile) or not item.filename:
                continue
            data = await item.read(limit + 1)
            total += len(data)
            if total > limit or len(found) >= MAX_FILES:
                raise TooLarge
            name = item.filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or "file"
            ctype = item.content_type or mimetypes.guess_type(name)[0]
            found.append(Upload(name, ctype or "application/octet-stream", data))
    finally:
        await form.close()  # the spooled temporary files
    return found


def previewable(content_type: str, data: bytes) -> bool:
    return any(data.startswith(magic) for magic in PREVIEWABLE.get(content_type.lower(), ()))


def file_response(filename: str, data: bytes, content_type: str = "", *, inline: bool) -> Response:
    """A stored file: inline only for a genuine raster image asked for as a preview,
    else a download that no browser renders. The name is RFC 6266/5987-encoded, with
    an ASCII fallback stripped of anything that could break the header."""
    name = filename or "attachment"
    fallback = UNSAFE.sub("_", name.encode("ascii", "replace").decode()).replace("?", "_")
    disposition = f"filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
    if inline and previewable(content_type, data):
        return Response(
            data,
            media_type=content_type.lower(),
            headers={"Content-Disposition": f"inline; {disposition}"},
        )
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f"attachment; {disposition}"},
    )
