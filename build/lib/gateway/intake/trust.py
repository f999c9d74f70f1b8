"""The ``trust`` step: is this an operator's mail, proven? (guarantee 6)

A From header proves nothing. A mail speaks for an operator only when the edge
vouches for it or the mail carries proof:

1. **the archive** — ``helpdesk import`` replays the team's own mail, which an
   administrator chose to bring in; its operators' answers are what they were;
2. **the login** — the operator's client sent it through our submission
   listener with SMTP AUTH after STARTTLS, as that same address;
3. **DKIM** — a valid signature of the operator's domain on a mail to the
   reply address signed for that operator (``support+o<N>.<sig>@``).

Anything else with an operator's From is handled as anyone else's mail.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.intake import dkim
from gateway.intake.model import Ctx, Flight
from gateway.outcome import Effect, Outcome, OutcomeKind, Trust
from gateway.store import raw
from gateway.store.people import Person


def trusted(ctx: Ctx, flight: Flight) -> Flight | Outcome:
    delivery = flight.prep.delivery
    address, customer, operator = flight.sender, flight.customer, flight.operator
    archive = delivery.trust is Trust.ARCHIVE
    if archive and operator is None and ctx.rules.serves(address):
        reason = (
            f"sent from {address}, our own address, by no known operator: to import the "
            f"team's answers sent from it, add it first: helpdesk operators add NAME {address}"
        )
        assert flight.raw_id is not None
        raw.set_raw_state(ctx.session, flight.raw_id, "ignored", reason)
        return Outcome(OutcomeKind.STORED, reason, effect=Effect.IGNORED)
    trace: list[str] = []
    if customer is not None:
        trace.append(f"sender {address} known as customer {customer.id}")
    elif operator is not None and delivery.trust is not Trust.OPERATOR_LOGIN:
        trace.append(
            f"sender {address} claims to be operator {operator.name} but is not "
            "authenticated: handled as a customer or stranger"
        )
    if delivery.trust is Trust.CUSTOMER_SESSION:
        trace.append(f"sent from the support page, signed in as {delivery.login}")
    proven = _proven(ctx, flight, operator, trace)
    return replace(flight, trusted=proven, trace=flight.noted(*trace))


def _proven(ctx: Ctx, flight: Flight, operator: Person | None, trace: list[str]) -> Person | None:
    """The operator this mail speaks for, when it proves it; else None."""
    delivery = flight.prep.delivery
    if operator is not None and delivery.trust is Trust.ARCHIVE:
        trace.append(f"operator {operator.name}: their answer, imported from the team's archive")
        return operator
    login = delivery.login if delivery.trust is Trust.OPERATOR_LOGIN else None
    if operator is not None and login is not None and login.lower() == operator.email:
        trace.append(f"operator {operator.name}: authenticated by SMTP AUTH on submission")
        return operator
    if login is not None:
        trace.append(f"logged in as {login} but From is another address: not trusted")
        return None
    if operator is None or not flight.addressed.operator_reply or not ctx.rules.operator_dkim:
        return None
    domain = operator.email.rpartition("@")[2]
    keys = dict(ctx.rules.dkim_keys) if ctx.rules.dkim_keys is not None else None
    signer = dkim.signed_by(delivery.data, domain, keys)
    if signer is None:
        trace.append(
            f"to {operator.name}'s reply address, but no valid DKIM signature of {domain}: "
            "not trusted"
        )
        return None
    trace.append(f"operator {operator.name}: DKIM signature of {signer} and their reply address")
    return operator
