"""Server-side sessions of the support page (issue 14.12).

Starlette's cookie holds the whole session, signed: signing out cleared one
browser's copy, but a copy taken before kept working until it expired. Now
signing in writes a row and the cookie carries only its id; every page checks
the row, and signing out ends it, on every instance at once.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.store.tables import WebSession

S = WebSession.__table__.c


def begin(session: Session, who: str, now: datetime) -> str:
    """A new session for ``who`` (``customer:<id>`` or ``operator:<address>``); its id."""
    sid = secrets.token_urlsafe(32)
    session.execute(WebSession.__table__.insert().values(sid=sid, who=who, created_at=now))
    return sid


def alive(session: Session, sid: object, who: str) -> bool:
    """Is ``sid`` a session of ``who`` that has not been signed out?"""
    if not isinstance(sid, str) or not sid or len(sid) > 64:
        return False
    row = session.execute(select(S.who, S.ended_at).where(S.sid == sid)).first()
    return row is not None and row.who == who and row.ended_at is None


def end(session: Session, sid: object, now: datetime) -> None:
    if isinstance(sid, str) and sid:
        session.execute(update(WebSession).where(S.sid == sid).values(ended_at=now))
