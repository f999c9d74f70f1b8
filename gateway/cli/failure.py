"""What went wrong, in one line a sysadmin can act on (guarantee 8, issue 14 item 18).

:func:`describe` turns the failures a command can meet — settings, the database,
the file system — into a sentence that says what to write or run instead; the
exception classes are imported here, when something failed, not at start.
:func:`redact` takes our paths and URLs out of what ``helpdesk ingest`` prints,
because Postfix quotes it to the sender of a bounced or delayed mail.
"""

from __future__ import annotations

import re

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S*[^\s:;,.]", re.IGNORECASE)
_PATH = re.compile(r"(?<![\w.~])/[^\s:;,'\")]+")


def redact(message: str) -> str:
    """The sentence without the URLs and absolute paths in it."""
    return _PATH.sub("[path]", _URL.sub("[url]", message))


def describe(exc: BaseException) -> tuple[str, bool]:
    """(one line, whether the failure is one we know how to explain)."""
    from gateway.config import ConfigError

    if isinstance(exc, ConfigError):
        return str(exc), True
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}", True
    from gateway.operations import Refused
    from gateway.store.db import NotMigrated, StoreUnavailable

    if isinstance(exc, Refused | NotMigrated | StoreUnavailable):
        return str(exc), True
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, SQLAlchemyError):
        from gateway.store.db import why

        return f"the database is not available: {why(exc)}", True
    return f"internal error: {exc.__class__.__name__}: {exc}", False
