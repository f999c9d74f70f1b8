"""The last steps: the decision written, the people told, the answer given.

apply   the ticket (updated, or made: new, follow-up, linked), the message with
        its files and thread ids, an audit row per status change
notify  outbox rows in this transaction: the customer (what the decision names,
        settings asked for), every operator's copy, a possible repeat
answer  what the mail did, for the SMTP reply, the CLI and import's report
"""

from __future__ import annotations

from dataclasses import replace

from gateway.desk.model import AuthorKind, Decision, Disposition
from gateway.intake.customer import ECHO_CHARS
from gateway.intake.message import record
from gateway.intake.model import Ctx, Flight
from gateway.mail.subject import thread_subject
from gateway.outcome import Effect, Outcome, OutcomeKind, Wish
from gateway.store import contact, messages, tickets


def applied(ctx: Ctx, flight: Flight) -> Flight:
    decision, state, customer = flight.decision, flight.state, flight.customer
    assert decision is not None and customer is not None
    mail, seen, trace = flight.mail, flight.seen, list(flight.trace)
    if decision.disposition is Disposition.APPEND:
        assert state is not None
        number = state.number
    else:
        linked = state.number if state is not None else seen.related_to
        quiet = Wish.NO_EMAIL in flight.prep.delivery.wishes
        number = tickets.create_ticket(
            ctx.session,
            subject=thread_subject(mail.subject) or mail.subject.strip() or "(no subject)",
            customer_id=customer.id,
            decision=decision,
            notify_address=None if flight.automatic else flight.sender,
            locale=ctx.rules.locale,
            now=ctx.now,
            follow_up_of=linked,
            request=seen.request,
            notify=not quiet,
        )
        if quiet:
            trace.append("notifications off: the customer asked for no e-mail")
        if state is not None:
            trace.append(f"new ticket #{number}: follow-up of #{state.number}")
        elif seen.related_to is not None:
            trace.append(f"new ticket #{number}: linked to #{seen.related_to}")
    flight = replace(flight, trace=tuple(trace))
    pk = record(
        ctx,
        flight,
        number,
        AuthorKind.CUSTOMER,
        flight.sender,
        customer.id,
        decision.flags,
        digest=seen.digest,
    )
    actor = "system" if flight.automatic else f"customer:{flight.sender}"
    if decision.disposition is Disposition.APPEND:
        assert state is not None
        tickets.apply_decision(
            ctx.session, number, state, decision, actor=actor, now=ctx.now, message_pk=pk
        )
    else:
        tickets.add_events(
            ctx.session, number, decision.changes, actor=actor, at=ctx.now, message_pk=pk
        )
    return replace(flight, landed=number, message_pk=pk)


def notified(ctx: Ctx, flight: Flight) -> Flight:
    notices, decision, number = ctx.rules.notices, flight.decision, flight.landed
    if notices is None:
        return flight
    assert decision is not None and number is not None
    session, now, mail, state, seen = ctx.session, ctx.now, flight.mail, flight.state, flight.seen
    wanted = flight.wanted
    if wanted.notify is not None:
        contact.set_notify(session, number, notify=wanted.notify)
    if wanted.notify_to is not None:
        # Proof from the customer's own address (issue 13): a From can be forged, so the
        # confirmation goes to the address mail goes to now, and only a reply from it moves
        # the ticket's mail; a bouncing one holds it back, and an operator decides.
        contact.set_notify(session, number, pending_address=wanted.notify_to)
        current = contact.ticket_notify(session, number)["notify_address"] or flight.sender
        notices.one(
            session,
            number,
            "confirm_address",
            now,
            to_address=str(current),
            extra={"address": wanted.notify_to, "by_old": True},
        )
    extra: dict[str, object] = {}
    if "created" in decision.notices:  # the request, echoed: enough to recognise it
        request = mail.text.strip()
        extra["text"] = request[:ECHO_CHARS] + ("…" if len(request) > ECHO_CHARS else "")
    if state is not None and state.number != number:  # a follow-up of a closed ticket
        extra["old_number"] = state.number
        extra["days"] = (now - state.closed_at).days if state.closed_at else 0
    if "duplicate" in decision.notices:
        extra["original_number"] = number
    if seen.repeat and not decision.changed:  # collapsed: the same content again tells nobody
        return flight
    copies = None
    if not flight.automatic:  # the operators' copies: what they say, asked only if any is made

        def copies() -> dict[str, object]:
            files = (  # a mail's files are stored from its parts: none there, none stored
                messages.attachment_ids(session, flight.message_pk or 0) if mail.attachments else []
            )
            return {**_for_operators(flight, decision), "attachment_ids": files}

    opened = None
    if decision.disposition is not Disposition.APPEND and wanted.notify_to is None:
        # The ticket is this mail's own, and nothing was mailed about it yet (a
        # confirm_address above would have been): the customer holds their mail only.
        opened = {flight.sender.lower(): [mail.message_id]} if mail.message_id else {}
    notices.customer_mail(
        session,
        number,
        decision,
        now,
        trigger_id=mail.message_id,
        extra=extra,
        copies=copies,
        opened=opened,
    )
    if seen.related_to is not None and seen.score is not None:
        notices.team(
            session,
            number,
            "possible_repeat",
            now,
            extra={
                "old_number": seen.related_to,
                "old_subject": tickets.ticket_subject(session, seen.related_to),
                "similarity_percent": round(seen.score * 100),
                "customer": flight.sender,
                "text": flight.fresh[:ECHO_CHARS],
            },
        )
    return flight


def answered(ctx: Ctx, flight: Flight) -> Outcome:
    decision, seen = flight.decision, flight.seen
    assert decision is not None
    if decision.disposition is not Disposition.APPEND:
        effect = Effect.NEW_TICKET
    elif seen.duplicate_of is not None:
        effect = Effect.DUPLICATE
    elif seen.repeat:
        effect = Effect.REPEAT
    else:
        effect = Effect.THREADED
    return Outcome(OutcomeKind.STORED, f"ticket #{flight.landed}", flight.landed, effect=effect)


def _for_operators(flight: Flight, decision: Decision) -> dict[str, object]:
    """What an operator's copy of a customer's message says about it."""
    mail, customer, state = flight.mail, flight.customer, flight.state
    assert customer is not None
    if decision.disposition is Disposition.NEW_TICKET:
        event = "created"
    elif decision.disposition is Disposition.FOLLOW_UP:
        event = "follow_up"
    elif any(c.from_ is not None and c.from_.is_closed for c in decision.changes):
        event = "reopened"
    else:
        event = "message"
    extra: dict[str, object] = {
        "event": event,
        "customer": customer.email,
        "customer_verified": customer.verified,
        "customer_id": customer.id,
        "text": mail.text,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": len(a.data)}
            for a in mail.attachments
        ],
        "flags": sorted(f.value for f in decision.flags),
    }
    if event == "follow_up" and state is not None:
        extra["old_number"] = state.number
    return extra
