"""Customers and operators: registering them, and checking an operator's password."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.operations import Refused
from gateway.operations.passwords import hash_password, verify_password
from gateway.store import people

_DUMMY: list[str] = []  # one scrypt hash of nothing, made on first need


def add_customer(
    session: Session, email: str, name: str, *, verified: bool, now: datetime
) -> dict[str, object]:
    if "@" not in email or email.strip() != email or " " in email:
        raise Refused(f"{email!r} is not an e-mail address")
    if people.find_customer(session, email):
        raise Refused(f"customer {email} already exists; see `helpdesk customers list`")
    person = people.add_customer(session, email, name, verified=verified, now=now)
    return {"id": person.id, "email": person.email, "name": person.name, "verified": verified}


def add_operator(
    session: Session, name: str, email: str, hashed: str | None, now: datetime
) -> dict[str, object]:
    """A new operator; ``hashed`` is :func:`hash_password` of their SMTP AUTH password,
    made before the transaction (scrypt takes a while), or None for none."""
    if "@" not in email or " " in email:
        raise Refused(f"{email!r} is not an e-mail address")
    if not name.strip():
        raise Refused("the operator's NAME must not be empty")
    if people.find_operator(session, email):
        raise Refused(f"an operator with address {email} already exists")
    if any(o.name == name for o in people.operators(session)):
        raise Refused(f"an operator named {name!r} already exists")
    op_id = people.add_operator(session, name, email, hashed, now)
    return {"id": op_id, "name": name, "email": email.lower(), "password": bool(hashed)}


def authenticate(session: Session, login: str, password: str) -> str | None:
    """The operator's address for the right password, else None (SMTP AUTH, the page).

    The login is the operator's address (any case), or the operator's NAME
    (names are unique). Blocking — a query and scrypt — so callers on an event
    loop run it in a worker thread. A login that matches no operator with a
    password costs one scrypt too, so timing does not reveal it.
    """
    ops = people.operators(session)
    match = [o for o in ops if o.email == login.strip().lower()]
    match = match or [o for o in ops if o.name == login]
    found = [(o.email, o.password_hash) for o in match if o.password_hash]
    if len(found) != 1:
        if not _DUMMY:
            _DUMMY.append(hash_password(secrets.token_hex(16)))
        verify_password(password, _DUMMY[0])
        return None
    email, stored = found[0]
    return email if verify_password(password, stored) else None
