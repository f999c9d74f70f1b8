"""The ``thread`` step: which ticket the mail names, strongest evidence first.

A signed reply address (unguessable), then In-Reply-To and References (any
Message-ID already on a ticket, the customer's own or ours, nearest first),
then the subject token (people edit subjects, forward, paste tokens), else a
new ticket. The rule itself is ``desk.thread.choose_ticket``; this step
gathers its evidence from the store.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.desk.model import TicketState
from gateway.desk.thread import ThreadClues, choose_ticket
from gateway.intake.model import Ctx, Flight
from gateway.mail.subject import find_token, format_token
from gateway.store import messages, tickets


def threaded(ctx: Ctx, flight: Flight) -> Flight:
    rules = ctx.rules
    choice = choose_ticket(clues(ctx, flight), lambda n: format_token(n, rules.token_format))
    return replace(flight, number=choice.number, trace=flight.noted(choice.reason))


def clues(ctx: Ctx, flight: Flight) -> ThreadClues:
    mail, session = flight.mail, ctx.session
    # nearest first, each once: linear (issue 14.2), the parser already capped the count
    wanted = list(dict.fromkeys((*mail.in_reply_to, *reversed(mail.references))))
    known = messages.tickets_for_message_ids(session, wanted)
    token = find_token(mail.subject, ctx.rules.token_format)
    reply_to = flight.addressed.reply_to
    if reply_to is not None and not tickets.ticket_exists(session, reply_to):
        reply_to = None
    return ThreadClues(
        reply_token=reply_to,
        referenced=tuple((mid, known[mid]) for mid in wanted if mid in known),
        subject_token=token,
        subject_token_exists=token is not None and tickets.ticket_exists(session, token),
    )


def locked_ticket(ctx: Ctx, number: int, trace: list[str]) -> TicketState | None:
    """The ticket, locked; one merged into another stands for that one (followed once)."""
    state = tickets.ticket_state(ctx.session, number, for_update=True)
    if state is not None and state.merged_into is not None:
        trace.append(f"#{state.number} was merged into #{state.merged_into}")
        state = tickets.ticket_state(ctx.session, state.merged_into, for_update=True)
    return state
