"""Queries and writes, in SQLAlchemy Core on the caller's session.

Core rather than the ORM unit of work on the intake path: a mail is five to
eight small inserts, and intake runs at hundreds per second on one core, where
the ORM's bookkeeping would cost more than the database does. Every function
takes the session it runs in; none commits — the caller owns the transaction
(one per mail, or a savepoint per mail inside a group commit).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import (
    Boolean,
    Connection,
    Row,
    Table,
    TextClause,
    bindparam,
    event,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from gateway.desk.model import OPEN_STATUSES, Decision, Status, StatusChange, TicketState
from gateway.store.tables import (
    Attachment,
    Customer,
    Event,
    Message,
    Operator,
    RawMail,
    ThreadId,
    Ticket,
)


@dataclass(frozen=True, slots=True)
class Person:
    """A sender as the store knows them."""

    id: int
    email: str
    name: str
    verified: bool = False


_CONN = "gateway.store.repo.connection"


def _conn(session: Session) -> Connection:
    """The session's connection for this transaction, remembered: ``Session.connection()``
    costs about as much as a small statement, and intake runs ten statements a mail."""
    conn = session.info.get(_CONN)
    if conn is None:
        conn = session.info[_CONN] = session.connection()
    return conn


@event.listens_for(Session, "after_transaction_end")
def _forget_connection(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost one: the connection goes back to the pool
        session.info.pop(_CONN, None)


@lru_cache(maxsize=64)
def _conflict_free(table: Table, keys: tuple[str, ...], returning: bool) -> TextClause:
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


def _insert_ignoring_conflict(
    session: Session, table: Table, values: dict, *, returning: bool = True
) -> int | None:
    """Insert unless the unique key exists; the new id, or None when it existed.

    On PostgreSQL a concurrent insert of the same key by another instance waits
    for that transaction and then yields nothing: exactly-once without a lock.
    """
    conn = _conn(session)
    if conn.dialect.name not in ("sqlite", "postgresql"):
        try:
            with session.begin_nested():
                plain = insert(table).returning(table.c.id) if returning else insert(table)
                result = conn.execute(plain, values)
                return result.scalar() if returning else None
        except IntegrityError:
            return None
    result = conn.execute(_conflict_free(table, tuple(values), returning), values)
    return result.scalar() if returning else None


RAW = RawMail.__table__
CUSTOMERS = Customer.__table__
OPERATORS = Operator.__table__
TICKETS = Ticket.__table__
MESSAGES = Message.__table__
ATTACHMENTS = Attachment.__table__
THREAD_IDS = ThreadId.__table__
EVENTS = Event.__table__


# --- raw mail -------------------------------------------------------------


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
    return _insert_ignoring_conflict(
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
    _conn(session).execute(
        _SET_RAW_STATE, {"raw_id": raw_id, "new_state": state, "new_error": error}
    )


def raw_mails(session: Session, states: Iterable[str]) -> Sequence[Row]:
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


def raw_mail(session: Session, raw_id: int) -> Row | None:
    return session.execute(select(RawMail).where(RawMail.id == raw_id)).scalars().first()


# --- people ---------------------------------------------------------------


_FIND_CUSTOMER = select(
    CUSTOMERS.c.id, CUSTOMERS.c.email, CUSTOMERS.c.name, CUSTOMERS.c.verified
).where(CUSTOMERS.c.email == bindparam("email"))


def find_customer(session: Session, email: str) -> Person | None:
    row = _conn(session).execute(_FIND_CUSTOMER, {"email": email.lower()}).first()
    return Person(row.id, row.email, row.name, row.verified) if row else None


_FIND_PEOPLE = union_all(
    select(
        literal("c").label("kind"),
        CUSTOMERS.c.id,
        CUSTOMERS.c.email,
        CUSTOMERS.c.name,
        CUSTOMERS.c.verified,
    ).where(CUSTOMERS.c.email == bindparam("email")),
    select(
        literal("o").label("kind"),
        OPERATORS.c.id,
        OPERATORS.c.email,
        OPERATORS.c.name,
        literal(True).label("verified"),
    ).where(OPERATORS.c.email == bindparam("email")),
)


def find_people(session: Session, email: str) -> tuple[Person | None, Person | None]:
    """(customer, operator) for an address in one round trip: intake asks on every mail."""
    customer = operator = None
    for row in _conn(session).execute(_FIND_PEOPLE, {"email": email.lower()}):
        person = Person(row.id, row.email, row.name, bool(row.verified))
        if row.kind == "c":
            customer = person
        else:
            operator = person
    return customer, operator


def add_customer(
    session: Session, email: str, name: str, *, verified: bool, now: datetime
) -> Person:
    """Create the customer, or return the existing one (two instances may race here)."""
    email = email.lower()
    new_id = _insert_ignoring_conflict(
        session,
        CUSTOMERS,
        {"email": email, "name": name, "verified": verified, "created_at": now},
    )
    if new_id is not None:
        return Person(new_id, email, name, verified)
    found = find_customer(session, email)
    assert found is not None
    return found


_CUSTOMER_EMAIL = select(CUSTOMERS.c.email).where(CUSTOMERS.c.id == bindparam("id"))


def customer_email(session: Session, customer_id: int) -> str:
    """Built once: an imported operator's mail asks it every time (is it to the customer?)."""
    return _conn(session).execute(_CUSTOMER_EMAIL, {"id": customer_id}).scalar() or ""


