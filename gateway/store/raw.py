"""Every accepted mail's bytes (guarantee 2), keyed for idempotent intake (guarantee 3)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.orm import Session

from gateway.store.sql import RAW, conn, insert_ignoring_conflict
from gateway.store.tables import RawMail


def store_raw(
    session: Session,
    *,
    idem_key: str,
    received_at: datetime,
    source: str,
    mail_from: str | None,
    rcpt_tos: Sequence[str],
    data: bytes,
    state: str = "processed",
    error: str | None = None,
) -> int | None:
    """Keep the bytes; None when a mail with this idempotency key is already stored."""
    return insert_ignoring_conflict(
        session,
        RAW,
        {
            "idem_key": idem_key,
            "received_at": received_at,
            "source": source,
            "mail_from": mail_from,
            "rcpt_tos": json.dumps(list(rcpt_tos)),
            "size": len(data),
            "data": data,
            "state": state,
            "error": error,
            "attempts": 1,
        },
    )


_SET_RAW_STATE = (
    update(RAW)
    .where(RAW.c.id == bindparam("raw_id"))
    .values(state=bindparam("new_state"), error=bindparam("new_error"))
)


def set_raw_state(session: Session, raw_id: int, state: str, error: str | None = None) -> None:
    conn(session).execute(
        _SET_RAW_STATE, {"raw_id": raw_id, "new_state": state, "new_error": error}
    )


def raw_mails(session: Session, states: Iterable[str]) -> Sequence[Row]:
    """The kept mails in these states, without their bytes (the quarantine's listing)."""
    return session.execute(
        select(
            RawMail.id,
            RawMail.received_at,
            RawMail.mail_from,
            RawMail.rcpt_tos,
            RawMail.size,
            RawMail.state,
            RawMail.error,
            RawMail.attempts,
        )
        .where(RawMail.state.in_(list(states)))
        .order_by(RawMail.id)
    ).all()


def head_of(session: Session, idem_key: str, size: int = 16384) -> tuple[str | None, bytes] | None:
    """The envelope sender and first ``size`` bytes of the mail kept under ``idem_key``."""
    row = session.execute(
        select(RawMail.mail_from, func.substr(RawMail.data, 1, size)).where(
            RawMail.idem_key == idem_key
        )
    ).first()
    return None if row is None else (row[0], bytes(row[1] or b""))


def raw_mail(session: Session, raw_id: int) -> RawMail | None:
    return session.execute(select(RawMail).where(RawMail.id == raw_id)).scalars().first()
