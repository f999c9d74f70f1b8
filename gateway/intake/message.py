"""A parsed mail as a message of a ticket: its row, its files, its Message-ID for threading."""

from __future__ import annotations

import json
from collections.abc import Iterable

from gateway.desk.model import AuthorKind, Flag
from gateway.intake.model import Ctx, Flight
from gateway.store import messages


def record(
    ctx: Ctx,
    flight: Flight,
    ticket: int,
    kind: AuthorKind,
    address: str,
    customer_id: int | None,
    flags: Iterable[Flag],
    *,
    digest: str | None = None,
) -> int:
    """Store the message with its decision trace; returns its row id."""
    mail = flight.mail
    session = ctx.session
    assert flight.raw_id is not None
    if flight.reused_id:
        flags = {*flags, Flag.REUSED_ID}
    pk = messages.add_message(
        session,
        ticket_id=ticket,
        raw_mail_id=flight.raw_id,
        message_id=mail.message_id,
        author_kind=kind.value,
        author_address=address,
        customer_id=customer_id,
        subject=mail.subject,
        text=mail.text,
        html=mail.html,
        flags=" ".join(sorted(f.value for f in flags)),
        trace=json.dumps(list(flight.trace), ensure_ascii=False),
        defects=json.dumps(list(mail.defects), ensure_ascii=False),
        sent_at=mail.date,
        created_at=ctx.now,
        digest=digest,
    )
    messages.add_attachments(
        session, pk, ((a.filename, a.content_type, a.data) for a in mail.attachments)
    )
    if mail.message_id:
        messages.remember_thread_id(session, mail.message_id, ticket)
    return pk
