"""The ``dedup`` step: has the customer sent this before? (DESIGN §4)

Into the ticket it threads to: the same content again is a *repeat*,
collapsed for operators. As a new request: the same or a near-identical
request as one of the customer's open tickets is a *duplicate* and joins
that ticket; much like one closed within the reopen window, it is linked to
it as a *possible repeat*. The comparisons are ``desk.dedup``'s; this step
reads the candidates (at most one customer's few recent tickets, indexed).
"""

from __future__ import annotations

from dataclasses import replace

from gateway.desk import dedup, windows
from gateway.intake.model import Ctx, Flight, Seen
from gateway.intake.prepare import FRESH_CHARS
from gateway.mail.subject import thread_subject
from gateway.outcome import Wish
from gateway.store import messages, tickets
from gateway.store.tickets import OPEN_VALUES


def deduplicated(ctx: Ctx, flight: Flight) -> Flight:
    # Commands, nudges and the duplicate check read the top 8,000 characters. A reply's
    # quotes are cut (mail-parser-reply, intake's costliest step: 10 ms for a 50 KB
    # paste); a new request quotes nothing, and its signature repeats in every copy.
    top = flight.mail.text[:FRESH_CHARS]
    if flight.automatic:
        fresh = ""
    elif flight.state is not None:
        fresh = flight.prep.new_words(top)
    else:
        fresh = top.strip()
    seen, trace = _seen(ctx, flight, fresh)
    state = flight.state
    if seen.duplicate_of is not None:  # a new request that an open ticket already holds
        state = tickets.ticket_state(ctx.session, seen.duplicate_of, for_update=True)
    return replace(flight, fresh=fresh, seen=seen, state=state, trace=flight.noted(*trace))


def _seen(ctx: Ctx, flight: Flight, fresh: str) -> tuple[Seen, list[str]]:
    """Same content in this ticket, or the same request as another of the customer's?"""
    normalized = dedup.normalize(fresh)
    if not normalized:
        return Seen(), []
    digest = dedup.digest(normalized)
    request = dedup.request_text(
        thread_subject(flight.mail.subject), fresh, normalized_text=normalized
    )
    kept = (dedup.digest(request), request[: dedup.KEEP_CHARS])
    state = flight.state
    if state is not None:  # kept too: a follow-up ticket is compared with later requests
        earlier = messages.repeated_message(ctx.session, state.number, digest)
        if earlier is None:
            return Seen(digest=digest, request=kept), []
        return Seen(digest=digest, request=kept, repeat=True), [
            f"same content as message {earlier}"
        ]
    if Wish.NEW_TICKET in flight.prep.delivery.wishes:
        return Seen(digest=digest, request=kept), [
            "shown its look-alike on the support page, the customer chose a new ticket"
        ]
    assert flight.customer is not None
    policy = ctx.rules.policy
    candidates = [
        dedup.Candidate(r.id, r.status in OPEN_VALUES, r.request_digest, r.request_norm)
        for r in tickets.dedup_candidates(
            ctx.session, flight.customer.id, windows.repeat_since(ctx.now, policy)
        )
    ]
    match = dedup.best_match(request, candidates, policy.duplicate_similarity)
    if match is None:
        return Seen(digest=digest, request=kept), []
    how = "the same request" if match.exact else f"{match.score:.0%} like the request"
    if match.open:
        # The same mail again after the customer was told once: collapsed, nobody is told
        # again (one sender repeating a mail 500 times must not mail anyone 500 times).
        told = messages.copies_in(ctx.session, match.number, digest) >= 2
        trace = [f"duplicate: {how} of open ticket #{match.number}"]
        if told:
            trace.append("this content was already answered as a duplicate: nobody is told")
        return Seen(digest=digest, duplicate_of=match.number, score=match.score, repeat=told), trace
    return Seen(digest=digest, request=kept, related_to=match.number, score=match.score), [
        f"possible repeat: {how} of #{match.number}, closed in the last "
        f"{policy.reopen_days} days; operators are told"
    ]