def customers(session: Session) -> Sequence[Row]:
    return session.execute(select(Customer).order_by(Customer.id)).scalars().all()


_FIND_OPERATOR = select(OPERATORS.c.id, OPERATORS.c.email, OPERATORS.c.name).where(
    OPERATORS.c.email == bindparam("email")
)


def find_operator(session: Session, email: str) -> Person | None:
    row = _conn(session).execute(_FIND_OPERATOR, {"email": email.lower()}).first()
    return Person(row.id, row.email, row.name, True) if row else None


def add_operator(
    session: Session, name: str, email: str, password_hash: str | None, now: datetime
) -> int:
    return session.execute(
        insert(Operator)
        .values(name=name, email=email.lower(), password_hash=password_hash, created_at=now)
        .returning(Operator.id)
    ).scalar_one()


def operators(session: Session) -> Sequence[Operator]:
    return session.execute(select(Operator).order_by(Operator.id)).scalars().all()


# --- tickets --------------------------------------------------------------


_TICKET_STATE = select(
    TICKETS.c.id,
    TICKETS.c.status,
    TICKETS.c.customer_id,
    TICKETS.c.awaiting_since,
    TICKETS.c.closed_at,
    TICKETS.c.locked,
    TICKETS.c.reminded_for,
    TICKETS.c.duplicate_of,
).where(TICKETS.c.id == bindparam("number"))
_TICKET_STATE_LOCKED = _TICKET_STATE.with_for_update()


def ticket_state(session: Session, number: int, *, for_update: bool = False) -> TicketState | None:
    stmt = _TICKET_STATE_LOCKED if for_update else _TICKET_STATE
    row = _conn(session).execute(stmt, {"number": number}).first()
    return None if row is None else state_of(row)


def state_of(row: Row) -> TicketState:
    """A tickets row (with the columns of ``ticket_state``) as the machine sees it."""
    return TicketState(
        number=row.id,
        status=Status(row.status),
        customer_id=row.customer_id,
        awaiting_since=row.awaiting_since,
        closed_at=row.closed_at,
        locked=row.locked,
        reminded_for=row.reminded_for,
        merged_into=row.duplicate_of,
    )


def ticket_subject(session: Session, number: int) -> str:
    return session.scalar(select(TICKETS.c.subject).where(TICKETS.c.id == number)) or ""


_TICKET_EXISTS = select(TICKETS.c.id).where(TICKETS.c.id == bindparam("number"))


