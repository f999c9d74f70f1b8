"""What the support page is given by ``app``: plain settings and the gateway's parts.

The page sits above intake and the operator verbs (import-linter enforces it)
and calls them directly: the ``Desk`` of ``operations`` for every operator
button (the same calls as ``helpdesk ticket …``), ``intake.retry`` for the
quarantine. What a customer writes goes through ``deliver``: the running
gateway's intake writer, exactly like a mail arriving over SMTP.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from gateway.desk.model import Policy
from gateway.intake import IntakeRules
from gateway.notify.enqueue import Notices
from gateway.notify.faq import FaqEntry
from gateway.operations.desk import Desk
from gateway.operations.logins import Logins
from gateway.outcome import Delivery, Outcome

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
    notices: Notices | None = None
    max_message_size: int = 25 * 1024 * 1024  # issue 15: the page's uploads fit in one mail


@dataclass(frozen=True)
class Backend:
    """The gateway's parts the page uses. Blocking ones are called from a thread."""

    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]
    deliver: Callable[[Delivery], Awaitable[Outcome]]
    desk: Desk
    intake: IntakeRules
    logins: Logins | None = None  # the operators' login throttle (issue 14.9); None: none
