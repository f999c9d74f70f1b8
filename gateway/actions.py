"""Operator actions from a terminal (DESIGN §6 ``helpdesk ticket …``).

The same machine as mail intake decides them; this module only loads the
ticket under a row lock, applies the decision and writes the audit rows, all
in the caller's transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.desk.machine import RuleViolation, decide
from gateway.desk.model import (
    AuthorKind,
    CustomerWrote,
    Decision,
    Disposition,
    OperatorActed,
    Policy,
    Status,
    TicketState,
)
from gateway.store import repo
from gateway.store.notices import NoticeRules, enqueue_notices, notify


class ActionRefused(Exception):
    """The action cannot be done; the message says why and what to do instead."""


@dataclass(frozen=True)
class MailSource:
    """Where an operator's words came from: the terminal, or a mail we stored."""

    raw_mail_id: int | None = None
    message_id: str | None = None
    subject: str = ""
    html: str | None = None
    trace: tuple[str, ...] = ()
    how: str = "from the command line"


def store_words(
    session: Session,
    number: int,
    person: repo.Person,
    source: MailSource,
    text: str,
    *,
    flags: str,
    trace: list[str],
    now: datetime,
) -> int:
    """An operator's message row in the ticket; its Message-ID, if any, threads there."""
    pk = repo.add_message(
        session,
        ticket_id=number,
        raw_mail_id=source.raw_mail_id,
        message_id=source.message_id,
        author_kind=AuthorKind.OPERATOR.value,
        author_address=person.email,
        operator_id=person.id,
        subject=source.subject,
        text=text,
        html=source.html,
        flags=flags,
        trace=json.dumps([*source.trace, *trace], ensure_ascii=False),
        defects="[]",
        sent_at=None,
        created_at=now,
    )
    if source.message_id:
        repo.remember_thread_id(session, source.message_id, number)
    return pk


def find_operator(session: Session, operator: str | repo.Person) -> repo.Person:
    """An operator by address or by name (or the one already found by intake); refused
    with what to do when there is none."""
    if isinstance(operator, repo.Person):
        return operator
    person = repo.find_operator(session, operator)
    if person is None:
        person = next(
            (
                repo.Person(o.id, o.email, o.name, True)
                for o in repo.operators(session)
                if o.name.casefold() == operator.casefold()
            ),
            None,
        )
    if person is None:
        raise ActionRefused(f"no operator {operator!r}; add one with `helpdesk operators add`")
    return person


def assign(session: Session, number: int, operator: str, assignee: str, now: datetime) -> dict:
    """Give the ticket to another operator; the status stays (taking it is theirs to do)."""
    find_operator(session, operator)
    target = find_operator(session, assignee)
    if not repo.ticket_exists(session, number):
        raise ActionRefused(f"there is no ticket #{number}; see `helpdesk tickets`")
    repo.set_assignee(session, number, target.id)
    return {"number": number, "assignee": target.name}


def merge(
    session: Session,
    number: int,
    into: int,
    operator: str,
    now: datetime,
    notices: NoticeRules | None = None,
) -> dict:
    """Merge ticket ``number`` into ``into``: messages move, ``number`` closes as its duplicate."""
    person = find_operator(session, operator)
    if number == into:
        raise ActionRefused(f"ticket #{number} cannot be merged into itself")
    first, second = sorted((number, into))
    states = {n: repo.ticket_state(session, n, for_update=True) for n in (first, second)}
    for n, state in states.items():
        if state is None:
            raise ActionRefused(f"there is no ticket #{n}; see `helpdesk tickets`")
        if state.merged_into is not None:
            raise ActionRefused(f"ticket #{n} was already merged into #{state.merged_into}")
    if states[number].customer_id != states[into].customer_id:  # type: ignore[union-attr]
        raise ActionRefused(
            f"tickets #{number} and #{into} belong to different customers; only one "
            "customer's tickets can be merged"
        )
    if states[into].locked:  # type: ignore[union-attr]
        raise ActionRefused(f"ticket #{into} is locked (closed administratively)")
    moved = repo.merge_ticket(
        session,
        number,
        into,
        actor=f"operator:{person.name}",
        reason=f"merged into #{into} by operator {person.name}",
        now=now,
    )
    if notices is not None:
        notify(
            session,
            into,
            "duplicate",
            notices,
            now,
            extra={"original_number": into, "merged_number": number},
        )
    return {"number": number, "into": into, "messages_moved": moved}


