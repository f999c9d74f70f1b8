"""Signed sub-addresses of the support address: ``support+t123.k3j9x2m4pq@example.com``.

A bare ticket number would let anyone write into any ticket by guessing
``support+t124``; an HMAC of it under the gateway's secret makes the address
unguessable and unforgeable (as Zulip's e-mail gateway does, the encode/decode
pair sits apart with its own exception). The kinds, each with its audience:

    t<N>  reply address of ticket N (Reply-To of every notification)
    b<N>  bounce address of outbox row N (the envelope sender: VERP)
    c<N>  confirms a new notify address of ticket N; signed together with that
          address, so only a mail from it can confirm it
    o<N>  an operator's reply address of ticket N; signed together with the
          operator's address, so it speaks for that operator only (issue 4); a
          reply goes to the customer (an operator's copy, a command error)
    n<N>  an operator's note address of ticket N, signed for that operator: a
          reply is an internal note (and commands), never a word to the customer
          (a held stranger, a possible repeat: issue 13)
    d<N>  an operator's address on the digest (N = 0), signed for that operator:
          a reply gets an answer and never becomes a ticket (issue 13)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

KINDS = frozenset("tbcond")
OPERATOR_BOUND = frozenset("ond")  # signed together with the operator's own address
_SIG_CHARS = 12
_TAIL = re.compile(rf"^([tbcond])(\d{{1,12}})\.([a-z2-7]{{{_SIG_CHARS}}})$")


class BadToken(ValueError):
    """A sub-address that looks like ours but whose signature is wrong."""


def _sign(secret: bytes, kind: str, number: int, bound: str) -> str:
    mac = hmac.digest(secret, f"{kind}{number}:{bound.lower()}".encode(), hashlib.sha256)
    # The first ten bytes give sixteen base32 characters, more than the signature keeps:
    # base32 is pure Python, and every notification signs two addresses (issue 16).
    return base64.b32encode(mac[:10]).decode("ascii").lower()[:_SIG_CHARS]


def make(support: str, secret: bytes, kind: str, number: int, bound: str = "") -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown address kind {kind!r}")
    local, _, domain = support.rpartition("@")
    return f"{local}+{kind}{number}.{_sign(secret, kind, number, bound)}@{domain}"


def read(address: str, support: str, secret: bytes, bound: str = "") -> tuple[str, int] | None:
    """(kind, number) of a signed sub-address; None for any other address.

    Raises BadToken when the shape is ours but the signature does not match —
    a guessed or altered address, which intake must not trust.
    """
    local, _, domain = address.strip().lower().rpartition("@")
    s_local, _, s_domain = support.lower().rpartition("@")
    if domain != s_domain or not local.startswith(s_local + "+"):
        return None
    found = _TAIL.match(local[len(s_local) + 1 :])
    if found is None:
        return None
    kind, number, sig = found.group(1), int(found.group(2)), found.group(3)
    if not hmac.compare_digest(sig, _sign(secret, kind, number, bound)):
        raise BadToken(f"the signature of {address} does not match")
    return kind, number
