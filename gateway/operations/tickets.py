"""The verbs that change a ticket, in the caller's transaction (DESIGN §6 ``helpdesk ticket …``).

Each loads the ticket under a row lock, asks ``desk.machine.decide`` — the
one function every status change goes through, merges and held mail too —
writes the decision with its audit rows (``store.tickets.apply_decision``)
and has its notices written by the ``Tell`` it was given. The terminal, the
page and an operator's mailed commands all come here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.desk.machine import RuleViolation, decide
from gateway.desk.model import (
    AuthorKind,
    Decision,
    HeldAccepted,
    Merged,
    OperatorActed,
    Policy,
    Status,
    TicketState,
)
from gateway.operations import Refused
from gateway.operations.ports import Tell
from gateway.store import messages, outbox, people, tickets
from gateway.store.people import Person


@dataclass(frozen=True)
class MailSource:
    """Where an operator's words came from: the terminal, or a mail we stored."""

    raw_mail_id: int | None = None
    message_id: str | None = None
    subject: str = ""
    html: str | None = None
    trace: tuple[str, ...] = ()
    how: str = "from the command line"
    # (filename, content type, bytes): the mail's attachments or the page's uploads,
    # stored with the message and, for a reply, sent on to the customer (issue 15).
    files: tuple[tuple[str, str, bytes], ...] = ()


