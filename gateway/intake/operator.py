"""The ``operator`` step: a proven operator's mail — the reply first, then the commands.

The commands are checked first (``intake.commands``): one wrong line and
nothing happens at all; the mail is kept, marked ``rejected``, and the
operator gets a ``command_error`` mail that names the line and says why.
Otherwise the reply (or note) and each command are the same verbs the
terminal runs (``operations.tickets``), in this mail's transaction; a verb the
ticket's state forbids is reported the same way, on the first line.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.desk.model import Policy, TicketState
from gateway.intake import commands
from gateway.intake.commands import Order, Wrong
from gateway.intake.model import Ctx, Flight
from gateway.intake.thread import locked_ticket
from gateway.mail.intent import parse_commands
from gateway.notify.enqueue import Notices
from gateway.operations import Refused
from gateway.operations import tickets as verbs
from gateway.outcome import Effect, Outcome, OutcomeKind, Trust
from gateway.store import contact, people, raw
from gateway.store.people import Person


def from_operator(ctx: Ctx, flight: Flight) -> Flight | Outcome:
    operator = flight.trusted
    if operator is None or flight.automatic:
        return flight
    session, mail, trace = ctx.session, flight.mail, list(flight.trace)
    assert flight.raw_id is not None
    if flight.number is None:
        reason = "an operator's mail that names no ticket: reply to a ticket's mail"
        raw.set_raw_state(session, flight.raw_id, "ignored", reason)
        return Outcome(OutcomeKind.STORED, reason, effect=Effect.IGNORED)
    state = locked_ticket(ctx, flight.number, trace)
    number = state.number if state is not None else flight.number
    fresh = flight.prep.new_words(mail.text)
    orders, wrong = _read_orders(ctx, flight, state, number, fresh, trace)
    reply = commands.body_after(fresh, orders, wrong)
    if flight.addressed.note_only and reply and all(o.name != "note" for o in orders):
        # A reply to mail for operators only (a held stranger's, a possible repeat) is
        # the team talking among itself: it never reaches the customer (issue 13).
        trace.append("sent to the operator's note address: kept as an internal note")
        orders = [Order("note", 0, ""), *orders]
    source = verbs.MailSource(
        raw_mail_id=flight.raw_id,
        message_id=mail.message_id,
        subject=mail.subject,
        html=mail.html,
        trace=tuple(trace),
        how="by mail",
        files=tuple((a.filename, a.content_type, a.data) for a in mail.attachments),
    )
    if not wrong:
        try:
            done = _carry_out(ctx, number, operator, orders, reply, source)
            return Outcome(
                OutcomeKind.STORED,
                f"ticket #{number}: {'; '.join(done)}",
                number,
                effect=Effect.OPERATOR,
            )
        except Refused as exc:  # the ticket's state forbids it: say so on line 1
            first = next((line.strip() for line in fresh.splitlines() if line.strip()), "")
            wrong = [Wrong(1, first, str(exc))]
    reject(
        session,
        number=number,
        operator=operator,
        wrong=wrong,
        source=source,
        text=mail.text,
        notices=ctx.rules.notices,
        now=ctx.now,
    )
    return Outcome(
        OutcomeKind.STORED,
        f"ticket #{number}: not applied, the operator is told",
        number,
        effect=Effect.OPERATOR,
    )


def _read_orders(
    ctx: Ctx,
    flight: Flight,
    state: TicketState | None,
    number: int,
    fresh: str,
    trace: list[str],
) -> tuple[list[Order], list[Wrong]]:
    """The commands, checked; an archived answer not sent to the customer is a note."""
    found, errors = parse_commands(fresh)
    orders, wrong = commands.check(ctx.session, found, errors, number)
    mail = flight.mail
    if flight.prep.delivery.trust is Trust.ARCHIVE and state is not None and not wrong:
        customer = people.customer_email(ctx.session, state.customer_id)
        if customer not in {a.key for a in (*mail.to, *mail.cc)}:  # e.g. a forward to a colleague
            trace.append(f"not addressed to the customer {customer}: kept as an internal note")
            orders = [Order("note", 0, ""), *orders]
    return orders, wrong


def _carry_out(
    ctx: Ctx,
    number: int,
    operator: Person,
    orders: list[Order],
    reply: str,
    source: verbs.MailSource,
) -> list[str]:
    """The checked mail, applied; a refusal undoes what it had done (a savepoint)."""
    # A verb that is refused refuses before it writes; only a mail of several
    # steps (a reply, then commands) needs a savepoint to undo the earlier ones.
    steps = sum(o.name != "note" for o in orders)
    steps += 1 if reply or len(orders) > steps else 0
    session = ctx.session
    with session.begin_nested() if steps > 1 else nullcontext():
        return apply(
            session,
            number=number,
            operator=operator,
            orders=orders if (orders or reply) else [],
            reply=reply,
            source=source,
            policy=ctx.rules.policy,
            notices=ctx.rules.notices,
            now=ctx.now,
        )


def apply(
    session: Session,
    *,
    number: int,
    operator: Person,
    orders: list[Order],
    reply: str,
    source: verbs.MailSource,
    policy: Policy,
    notices: Notices | None,
    now: datetime,
) -> list[str]:
    """Carry out a checked mail: the reply (or note) first, then the commands in order."""
    done: list[str] = []

    def act(action: str, **kw: object) -> None:
        result = verbs.act(session, number, operator, action, now, policy, tell=notices, **kw)  # type: ignore[arg-type]
        done.append(f"{action}: {result['status']}")

    names = {o.name for o in orders}
    if "note" in names:
        act("note", text=reply, source=source)
    elif reply:
        act("reply", text=reply, source=source)
    for o in orders:
        if o.name in ("take", "close"):
            act(o.name)
        elif o.name == "status":
            act("status", status=o.status)
        elif o.name == "admin_close":
            act("admin_close", reason=o.text)
        elif o.name == "assign":
            verbs.assign(session, number, operator.email, o.text, now)
            done.append(f"assigned to {o.text}")
        elif o.name == "notify":
            contact.set_notify(session, number, notify=o.switch)
            done.append(f"notifications {'on' if o.switch else 'off'}")
        elif o.name == "merge":
            assert o.number is not None
            verbs.merge(session, number, o.number, operator.email, now, policy, notices)
            done.append(f"merged into #{o.number}")
    return done


def reject(
    session: Session,
    *,
    number: int,
    operator: Person,
    wrong: list[Wrong],
    source: verbs.MailSource,
    text: str,
    notices: Notices | None,
    now: datetime,
) -> None:
    """Keep the mail (marked rejected, never sent) and tell the operator what to fix."""
    verbs.store_words(
        session,
        number,
        operator,
        source,
        text,
        flags="rejected",
        trace=[
            *(f"line {w.line} {w.text!r}: {w.reason}" for w in wrong),
            "nothing was changed and nothing was sent to the customer",
        ],
        now=now,
    )
    if notices is not None:
        notices.one(
            session,
            number,
            "command_error",
            now,
            to_address=operator.email,
            limited=False,  # a busy operator must still hear that a command failed
            extra={
                "operator_name": operator.name,
                "errors": [{"line": w.line, "text": w.text, "reason": w.reason} for w in wrong],
            },
        )
