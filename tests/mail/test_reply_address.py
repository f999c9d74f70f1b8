"""Signed reply addresses keep their form: customers reply to notifications mailed
long ago, so a signature must come out the same as every earlier release made it."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from gateway.mail import reply_address

SECRET = b"s" * 32


def _as_first_signed(kind: str, number: int, bound: str) -> str:
    """The signature as the first release computed it: base32 of the whole HMAC, cut."""
    mac = hmac.new(SECRET, f"{kind}{number}:{bound.lower()}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode("ascii").lower()[:12]


@pytest.mark.parametrize("kind", sorted(reply_address.KINDS))
def test_a_signature_is_what_older_releases_mailed(kind: str) -> None:
    for number in (0, 1, 12, 987654321):
        for bound in ("", "Anna@Example.com"):
            made = reply_address.make("support@example.com", SECRET, kind, number, bound=bound)
            assert made == (
                f"support+{kind}{number}.{_as_first_signed(kind, number, bound)}@example.com"
            )
            assert reply_address.read(made, "support@example.com", SECRET, bound=bound) == (
                kind,
                number,
            )