def open_numbers(session: Session, numbers: Sequence[int]) -> list[int]:
    """Which of these tickets are open, in the order given."""
    found: set[int] = set()
    for i in range(0, len(numbers), 500):
        chunk = numbers[i : i + 500]
        found.update(
            session.scalars(
                select(TICKETS.c.id).where(
                    TICKETS.c.id.in_(chunk), TICKETS.c.status.in_([s.value for s in OPEN_STATUSES])
                )
            )
        )
    return [n for n in numbers if n in found]


def ticket_exists(session: Session, number: int) -> bool:
    return _conn(session).execute(_TICKET_EXISTS, {"number": number}).first() is not None


_CREATE_TICKET = insert(TICKETS).returning(TICKETS.c.id)


def create_ticket(
    session: Session,
    *,
    subject: str,
    customer_id: int,
    decision: Decision,
    notify_address: str | None,
    locale: str,
    now: datetime,
    follow_up_of: int | None = None,
    request: tuple[str, str] | None = None,
    notify: bool = True,
) -> int:
    """A new ticket; ``request`` is its (digest, normalized text) for the duplicate catcher;
    ``notify`` False keeps the address for later but sends nothing (the customer asked)."""
    digest, normalized = request if request is not None else (None, None)
    return (
        _conn(session)
        .execute(
            _CREATE_TICKET,
            {
                "subject": subject,
                "customer_id": customer_id,
                "status": decision.status.value,
                "notify": notify and notify_address is not None,
                "notify_address": notify_address,
                "locale": locale,
                "created_at": now,
                "updated_at": now,
                "awaiting_since": decision.awaiting_since,
                "closed_at": decision.closed_at,
                "locked": decision.locked,
                "follow_up_of": follow_up_of,
                "request_digest": digest,
                "request_norm": normalized,
            },
        )
        .scalar_one()
    )


_UPDATE_TICKET = (
    update(TICKETS)
    .where(TICKETS.c.id == bindparam("number"))
    .values(
        status=bindparam("v_status"),
        awaiting_since=bindparam("v_awaiting_since"),
        closed_at=bindparam("v_closed_at"),
        locked=bindparam("v_locked"),
        # a locked ticket never reopens; any other is reopenable until the sweep says not
        reopenable=~bindparam("v_locked", type_=Boolean),
        updated_at=bindparam("v_now"),
    )
)


def update_ticket(session: Session, number: int, decision: Decision, now: datetime) -> None:
    _conn(session).execute(
        _UPDATE_TICKET,
        {
            "number": number,
            "v_status": decision.status.value,
            "v_awaiting_since": decision.awaiting_since,
            "v_closed_at": decision.closed_at,
            "v_locked": decision.locked,
            "v_now": now,
        },
    )


_DEDUP_CANDIDATES = (
    select(
        TICKETS.c.id,
        TICKETS.c.status,
        TICKETS.c.request_digest,
        TICKETS.c.request_norm,
    )
    .where(
        TICKETS.c.customer_id == bindparam("customer"),
        TICKETS.c.request_digest.is_not(None),
        TICKETS.c.duplicate_of.is_(None),
        or_(
            TICKETS.c.status.in_([s.value for s in OPEN_STATUSES]),
            TICKETS.c.closed_at >= bindparam("closed_since"),
        ),
    )
    # newest first through ix_tickets_customer_id: the scan stops at `most` rows
    .order_by(TICKETS.c.id.desc())
    .limit(bindparam("most"))
)


def dedup_candidates(
    session: Session, customer_id: int, closed_since: datetime, *, most: int = 20
) -> list[Row]:
    """The customer's newest open tickets and those closed since ``closed_since``.

    Read newest first through ``ix_tickets_customer_id`` and stopped at
    ``most``: the cost is a few index steps, however large the table grows,
    and even for a customer who has sent thousands of requests (issue 5).
    """
    params = {"customer": customer_id, "closed_since": closed_since, "most": most}
    return list(_conn(session).execute(_DEDUP_CANDIDATES, params))


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
    return _conn(session).execute(_REPEAT, {"ticket": ticket, "digest": digest}).scalar()


