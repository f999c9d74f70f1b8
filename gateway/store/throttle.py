"""Wrong passwords counted in the database, so every instance sees them (issue 14.9).

Per process, N instances gave an attacker N times the tries; and the
submission port had no limit at all (100 wrong passwords, then the right one
accepted). A throttle key is a login or a client address, prefixed with the
channel; the rows older than the window are deleted as new ones come.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gateway.store.tables import LoginFailure

F = LoginFailure.__table__.c


def oldest_failures(
    session: Session, keys: Sequence[str], since: datetime
) -> dict[str, tuple[int, datetime]]:
    """key → (wrong passwords since ``since``, the oldest of them), for keys that have any."""
    rows = session.execute(
        select(F.key, func.count(), func.min(F.at))
        .where(F.key.in_(list(keys)), F.at >= since)
        .group_by(F.key)
    )
    return {key: (count, oldest) for key, count, oldest in rows}


def record_failure(session: Session, keys: Sequence[str], at: datetime, since: datetime) -> None:
    """One wrong password under each key; the rows of these keys before ``since`` go."""
    session.execute(delete(LoginFailure).where(F.key.in_(list(keys)), F.at < since))
    session.execute(LoginFailure.__table__.insert(), [{"key": k, "at": at} for k in keys])


def forget(session: Session, key: str) -> None:
    """A right password: that login's count starts again (its address's does not)."""
    session.execute(delete(LoginFailure).where(F.key == key))