def store_words(
    session: Session,
    number: int,
    person: Person,
    source: MailSource,
    text: str,
    *,
    flags: str,
    trace: list[str],
    now: datetime,
) -> int:
    """An operator's message row in the ticket; its Message-ID, if any, threads there."""
    pk = messages.add_message(
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
    messages.add_attachments(session, pk, source.files)
    if source.message_id:
        messages.remember_thread_id(session, source.message_id, number)
    return pk


def find_operator(session: Session, operator: str | Person) -> Person:
    """An operator by address or by name (or the one already found by intake); refused
    with what to do when there is none."""
    if isinstance(operator, Person):
        return operator
    person = people.find_operator(session, operator)
    if person is None:
        person = next(
            (
                Person(o.id, o.email, o.name, True)
                for o in people.operators(session)
                if o.name.casefold() == operator.casefold()
            ),
            None,
        )
    if person is None:
        raise Refused(f"no operator {operator!r}; add one with `helpdesk operators add`")
    return person


def locked_state(session: Session, number: int) -> TicketState:
    """The ticket under a row lock, or a refusal that names the listing to look in."""
    state = tickets.ticket_state(session, number, for_update=True)
    if state is None:
        raise Refused(f"there is no ticket #{number}; see `helpdesk tickets`")
    return state


def judged(state: TicketState, event: object, policy: Policy, now: datetime) -> Decision:
    """``decide``, with the machine's "cannot" as the verb's refusal."""
    try:
        return decide(state, event, policy, now)  # type: ignore[arg-type]
    except RuleViolation as exc:
        raise Refused(str(exc)) from None


def assign(session: Session, number: int, operator: str, assignee: str, now: datetime) -> dict:
    """Give the ticket to another operator; the status stays (taking it is theirs to do)."""
    find_operator(session, operator)
    target = find_operator(session, assignee)
    if not tickets.ticket_exists(session, number):
        raise Refused(f"there is no ticket #{number}; see `helpdesk tickets`")
    tickets.set_assignee(session, number, target.id)
    return {"number": number, "assignee": target.name}


def merge(
    session: Session,
    number: int,
    into: int,
    operator: str,
    now: datetime,
    policy: Policy,
    tell: Tell | None = None,
) -> dict:
    """Merge ticket ``number`` into ``into``: messages move, ``number`` closes as its duplicate."""
    person = find_operator(session, operator)
    states = {n: locked_state(session, n) for n in sorted({number, into})}  # lower first
    moved = merge_states(
        session,
        states[number],
        states[into],
        actor=f"operator:{person.name}",
        reason=f"merged into #{into} by operator {person.name}",
        now=now,
        policy=policy,
        tell=tell,
    )
    return {"number": number, "into": into, "messages_moved": moved}


def merge_states(
    session: Session,
    source: TicketState,
    target: TicketState,
    *,
    actor: str,
    reason: str,
    now: datetime,
    policy: Policy,
    tell: Tell | None,
) -> int:
    """A merge of two tickets the caller holds locked: the machine's decision, the
    conversation moved, the customer told once. Returns how many messages moved."""
    decision = judged(source, Merged(now, target, reason), policy, now)
    moved = tickets.move_conversation(session, source.number, target.number)
    tickets.apply_decision(session, source.number, source, decision, actor=actor, now=now)
    if tell is not None:
        extra = {"original_number": target.number, "merged_number": source.number}
        tell.one(session, target.number, "duplicate", now, extra=extra)
    return moved


def act(
    session: Session,
    number: int,
    operator: str | Person,
    action: str,
    now: datetime,
    policy: Policy,
    *,
    status: Status | None = None,
    reason: str = "",
    text: str = "",
    tell: Tell | None = None,
    source: MailSource | None = None,
) -> dict[str, object]:
    """Apply one operator action; returns the ticket's new status and what changed.

    ``source`` is the operator's mail when the action came by mail: the message
    row then keeps its raw bytes and Message-ID, so replies to it thread here.
    """
    person = find_operator(session, operator)
    state = locked_state(session, number)
    event = OperatorActed(at=now, action=action, status=status, reason=reason)
    decision = judged(state, event, policy, now)
    message_pk = None
    if action == "reply" and not text.strip():
        raise Refused("a reply needs text: --text TEXT, or pipe it on stdin")
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
        tickets.set_assignee(session, number, person.id)
    actor = f"operator:{person.name}"
    tickets.apply_decision(
        session, number, state, decision, actor=actor, now=now, message_pk=message_pk
    )
    queued: list[int] = []
    if tell is not None:
        extra: dict[str, object] = {}
        if action == "reply":
            extra = {"operator_name": person.name, "text": text}
            if source is not None and source.files and message_pk is not None:
                # The dispatcher attaches these stored files to the customer's mail.
                extra["attachment_ids"] = messages.attachment_ids(session, message_pk)
        queued = tell.decision(session, number, decision, now, extra=extra)
    # The operator hears at once when their answer will not reach the customer (issue 13).
    held = outbox.states_of(session, queued)
    undelivered = [why or state for state, why in held.values() if state != "pending"]
    return {
        "number": number,
        "notifications": queued,
        "undelivered": undelivered,
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
) -> dict:
    """An operator's decision on a stranger's held mail (guarantee 6).

    Accepted, it counts as the customer's message: the ticket comes back to
    the operators as if the customer had written. Rejected, it stays stored
    and visible, out of the conversation.
    """
    person = find_operator(session, operator)
    message = messages.message_row(session, message_pk)
    if message is None or "held" not in message.flags.split():
        raise Refused(f"no held mail {message_pk}; see `helpdesk held list`")
    flags = [f for f in message.flags.split() if f != "held"]
    message.flags = " ".join(sorted([*flags, "accepted" if accept else "rejected"]))
    trace = json.loads(message.trace)
    trace.append(f"{'accepted' if accept else 'rejected'} by operator {person.name}")
    message.trace = json.dumps(trace, ensure_ascii=False)
    number = message.ticket_id
    status = None
    if accept:
        state = locked_state(session, number)
        decision = judged(state, HeldAccepted(now), policy, now)
        tickets.apply_decision(
            session,
            number,
            state,
            decision,
            actor=f"operator:{person.name}",
            now=now,
            message_pk=message_pk,
        )
        status = decision.status.value
    return {
        "id": message_pk,
        "ticket": number,
        "decision": "accepted" if accept else "rejected",
        "status": status,
    }
