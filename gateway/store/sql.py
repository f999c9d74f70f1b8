"""The statements every store module shares: the transaction's connection, and
"insert unless the key exists" as both backends spell it.

Core rather than the ORM unit of work on the intake path: a mail is five to
eight small inserts, and intake runs at hundreds per second on one core, where
the ORM's bookkeeping would cost more than the database does. Every store
function takes the session it runs in; none commits — the caller owns the
transaction (one per mail, or a savepoint per mail inside a group commit).
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Connection, Table, TextClause, bindparam, event, insert, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from gateway.store.tables import (
    Attachment,
    Customer,
    Event,
    Message,
    Operator,
    Outbox,
    RawMail,
    ThreadId,
    Ticket,
)

RAW = RawMail.__table__
CUSTOMERS = Customer.__table__
OPERATORS = Operator.__table__
TICKETS = Ticket.__table__
MESSAGES = Message.__table__
ATTACHMENTS = Attachment.__table__
THREAD_IDS = ThreadId.__table__
EVENTS = Event.__table__
OUTBOX = Outbox.__table__

_CONN = "gateway.store.sql.connection"


def conn(session: Session) -> Connection:
    """The session's connection for this (sub)transaction, remembered: ``Session.connection()``
    costs about as much as a small statement, and intake runs ten statements a mail.

    Remembered per savepoint, not once per transaction: ``begin_nested()`` emits its
    SAVEPOINT only when the connection is next asked for, so a connection cached from
    the outer transaction would run a group commit's "savepoint per mail" with no
    savepoint at all — one failing mail would abort its whole group on PostgreSQL and
    leave half its rows behind on SQLite.
    """
    level = session.get_nested_transaction() or session.get_transaction()
    found = session.info.get(_CONN)
    if found is None or found[0] is not level:
        found = session.info[_CONN] = (level, session.connection())
    return found[1]


class AbortedTransaction(Exception):
    """The database rolled this transaction back on its own; nothing of it is stored."""


@event.listens_for(Session, "before_commit")
def _refuse_an_aborted_commit(session: Session) -> None:
    """PostgreSQL answers COMMIT in a failed transaction with a silent ROLLBACK, and
    psycopg raises nothing: results computed in it would be reported as stored
    (guarantee 1). Make that commit fail instead, so the sender is told to retry."""
    found = session.info.get(_CONN)
    if found is None or found[1].dialect.name != "postgresql":
        return
    dbapi = found[1].connection.dbapi_connection
    status = getattr(getattr(dbapi, "info", None), "transaction_status", None)
    if status is not None and status.name == "INERROR":
        raise AbortedTransaction(
            "the database aborted this transaction after an error; nothing was committed"
        )


@event.listens_for(Session, "after_transaction_end")
def _forget_connection(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost one: the connection goes back to the pool
        session.info.pop(_CONN, None)


@lru_cache(maxsize=64)
def conflict_free(table: Table, keys: tuple[str, ...], returning: bool) -> TextClause:
    """INSERT … ON CONFLICT DO NOTHING [RETURNING id], as SQLite ≥ 3.35 and PostgreSQL
    both spell it. Written as text because SQLAlchemy cannot cache the dialects'
    on-conflict constructs, and recompiling per mail costs more than the insert."""
    sql = (
        f"INSERT INTO {table.name} ({', '.join(keys)}) "
        f"VALUES ({', '.join(':' + k for k in keys)}) ON CONFLICT DO NOTHING"
        + (" RETURNING id" if returning else "")
    )
    stmt = text(sql).bindparams(*(bindparam(k, type_=table.c[k].type) for k in keys))
    return stmt.columns(table.c.id) if returning else stmt  # type: ignore[return-value]


def insert_ignoring_conflict(
    session: Session, table: Table, values: dict, *, returning: bool = True
) -> int | None:
    """Insert unless the unique key exists; the new id, or None when it existed.

    On PostgreSQL a concurrent insert of the same key by another instance waits
    for that transaction and then yields nothing: exactly-once without a lock.
    """
    connection = conn(session)
    if connection.dialect.name not in ("sqlite", "postgresql"):
        try:
            with session.begin_nested():
                plain = insert(table).returning(table.c.id) if returning else insert(table)
                result = connection.execute(plain, values)
                return result.scalar() if returning else None
        except IntegrityError:
            return None
    result = connection.execute(conflict_free(table, tuple(values), returning), values)
    return result.scalar() if returning else None
