"""What the support page is given by ``app``: plain settings and the gateway's callables.

The page sits above intake and the operator actions and below ``app``
(import-linter enforces it), so it cannot call ``app.operator_action`` itself;
``app`` passes that function in, with its refusals turned into
:class:`Refused`, so the page does exactly what ``helpdesk ticket …`` does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from gateway.desk.model import Policy
from gateway.notify.faq import FaqEntry
from gateway.outcome import Delivery, Outcome
from gateway.store.notices import NoticeRules

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(Exception):
    """An action the gateway would not do; the message says why (shown to the operator)."""


@dataclass(frozen=True)
class WebConfig:
    """The page's settings, as plain values."""

    secret: bytes = field(repr=False)
    support: str
    domain: str
    base_url: str  # mailed sign-in links point here
    token_format: str = "[#{number}]"
    locale: str = "ru"
    policy: Policy = field(default_factory=Policy)
    trusted_header: str = ""  # empty: the control panel's header is not used
    trusted_proxies: tuple[Network, ...] = ()
    signin_lifetime: timedelta = timedelta(minutes=30)
    session_lifetime: timedelta = timedelta(hours=12)
    secure_cookie: bool = False
    faq: tuple[FaqEntry, ...] = ()
    notices: NoticeRules | None = None


@dataclass(frozen=True)
class Backend:
    """The gateway's abilities the page uses. Blocking ones are called from a thread."""

    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]
    deliver: Callable[[Delivery], Awaitable[Outcome]]
    authenticate: Callable[[str, str], str | None]  # (login, password) → operator address
    # (number, operator, action, status=, reason=, text=) → the CLI's result dict
    operator_action: Callable[..., dict[str, Any]]
    merge: Callable[[int, int, str], dict[str, Any]]  # (number, into, operator)
    assign: Callable[[int, str, str], dict[str, Any]]  # (number, assignee, operator)
    decide_held: Callable[[int, str, bool], dict[str, Any]]  # (id, operator, accept)
    retry_quarantined: Callable[[int], Outcome]
