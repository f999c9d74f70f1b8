"""One-time sign-in tokens and the proxy check, without a server."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from gateway.web.auth import LinkInvalid, LoginThrottle, SigninLinks, from_proxy

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LINKS = SigninLinks(b"k" * 32, timedelta(minutes=30))


def test_a_token_reads_back_until_it_expires() -> None:
    """A mailed sign-in link works for its 30 minutes, then is refused as expired; each is new."""
    token = LINKS.make(42, NOW)
    customer, nonce = LINKS.read(token, NOW + timedelta(minutes=29))
    assert customer == 42 and len(nonce) >= 20
    assert LINKS.read(LINKS.make(42, NOW), NOW)[1] != nonce, "every link has its own nonce"
    with pytest.raises(LinkInvalid, match="expired"):
        LINKS.read(token, NOW + timedelta(minutes=31))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: "MTIz" + t[4:],  # payload changed
        lambda t: t.replace(".", ""),
        lambda t: "",
    ],
)
def test_a_changed_token_is_refused(tamper) -> None:  # type: ignore[no-untyped-def]
    """A sign-in link changed in any way (signature, payload, cut) is refused."""
    with pytest.raises(LinkInvalid):
        LINKS.read(tamper(LINKS.make(42, NOW)), NOW)


def test_another_secret_does_not_read_it() -> None:
    """A sign-in link made with another instance's secret is refused as forged."""
    other = SigninLinks(b"x" * 32, timedelta(minutes=30))
    with pytest.raises(LinkInvalid, match="forged"):
        other.read(LINKS.make(42, NOW), NOW)


def test_only_configured_proxies_count() -> None:
    """Only requests from the configured proxy networks may name the panel's user in a header."""
    proxies = (ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("::1/128"))

    def req(host: str | None) -> object:
        return SimpleNamespace(client=SimpleNamespace(host=host) if host else None)

    assert from_proxy(req("10.0.0.7"), proxies)  # type: ignore[arg-type]
    assert from_proxy(req("::1"), proxies)  # type: ignore[arg-type]
    assert not from_proxy(req("10.0.1.7"), proxies)  # type: ignore[arg-type]
    assert not from_proxy(req("testclient"), proxies)  # type: ignore[arg-type]
    assert not from_proxy(req(None), proxies)  # type: ignore[arg-type]
    assert not from_proxy(req("10.0.0.7"), ())  # type: ignore[arg-type]


def test_the_login_throttle_counts_per_login_within_its_window() -> None:
    """Failed logins are throttled per login, any case, within the window; a success resets it."""
    throttle = LoginThrottle(attempts=2, window=timedelta(minutes=10))
    throttle.failed("Anna@example.com", NOW)
    assert throttle.blocked_for("anna@example.com", NOW) is None
    throttle.failed("anna@example.com", NOW + timedelta(minutes=1))
    assert throttle.blocked_for("anna@example.com", NOW) == timedelta(minutes=10)
    assert throttle.blocked_for("boris@example.com", NOW) is None
    assert throttle.blocked_for("anna@example.com", NOW + timedelta(minutes=10)) is None
    throttle.failed("anna@example.com", NOW)
    throttle.failed("anna@example.com", NOW)
    throttle.succeeded("ANNA@example.com")
    assert throttle.blocked_for("anna@example.com", NOW) is None
