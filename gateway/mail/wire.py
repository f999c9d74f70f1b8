"""A notification's bytes on the wire, its body encoded once for all its copies.

:func:`gateway.mail.compose.compose` builds a mail with the email package, which
encodes quoted-printable in Python, a character at a time, and runs its generator
over every part. A notification is mailed to three or four people with the same
body (issue 16), so here the headers go through the same policy as there and the
body is encoded by ``binascii`` once, its MIME structure written out by hand. A mail
with attachments takes the general path.
"""

from __future__ import annotations

import binascii
import hashlib
from dataclasses import dataclass
from functools import lru_cache

from gateway.mail.compose import (
    WIRE,
    Outgoing,
    compose,
    flowed,
    header_fields,
    prefolded,
    to_bytes,
)


class OnTheWire(bytes):
    """Bytes in SMTP's wire form by construction: every line ends in CRLF, nothing else
    breaks one. :func:`to_wire` makes them so; a sender then need not count three
    kinds of line end over 18 KB to be sure, for every copy (issue 16)."""


@dataclass(frozen=True)
class Body:
    """A notification's encoded body and the top-level headers that describe it.

    Every operator's copy of one event says the same thing; only To, Reply-To,
    Message-ID and the threading headers differ. Encoding the parts and running the
    standard library's generator for each copy was half of the builder's CPU with
    three operators (issue 16), so a body is made once and shared.
    """

    headers: tuple[tuple[str, str], ...]
    data: bytes


def body_of(text: str, html: str | None) -> Body:
    """``multipart/alternative`` of the flowed text and the HTML (or the text part alone),
    each encoded by :func:`_text_part` with ``binascii`` (C; the email package's
    quoted-printable encoder is Python, a character at a time). The boundary starts with
    ``=_``, which neither encoding writes (quoted-printable encodes every ``=``, base64
    has no ``_``), so no part can contain it; it is derived from the content, so the same
    notification is the same bytes when it is resent."""
    plain = _text_part('text/plain; charset="utf-8"; format="flowed"', flowed(text))
    if html is None:
        return Body((("MIME-Version", "1.0"), *plain[0]), plain[1])
    rich = _text_part('text/html; charset="utf-8"', html)
    digest = hashlib.sha1(plain[1] + rich[1], usedforsecurity=False).hexdigest()[:32]
    boundary = f"=_{digest}"
    out = []
    for headers, data in (plain, rich):
        head = "".join(f"{name}: {value}\r\n" for name, value in headers)
        # The CRLF before a delimiter is the delimiter's (RFC 2046 5.1.1): one more, so
        # the part keeps its last line end, as the email package writes it.
        out.append(f"--{boundary}\r\n{head}\r\n".encode("ascii") + data + b"\r\n")
    data = b"".join(out) + f"--{boundary}--\r\n".encode("ascii")
    content_type = _MULTIPART.replace(_STANDIN, digest)
    return Body((("MIME-Version", "1.0"), ("Content-Type", content_type)), data)


# The multipart Content-Type as the policy folds it, with a stand-in for the digest: every
# boundary has the same length and alphabet, so every one folds the same way, and parsing
# and folding a header per body was a tenth of building a notification (issue 16).
_STANDIN = "0" * 32
_MULTIPART = prefolded("Content-Type", f'multipart/alternative; boundary="=_{_STANDIN}"')


def _text_part(content_type: str, text: str) -> tuple[tuple[tuple[str, str], ...], bytes]:
    """A text part, quoted-printable when it is mostly ASCII, else base64.

    Quoted-printable writes each byte of a Cyrillic letter as three characters: a
    Russian text came out three times its size (six bytes a letter), and every
    notification's bytes are normalized, dot-stuffed, sent and stored again by the
    smarthost. Base64 is 4/3 whatever the script; English stays quoted-printable,
    readable, and not what spam filters flag as text hidden in base64.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    if not lines.endswith("\n"):
        lines += "\n"
    data = lines.encode("utf-8")
    if (len(data) - len(lines)) * 12 > len(data):  # over ~1/6 of the bytes are not ASCII
        canonical = data.replace(b"\n", b"\r\n")  # a text's line breaks are CRLF (RFC 2046)
        encoded, cte = _base64_lines(canonical), "base64"
    else:
        encoded = binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")
        cte = "quoted-printable"
    return (("Content-Type", content_type), ("Content-Transfer-Encoding", cte)), encoded


def _base64_lines(data: bytes) -> bytes:
    """``base64.encodebytes`` with CRLF: 76 characters a line (57 bytes), encoded in one
    C call instead of one a line, then cut."""
    encoded = binascii.b2a_base64(data, newline=False)
    lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
    return b"\r\n".join(lines) + b"\r\n" if lines else b""


def to_wire(mail: Outgoing, bodies: dict[tuple[str, str | None], Body] | None = None) -> bytes:
    """The mail's bytes, as :func:`to_bytes` of :func:`compose` says it, built faster: the
    headers through the same policy, the body from ``bodies`` when a copy of the same
    text was built before (a mail with attachments takes the general path)."""
    if mail.attachments:
        return to_bytes(compose(mail))
    key = (mail.text, mail.html)
    body = bodies.get(key) if bodies is not None else None
    if body is None:
        body = body_of(mail.text, mail.html)
        if bodies is not None:
            bodies[key] = body
    fields = [*header_fields(mail), *((name, value, True) for name, value in body.headers)]
    if mail.language:  # "ru", "en": a token, stored as it is
        fields.append(("Content-Language", mail.language, True))
    return OnTheWire(b"".join(_line(*field) for field in fields) + b"\r\n" + body.data)


@lru_cache(maxsize=4096)
def _line(name: str, value: str, folded: bool) -> bytes:
    """One header as the policy writes it (the generator's ``fold_binary``), without an
    ``EmailMessage`` to hold it: the copies of one event share all but To, Reply-To and
    Message-ID, and every notification about a ticket its Subject and From (issue 16)."""
    return WIRE.fold_binary(name, value if folded else WIRE.header_store_parse(name, value)[1])
