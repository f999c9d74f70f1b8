"""Operator actions from a terminal (DESIGN §6 ``helpdesk ticket …``).

The same machine as mail intake decides them; this module only loads the
ticket under a row lock, applies the decision and writes the audit rows, all
in the caller's transaction.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.desk.machine import RuleViolation, decide
from gateway.desk.model import AuthorKind, OperatorActed, Policy, Status
from gateway.store import repo
from gateway.store.notices import NoticeRules, enqueue_notices


class ActionRefused(Exception):
    """The action cannot be done; the message says why and what to do instead."""


def act(
    session: Session,
    number: int,
    operator: str,
    action: str,
    now: datetime,
    policy: Policy,
    *,
    status: Status | None = None,
    reason: str = "",
    text: str = "",
    notices: NoticeRules | None = None,
) -> dict[str, object]:
    """Apply one operator action; returns the ticket's new status and what changed."""
    person = repo.find_operator(session, operator)
    if person is None:
        person = next(
            (
                repo.Person(o.id, o.email, o.name, True)
                for o in repo.operators(session)
                if o.name == operator
            ),
            None,
        )
    if person is None:
        raise ActionRefused(f"no operator {operator!r}; add one with `helpdesk operators add`")
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
        message_pk = repo.add_message(
            session,
            ticket_id=number,
            raw_mail_id=None,
            message_id=None,
            author_kind=AuthorKind.OPERATOR.value,
            author_address=person.email,
            operator_id=person.id,
            subject="",
            text=text,
            html=None,
            flags="note" if action == "note" else "",
            trace=json.dumps([f"{action} by operator {person.name} from the command line"]),
            defects="[]",
            sent_at=None,
            created_at=now,
        )
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
