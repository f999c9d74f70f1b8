"""The ``addressed`` step: what our signed sub-addresses among the recipients say.

    support+t<N>.<sig>@   a reply to ticket N (the Reply-To of every notification)
    support+o<N>.<sig>@   an operator's reply to ticket N, signed for that operator
    support+n<N>.<sig>@   an operator's internal note on ticket N, signed for that operator
    support+d0.<sig>@     an operator's reply to the digest: answered, never a ticket
    support+b<N>.<sig>@   a bounce of outbox row N (our envelope sender: VERP)
    support+c<N>.<sig>@   confirms a new notify address of ticket N, signed for it

A signature that does not match is noted and not trusted (``mail.reply_address``).
"""

from __future__ import annotations

from dataclasses import replace

from gateway.intake.model import Addressed, Ctx, Flight
from gateway.mail import reply_address


def addressed(ctx: Ctx, flight: Flight) -> Flight:
    found, trace = read(
        flight.prep.delivery.rcpt_tos, ctx.rules.support, ctx.rules.secret, flight.sender
    )
    return replace(flight, addressed=found, trace=flight.noted(*trace))


def read(
    rcpt_tos: tuple[str, ...], support: str, secret: bytes, sender: str
) -> tuple[Addressed, list[str]]:
    """The first signed address among the recipients, and trace lines for forged ones."""
    trace: list[str] = []
    for rcpt in rcpt_tos:
        try:
            found = reply_address.read(rcpt, support, secret)
        except reply_address.BadToken:
            try:  # a confirmation address is signed together with the address it confirms
                found = reply_address.read(rcpt, support, secret, bound=sender)
            except reply_address.BadToken:
                trace.append(f"recipient {rcpt}: signature does not match; not trusted")
                continue
        if found is None:
            continue
        kind, number = found
        if kind == "t":
            return Addressed(reply_to=number), trace
        if kind == "o":
            trace.append(f"operator reply address of #{number}, signed for {sender}")
            return Addressed(reply_to=number, operator_reply=True), trace
        if kind == "n":  # issue 13: a reply to mail for operators only stays with operators
            trace.append(f"operator note address of #{number}, signed for {sender}: internal")
            return Addressed(reply_to=number, operator_reply=True, note_only=True), trace
        if kind == "d":
            trace.append(f"a reply to the operators' digest, signed for {sender}")
            return Addressed(digest=True), trace
        if kind == "b":
            trace.append(f"bounce of notification {number}")
            return Addressed(bounce_of=number), trace
        trace.append(f"confirms notify address of #{number}")
        return Addressed(confirms=number), trace
    return Addressed(), trace
