"""Who sent it, and is it a person? The ``classify`` step, and the RCPT-time refusal."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from gateway.intake.model import UNKNOWN_REFUSE, Ctx, Flight, IntakeRules
from gateway.intake.prepare import Prepared
from gateway.mail.classify import classify
from gateway.outcome import Outcome, OutcomeKind
from gateway.store import people


def sender_of(prep: Prepared) -> tuple[str, str]:
    """(address, display name): the From header, else the envelope sender."""
    if prep.parsed is not None and prep.parsed.from_ is not None and prep.parsed.from_.key:
        return prep.parsed.from_.key, prep.parsed.from_.name
    return (prep.delivery.mail_from or "").strip().lower(), ""


def classified(ctx: Ctx, flight: Flight) -> Flight | Outcome:
    """Human or automatic (RFC 3834, DSN, bulk, our own mail), and who the From names.

    With ``unknown_senders = "refuse"`` a person nobody knows is refused here
    (the SMTP edge refused most of them at RCPT already: no backscatter); a mail
    already kept (a quarantined one, run again) was accepted and stays so.
    """
    address, name = sender_of(flight.prep)
    customer, operator = people.find_people(ctx.session, address)
    verdict = classify(flight.mail, flight.prep.delivery.mail_from, ctx.rules.own_id_domains)
    if (
        not verdict.automatic
        and customer is None
        and operator is None
        and ctx.rules.unknown_senders == UNKNOWN_REFUSE
        and flight.raw_id is None
    ):
        return Outcome(OutcomeKind.UNKNOWN_SENDER, ctx.rules.register_hint, address=address)
    return replace(
        flight,
        verdict=verdict,
        sender=address,
        name=name,
        customer=customer,
        operator=operator,
        trace=flight.noted(verdict.reason),
    )


def check_sender(session: Session, address: str, rules: IntakeRules) -> Outcome | None:
    """The refusal that can be decided at RCPT time, before any data (no backscatter)."""
    if rules.unknown_senders != UNKNOWN_REFUSE or not address:
        return None
    address = address.lower()
    if any(people.find_people(session, address)):
        return None
    return Outcome(OutcomeKind.UNKNOWN_SENDER, rules.register_hint, address=address)
