"""Customers and operators: who a sender is, in one round trip on the intake path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, literal, select, union_all
from sqlalchemy.orm import Session

from gateway.store.sql import CUSTOMERS, OPERATORS, conn, insert_ignoring_conflict
from gateway.store.tables import Customer, Operator


@dataclass(frozen=True, slots=True)
class Person:
    """A sender as the store knows them."""

    id: int
    email: str
    name: str
    verified: bool = False


_FIND_CUSTOMER = select(
    CUSTOMERS.c.id, CUSTOMERS.c.email, CUSTOMERS.c.name, CUSTOMERS.c.verified
).where(CUSTOMERS.c.email == bindparam("email"))


def find_customer(session: Session, email: str) -> Person | None:
    row = conn(session).execute(_FIND_CUSTOMER, {"email": email.lower()}).first()
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
    for row in conn(session).execute(_FIND_PEOPLE, {"email": email.lower()}):
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
    new_id = insert_ignoring_conflict(
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
    return conn(session).execute(_CUSTOMER_EMAIL, {"id": customer_id}).scalar() or ""


def customer_by_id(session: Session, customer_id: int) -> Person | None:
    row = session.execute(
        select(Customer.id, Customer.email, Customer.name, Customer.verified).where(
            Customer.id == customer_id
        )
    ).first()
    return Person(row.id, row.email, row.name, row.verified) if row else None


def customers(session: Session) -> Sequence[Customer]:
    return session.execute(select(Customer).order_by(Customer.id)).scalars().all()


_FIND_OPERATOR = select(OPERATORS.c.id, OPERATORS.c.email, OPERATORS.c.name).where(
    OPERATORS.c.email == bindparam("email")
)


def find_operator(session: Session, email: str) -> Person | None:
    row = conn(session).execute(_FIND_OPERATOR, {"email": email.lower()}).first()
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


_OPERATOR_ADDRESSES = select(Operator.email).order_by(Operator.id)


def operator_addresses(session: Session) -> list[str]:
    """Every operator's address, in the order they were added."""
    return list(conn(session).execute(_OPERATOR_ADDRESSES).scalars())