def act(
    session: Session,
    number: int,
    operator: str | repo.Person,
    action: str,
    now: datetime,
    policy: Policy,
    *,
    status: Status | None = None,
    reason: str = "",
    text: str = "",
    notices: NoticeRules | None = None,
    source: MailSource | None = None,
) -> dict[str, object]:
    """Apply one operator action; returns the ticket's new status and what changed.

    ``source`` is the operator's mail when the action came by mail: the message
    row then keeps its raw bytes and Message-ID, so replies to it thread here.
    """
    person = find_operator(session, operator)
    state = repo.ticket_state(session, number, for_update=True)
    if state is None:
        raise ActionRefused(f"there is no ticket #{number}; see `helpdesk tickets`")
    try:
        decision = decide(
            state, OperatorActed(at=now, action=action, status=status, reason=reason), policy, now
        )
    except RuleViolation as exc:
        raise ActionRefused(str(exc)) from None
    message_pk = None
    if action == "reply" and not text.strip():
        raise ActionRefused("a reply needs text: --text TEXT, or pipe it on stdin")
    if text or action == "note":
        src = source or MailSource()
        message_pk = store_words(
            session,
            number,
            person,
            src,
            text,
            flags="note" if action == "note" else "",
            trace=[f"{action} by operator {person.name} {src.how}"],
            now=now,
        )
    if action == "take":
        repo.set_assignee(session, number, person.id)
    _write(session, number, state, decision, person, now, message_pk)
    queued: list[int] = []
    if notices is not None:
        extra = {"operator_name": person.name, "text": text} if action == "reply" else {}
        queued = enqueue_notices(session, number, decision, notices, now, extra=extra)
    return {
        "number": number,
        "notifications": queued,
        "status": decision.status.value,
        "changed": decision.changed,
        "trace": list(decision.trace),
    }


def decide_held(
    session: Session,
    message_pk: int,
    operator: str,
    *,
    accept: bool,
    now: datetime,
    policy: Policy,
    notices: NoticeRules | None = None,
) -> dict:
    """An operator's decision on a stranger's held mail (guarantee 6).

    Accepted, it counts as the customer's message: the ticket comes back to
    the operators as if the customer had written. Rejected, it stays stored
    and visible, out of the conversation.
    """
    person = find_operator(session, operator)
    message = repo.message_row(session, message_pk)
    if message is None or "held" not in message.flags.split():
        raise ActionRefused(f"no held mail {message_pk}; see `helpdesk held list`")
    flags = [f for f in message.flags.split() if f != "held"]
    message.flags = " ".join(sorted([*flags, "accepted" if accept else "rejected"]))
    trace = json.loads(message.trace)
    trace.append(f"{'accepted' if accept else 'rejected'} by operator {person.name}")
    message.trace = json.dumps(trace, ensure_ascii=False)
    number = message.ticket_id
    status = None
    if accept:
        state = repo.ticket_state(session, number, for_update=True)
        assert state is not None
        decision = decide(state, CustomerWrote(at=now), policy, now)
        if decision.disposition is not Disposition.APPEND:
            raise ActionRefused(
                f"ticket #{number} is closed and cannot reopen; ask the sender to write a new "
                "request, or reject the held mail"
            )
        _write(session, number, state, decision, person, now, message_pk)
        status = decision.status.value
    return {
        "id": message_pk,
        "ticket": number,
        "decision": "accepted" if accept else "rejected",
        "status": status,
    }


def _write(
    session: Session,
    number: int,
    state: TicketState,
    decision: Decision,
    person: repo.Person,
    now: datetime,
    message_pk: int | None,
) -> None:
    """The ticket's new state and its audit rows, when the decision moved anything."""
    if decision.changed or decision.awaiting_since != state.awaiting_since:
        repo.update_ticket(session, number, decision, now)
        repo.add_events(
            session,
            number,
            decision.changes,
            actor=f"operator:{person.name}",
            at=now,
            message_pk=message_pk,
        )
