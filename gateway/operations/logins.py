"""Passwords checked under a throttle that every instance shares (issue 14.9).

At most ``limit`` wrong passwords per login, and ``4 × limit`` per client
address, in ``window``; then the login (or address) waits until the oldest of
them leaves the window, and the password is not even checked — so the right
password after a hundred wrong ones is refused like the rest. The counts live
in the database (``store.throttle``), so N instances do not give N times the
tries. The submission listener and the page's operator login use it, each
under its own channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from gateway.store import db, throttle

Check = Callable[[str, str], str | None]
"""(login, password) → the operator's address, or None (scrypt: blocking)."""

ADDRESS_FACTOR = 4  # an office behind one NAT address has several operators


@dataclass(frozen=True)
class Logins:
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]
    check: Check
    limit: int = 5
    window: timedelta = timedelta(minutes=15)

    def attempt(
        self, channel: str, login: str, password: str, client: str | None
    ) -> str | timedelta | None:
        """The operator's address; None for a wrong password; how long to wait when throttled.

        Blocking (queries and scrypt): call it from a worker thread on an event loop.
        """
        now = self.clock()
        since = now - self.window
        by_login = f"{channel}-login:{login.strip().casefold()[:300]}"
        keys = [by_login] + ([f"{channel}-addr:{client[:64]}"] if client else [])
        limits = {by_login: self.limit, **{k: self.limit * ADDRESS_FACTOR for k in keys[1:]}}
        with self.sessions() as session:
            counts = throttle.oldest_failures(session, keys, since)
        waits = [
            oldest + self.window - now
            for key, (count, oldest) in counts.items()
            if self.limit > 0 and count >= limits[key]
        ]
        if waits:
            return max(max(waits), timedelta(seconds=1))
        who = self.check(login, password)
        with db.transaction(self.sessions) as session:
            if who is None:
                throttle.record_failure(session, keys, now, since)
            else:
                throttle.forget(session, by_login)
        return who

    def smtp(self, login: str, password: str, client: str | None) -> str | timedelta | None:
        """The submission listener's check."""
        return self.attempt("smtp", login, password, client)

    def web(self, login: str, password: str, client: str | None) -> str | timedelta | None:
        """The page's operator login."""
        return self.attempt("web", login, password, client)
