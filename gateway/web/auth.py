"""Who is asking: a customer (trusted header or one-time link) or an operator (login).

Customers never get a password of ours (issue 7). Either

* the hosting control panel in front of us names the account in a header
  (``HELPDESK_HTTP_TRUSTED_HEADER``), believed only on connections from
  ``HELPDESK_HTTP_TRUSTED_PROXIES`` — anyone else can send any header; or
* they ask for a sign-in link at a known address: the link is signed with the
  gateway's secret, carries its issue time (from the injected clock, so tests
  move time rather than sleep) and a nonce that is written down when used, so
  it works once and for ``HELPDESK_HTTP_SIGNIN_MINUTES``.

Operators sign in with the same credentials as the submission listener
(``Gateway.authenticate``: scrypt, a dummy check for unknown logins).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session
from starlette.requests import Request

from gateway.store import people, web_sessions
from gateway.web.backend import Network

CUSTOMER_KEY = "customer"
OPERATOR_KEY = "operator"
SESSION_ID_KEY = "sid"  # the server-side session (store.web_sessions): sign-out ends it


class NotSignedIn(Exception):
    """Nobody is signed in for this page; the argument is where to sign in."""


def open_operator(session: Session, request: Request) -> str | None:
    """The operator this cookie names, if their server-side session is still open.

    Every operator page asks here, the search included: a cookie copied before
    sign-out must open nothing (issue 14.12)."""
    who = request.session.get(OPERATOR_KEY)
    if not isinstance(who, str) or not who:
        return None
    sid = request.session.get(SESSION_ID_KEY)
    return who if web_sessions.alive(session, sid, f"operator:{who}") else None


class LinkInvalid(Exception):
    """A sign-in link that is malformed, forged, expired or used; the text says which."""


def from_proxy(request: Request, proxies: tuple[Network, ...]) -> bool:
    """Did this connection come from one of the control panel's proxies?

    The peer address of the socket, never X-Forwarded-For: uvicorn runs with
    ``proxy_headers=False`` so ``request.client`` is the real peer.
    """
    if request.client is None or not proxies:
        return False
    try:
        peer = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(peer in net for net in proxies)


@dataclass(frozen=True)
class SigninLinks:
    """Make and read the signed, expiring one-time sign-in tokens."""

    secret: bytes
    lifetime: timedelta

    def _key(self) -> bytes:
        return hmac.new(self.secret, b"helpdesk web sign-in link", hashlib.sha256).digest()

    def _sign(self, payload: bytes) -> str:
        mac = hmac.new(self._key(), payload, hashlib.sha256).digest()
        return _b64(mac)

    def make(self, customer_id: int, now: datetime) -> str:
        payload = f"{customer_id}.{int(now.timestamp())}.{secrets.token_urlsafe(18)}".encode()
        return f"{_b64(payload)}.{self._sign(payload)}"

    def read(self, token: str, now: datetime) -> tuple[int, str]:
        """(customer id, nonce) of a genuine, unexpired token; else :class:`LinkInvalid`."""
        try:
            body, mac = token.split(".")
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (ValueError, TypeError):
            raise LinkInvalid("malformed") from None
        if not hmac.compare_digest(mac.encode(), self._sign(payload).encode()):
            raise LinkInvalid("forged")
        try:
            customer, issued, nonce = payload.decode().split(".")
            issued_at = datetime.fromtimestamp(int(issued), UTC)
            customer_id = int(customer)
        except ValueError:
            raise LinkInvalid("malformed") from None
        if now - issued_at > self.lifetime or issued_at - now > timedelta(minutes=5):
            raise LinkInvalid("expired")
        return customer_id, nonce


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def account_of(session: Session, value: str) -> int | str | None:
    """The customer a trusted header names: an address or a customer number.

    Returns the customer's id; for an address the desk does not know yet, the
    address itself (the caller makes it a verified customer — the control
    panel vouches for it — in a write transaction, taken only then); None for
    a value that names nobody.
    """
    value = value.strip()
    if value.isdigit():
        row = people.customer_by_id(session, int(value))
        return row.id if row else None
    if "@" not in value or " " in value or len(value) > 320:
        return None
    found = people.find_customer(session, value)
    return found.id if found is not None else value.lower()


def add_account(session: Session, address: str, now: datetime) -> int:
    return people.add_customer(session, address, "", verified=True, now=now).id


@dataclass
class LoginThrottle:
    """At most ``attempts`` wrong passwords per login in ``window``; then a pause.

    Each wrong guess also costs the server an scrypt, so unthrottled guessing
    is both a password attack and a CPU one. Kept in the process's memory:
    with several instances an attacker gets ``attempts`` per instance, which
    still turns millions of guesses into a handful per window.
    """

    MAX_LOGINS = 10_000

    attempts: int = 5
    window: timedelta = timedelta(minutes=15)
    _failures: dict[str, list[datetime]] = field(default_factory=dict)

    def _recent(self, login: str, now: datetime) -> list[datetime]:
        key = login.strip().casefold()
        kept = [t for t in self._failures.get(key, []) if now - t < self.window]
        if kept:
            self._failures[key] = kept
        else:
            self._failures.pop(key, None)
        return kept

    def blocked_for(self, login: str, now: datetime) -> timedelta | None:
        """How long this login must wait before the next try; None: it may try now."""
        recent = self._recent(login, now)
        if len(recent) < self.attempts:
            return None
        return recent[0] + self.window - now

    def failed(self, login: str, now: datetime) -> None:
        if len(self._failures) >= self.MAX_LOGINS:  # many made-up logins: forget the stale
            for key in list(self._failures):
                self._recent(key, now)
        self._recent(login, now)
        self._failures.setdefault(login.strip().casefold(), []).append(now)

    def succeeded(self, login: str) -> None:
        self._failures.pop(login.strip().casefold(), None)