def set_assignee(session: Session, number: int, operator_id: int | None) -> None:
    session.execute(update(TICKETS).where(TICKETS.c.id == number).values(assignee_id=operator_id))


def set_notify(
    session: Session,
    number: int,
    *,
    notify: bool | None = None,
    address: str | None = None,
    pending_address: str | None = None,
) -> None:
    """Change a ticket's notification settings; a new address clears its bounce mark."""
    values: dict[str, object] = {}
    if address is not None:  # a new address turns notices on, unless asked otherwise below
        values.update(notify_address=address.lower(), notify_bounced=None, notify=True)
        values["notify_pending_address"] = None
    if notify is not None:
        values["notify"] = notify
    if pending_address is not None:
        values["notify_pending_address"] = pending_address.lower()
    if values:
        session.execute(update(TICKETS).where(TICKETS.c.id == number).values(**values))


def ticket_notify(session: Session, number: int) -> dict[str, object]:
    row = session.execute(
        select(
            TICKETS.c.notify,
            TICKETS.c.notify_address,
            TICKETS.c.notify_pending_address,
            TICKETS.c.notify_bounced,
        ).where(TICKETS.c.id == number)
    ).one()
    return dict(row._mapping)


def confirm_notify_address(session: Session, number: int, sender: str) -> bool:
    """The pending address becomes the notify address if ``sender`` is that address."""
    pending = session.scalar(select(TICKETS.c.notify_pending_address).where(TICKETS.c.id == number))
    if not pending or pending != sender.lower():
        return False
    set_notify(session, number, address=pending)
    return True


def add_events(
    session: Session,
    ticket: int,
    changes: Iterable[StatusChange],
    *,
    actor: str,
    at: datetime,
    message_pk: int | None,
) -> None:
    add_events_many(
        session, [(ticket, c) for c in changes], actor=actor, at=at, message_pk=message_pk
    )


def add_events_many(
    session: Session,
    changes: Sequence[tuple[int, StatusChange]],
    *,
    actor: str,
    at: datetime,
    message_pk: int | None = None,
) -> None:
    """Audit rows, for one ticket or many at once (the scheduler's batches)."""
    rows = [
        {
            "ticket_id": ticket,
            "at": at,
            "actor": actor,
            "from_status": c.from_.value if c.from_ else None,
            "to_status": c.to.value,
            "reason": c.reason,
            "message_pk": message_pk,
        }
        for ticket, c in changes
    ]
    if rows:
        _conn(session).execute(insert(EVENTS), rows)


def merge_ticket(
    session: Session, source: int, target: int, *, actor: str, reason: str, now: datetime
) -> int:
    """Move ``source``'s messages and thread ids into ``target`` and close ``source``.

    The caller holds both rows locked and has checked both are open. Returns
    the number of messages moved. ``source`` keeps its history and says where
    its messages went (``duplicate_of``); replies to its old mails now thread
    into ``target`` through the moved thread ids.
    """
    was = session.scalar(select(TICKETS.c.status).where(TICKETS.c.id == source))
    moved = session.execute(
        update(MESSAGES).where(MESSAGES.c.ticket_id == source).values(ticket_id=target)
    ).rowcount  # type: ignore[attr-defined]
    session.execute(
        update(THREAD_IDS).where(THREAD_IDS.c.ticket_id == source).values(ticket_id=target)
    )
    session.execute(
        update(TICKETS)
        .where(TICKETS.c.id == source)
        .values(
            status=Status.CLOSED.value,
            closed_at=now,
            awaiting_since=None,
            duplicate_of=target,
            reopenable=False,
            updated_at=now,
        )
    )
    add_events(
        session,
        source,
        [StatusChange(Status(was), Status.CLOSED, reason)],
        actor=actor,
        at=now,
        message_pk=None,
    )
    return int(moved or 0)


# --- messages and threading -----------------------------------------------


_ADD_MESSAGE = insert(MESSAGES).returning(MESSAGES.c.id)


