"""Messages of a ticket, their files, and the Message-IDs that thread replies into it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from gateway.store.sql import (
    ATTACHMENTS,
    MESSAGES,
    THREAD_IDS,
    conflict_free,
    conn,
    insert_ignoring_conflict,
)
from gateway.store.tables import Message

_ADD_MESSAGE = insert(MESSAGES).returning(MESSAGES.c.id)


def add_message(session: Session, **values: object) -> int:
    values.setdefault("operator_id", None)
    values.setdefault("customer_id", None)
    values.setdefault("digest", None)
    return conn(session).execute(_ADD_MESSAGE, values).scalar_one()


def add_attachments(
    session: Session, message_pk: int, files: Iterable[tuple[str, str, bytes]]
) -> None:
    rows = [
        {
            "message_pk": message_pk,
            "filename": name,
            "content_type": ctype,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "data": data,
        }
        for name, ctype, data in files
    ]
    if rows:
        conn(session).execute(insert(ATTACHMENTS), rows)


_ATTACHMENT_IDS = (
    select(ATTACHMENTS.c.id)
    .where(ATTACHMENTS.c.message_pk == bindparam("pk"))
    .order_by(ATTACHMENTS.c.id)
)


def attachment_ids(session: Session, message_pk: int) -> list[int]:
    return list(conn(session).execute(_ATTACHMENT_IDS, {"pk": message_pk}).scalars())


_REPEAT = (
    select(MESSAGES.c.id)
    .where(
        MESSAGES.c.ticket_id == bindparam("ticket"),
        MESSAGES.c.digest == bindparam("digest"),
        MESSAGES.c.author_kind == "customer",
    )
    .limit(1)
)


def repeated_message(session: Session, ticket: int, digest: str) -> int | None:
    """The earlier customer message of the ticket with this content digest, if any."""
    return conn(session).execute(_REPEAT, {"ticket": ticket, "digest": digest}).scalar()


def copies_in(session: Session, ticket: int, digest: str, cap: int = 2) -> int:
    """How many of the ticket's customer messages have this content digest, up to ``cap``:
    a request sent a third time has already been answered as a duplicate (issue 13)."""
    query = _REPEAT.limit(cap)
    return len(conn(session).execute(query, {"ticket": ticket, "digest": digest}).all())


def message_row(session: Session, pk: int) -> Message | None:
    """One message, locked: a held mail being decided."""
    return session.get(Message, pk, with_for_update=True)


def remember_thread_id(session: Session, message_id: str, ticket: int) -> None:
    """Map a Message-ID to its ticket; the first ticket to claim an id keeps it."""
    insert_ignoring_conflict(
        session, THREAD_IDS, {"message_id": message_id, "ticket_id": ticket}, returning=False
    )


def remember_thread_ids(session: Session, pairs: Sequence[tuple[str, int]]) -> None:
    """Many ``(message_id, ticket)`` at once; existing ids keep their ticket."""
    if pairs:
        stmt = conflict_free(THREAD_IDS, ("message_id", "ticket_id"), False)
        rows = [{"message_id": m, "ticket_id": t} for m, t in pairs]
        conn(session).execute(stmt, rows)


_THREAD_LOOKUP = select(THREAD_IDS.c.message_id, THREAD_IDS.c.ticket_id).where(
    THREAD_IDS.c.message_id.in_(bindparam("ids", expanding=True))
)


def tickets_for_message_ids(session: Session, ids: Sequence[str]) -> dict[str, int]:
    if not ids:
        return {}
    rows = conn(session).execute(_THREAD_LOOKUP, {"ids": list(ids)}).all()
    return {r.message_id: r.ticket_id for r in rows}
