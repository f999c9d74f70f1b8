"""A database outage, said once (issue 14, item 5).

The dispatcher wrote a 124-line traceback every second while PostgreSQL was
away (32 MB an hour). A loop that talks to the database keeps an
:class:`Outage`: the first failure that means "the database is not there" is
one line, the loop backs off (doubling to ``cap``), and the first success after
it is one line with how long it lasted. Anything else is a bug and is still
logged with its traceback by the caller.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from gateway.store.db import StoreUnavailable


def is_outage(exc: BaseException) -> bool:
    """The database cannot be reached or used now (not a bug of ours): retry later."""
    if isinstance(exc, OperationalError | InterfaceError | StoreUnavailable | ConnectionError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def one_line(exc: BaseException) -> str:
    """The driver's first line of the error, without SQLAlchemy's SQL and background link."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


class Outage:
    """One loop's view of the database: away (since when) or there; logs changes only."""

    def __init__(self, who: str, log: logging.Logger, *, first: float = 1.0, cap: float = 30.0):
        self._who, self._log = who, log
        self._first, self._cap = first, cap
        self.since: float | None = None  # monotonic time the outage began; None: no outage
        self.delay = first

    def failed(self, exc: BaseException) -> float:
        """Note a failure that :func:`is_outage`; how long to wait before the next try."""
        if self.since is None:
            self.since = time.monotonic()
            self.delay = self._first
            self._log.error(
                "%s: the database is unavailable (%s); retrying every %g s at most, "
                "quiet until it is back",
                self._who,
                one_line(exc),
                self._cap,
            )
        else:
            self.delay = min(self.delay * 2, self._cap)
        return self.delay

    def succeeded(self) -> None:
        """Note a success: one line if it ends an outage."""
        if self.since is not None:
            self._log.warning(
                "%s: the database is back after %.0f s", self._who, time.monotonic() - self.since
            )
            self.since = None
            self.delay = self._first