def add_message(session: Session, **values: object) -> int:
    values.setdefault("operator_id", None)
    values.setdefault("customer_id", None)
    return _conn(session).execute(_ADD_MESSAGE, values).scalar_one()


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
        _conn(session).execute(insert(ATTACHMENTS), rows)


_ATTACHMENT_IDS = (
    select(ATTACHMENTS.c.id)
    .where(ATTACHMENTS.c.message_pk == bindparam("pk"))
    .order_by(ATTACHMENTS.c.id)
)


def attachment_ids(session: Session, message_pk: int) -> list[int]:
    return list(_conn(session).execute(_ATTACHMENT_IDS, {"pk": message_pk}).scalars())


def remember_thread_id(session: Session, message_id: str, ticket: int) -> None:
    """Map a Message-ID to its ticket; the first ticket to claim an id keeps it."""
    _insert_ignoring_conflict(
        session, THREAD_IDS, {"message_id": message_id, "ticket_id": ticket}, returning=False
    )


def remember_thread_ids(session: Session, pairs: Sequence[tuple[str, int]]) -> None:
    """Many ``(message_id, ticket)`` at once; existing ids keep their ticket."""
    if pairs:
        stmt = _conflict_free(THREAD_IDS, ("message_id", "ticket_id"), False)
        rows = [{"message_id": m, "ticket_id": t} for m, t in pairs]
        _conn(session).execute(stmt, rows)


_THREAD_LOOKUP = select(THREAD_IDS.c.message_id, THREAD_IDS.c.ticket_id).where(
    THREAD_IDS.c.message_id.in_(bindparam("ids", expanding=True))
)


def tickets_for_message_ids(session: Session, ids: Sequence[str]) -> dict[str, int]:
    if not ids:
        return {}
    rows = _conn(session).execute(_THREAD_LOOKUP, {"ids": list(ids)}).all()
    return {r.message_id: r.ticket_id for r in rows}


# --- listings -------------------------------------------------------------


def list_tickets(
    session: Session, *, status: str | None = None, customer: str | None = None
) -> Sequence[Row]:
    stmt = (
        select(Ticket, Customer.email.label("customer_email"))
        .join(Customer, Customer.id == Ticket.customer_id)
        .order_by(Ticket.id)
    )
    if status:
        stmt = stmt.where(Ticket.status == status)
    if customer:
        if customer.isdigit():
            stmt = stmt.where(Customer.id == int(customer))
        else:
            stmt = stmt.where(Customer.email == customer.lower())
    return session.execute(stmt).all()


def ticket_with_history(session: Session, number: int) -> tuple[Row, list, list, dict] | None:
    head = session.execute(
        select(Ticket, Customer.email.label("customer_email"))
        .join(Customer, Customer.id == Ticket.customer_id)
        .where(Ticket.id == number)
    ).first()
    if head is None:
        return None
    messages = list(
        session.execute(select(Message).where(Message.ticket_id == number).order_by(Message.id))
        .scalars()
        .all()
    )
    events = list(
        session.execute(select(Event).where(Event.ticket_id == number).order_by(Event.id))
        .scalars()
        .all()
    )
    files: dict[int, list[Row]] = {}
    if messages:
        for row in session.execute(
            select(
                Attachment.id,
                Attachment.message_pk,
                Attachment.filename,
                Attachment.content_type,
                Attachment.size,
                Attachment.sha256,
            ).where(Attachment.message_pk.in_([m.id for m in messages]))
        ):
            files.setdefault(row.message_pk, []).append(row)
    return head, messages, events, files


def held_messages(session: Session) -> Sequence[Message]:
    """Strangers' mails waiting for an operator's decision, oldest first."""
    return (
        session.execute(
            select(Message)
            .where(Message.author_kind == "stranger", Message.flags.contains("held"))
            .order_by(Message.id)
        )
        .scalars()
        .all()
    )


def message_row(session: Session, pk: int) -> Message | None:
    return session.get(Message, pk, with_for_update=True)


def count_rows(session: Session, table: type) -> int:
    return session.execute(select(func.count()).select_from(table)).scalar_one()
