"""Outbox row → (envelope sender, message bytes): render both parts, compose, encode.

Building costs more than sending (two templates, the FAQ match, the MIME
structure), so copies of one event share what they have in common
(:class:`Shared`), and a backlog is built and sent by the delivery workers
(``notify.delivery``). The result depends only on the row, so a resend is the
same mail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Row

from gateway.mail import reply_address
from gateway.mail.compose import Outgoing
from gateway.mail.wire import Body, to_wire
from gateway.notify import audience
from gateway.notify.faq import FaqEntry, match_faq
from gateway.notify.render import Templates, resolve_locale

SENDER_NAMES = {"ru": "Техподдержка", "en": "Support"}


@dataclass(frozen=True)
class DispatchRules:
    support: str
    secret: bytes = field(repr=False)
    max_attempts: int = 8
    backoff: timedelta = timedelta(seconds=30)
    lease: timedelta = timedelta(minutes=5)
    batch: int = 500  # a backlog drains in big batches: claim and mark are per batch
    connections: int = 4  # to the smarthost at once: builds overlap the network round trips
    faq: tuple[FaqEntry, ...] = ()
    brand: str = ""  # HELPDESK_BRAND: From's name, the mail's header and footer (issue 13)


@dataclass(frozen=True)
class Letter:
    """What building needs of an outbox row, as plain values a worker process can take."""

    id: int
    kind: str
    locale: str
    context: str
    to_address: str
    message_id: str
    in_reply_to: str | None
    references: str
    auto_submitted: str
    created_at: datetime
    files: tuple[tuple[str, str, bytes], ...] = ()  # attached (an operator's copy)

    @classmethod
    def of(cls, row: Row, files: tuple[tuple[str, str, bytes], ...] = ()) -> Letter:
        return cls(
            row.id,
            row.kind,
            row.locale,
            row.context,
            row.to_address,
            row.message_id,
            row.in_reply_to,
            row.references,
            row.auto_submitted,
            row.created_at,
            files,
        )


@dataclass
class Shared:
    """What copies of one event have in common, made once for a batch (issue 16).

    Every operator's copy of a customer's message has the same kind, locale and
    context; only the address differs. Rendering both templates and encoding the
    body for each copy was most of the builder's CPU with three operators.
    """

    rendered: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)
    bodies: dict[tuple[str, str | None], Body] = field(default_factory=dict)


def build(
    letter: Letter, templates: Templates, rules: DispatchRules, shared: Shared | None = None
) -> tuple[str, bytes]:
    """(envelope sender, message bytes) of one outbox row; the same every time."""
    shared = shared or Shared()
    context = json.loads(letter.context)
    ticket = context.get("ticket")
    if ticket is None:  # the operators' digest is about many tickets, not one
        return _build_digest(letter, context, templates, rules)
    key = (letter.kind, letter.locale, letter.context)
    if key not in shared.rendered:
        shared.rendered[key] = _render(letter, context, ticket, templates, rules)
    text, html = shared.rendered[key]
    support_name = _sender_name(letter.locale, rules)
    from_name = support_name
    if letter.kind == "operator_reply" and context.get("operator_name"):
        from_name = f"{context['operator_name']} ({support_name})"
    reply_to = _reply_to(letter, context, ticket["number"], rules)
    message = to_wire(
        Outgoing(
            from_name=from_name,
            from_address=rules.support,
            to=letter.to_address,
            subject=f"{ticket['token']} {ticket['subject']}",
            message_id=letter.message_id,
            reply_to=reply_to,
            date=letter.created_at,
            text=text,
            html=html,
            in_reply_to=letter.in_reply_to,
            references=letter.references.split(),
            auto_submitted=letter.auto_submitted,
            headers={"X-Helpdesk-Ticket": str(ticket["number"])},
            attachments=letter.files,
            language=resolve_locale(letter.locale),
        ),
        shared.bodies,
    )
    bounce = reply_address.make(rules.support, rules.secret, "b", letter.id)
    return bounce, message


def _render(
    letter: Letter, context: dict, ticket: dict, templates: Templates, rules: DispatchRules
) -> tuple[str, str]:
    """Both parts of a ticket's notification; the FAQ suggestions go into ``created``."""
    if letter.kind == "created":  # the seed asks customers to check the FAQ first
        found = match_faq(rules.faq, f"{ticket['subject']}\n{context['text']}", letter.locale)
        context["faq"] = [{"question": e.question, "answer": e.answer, "url": e.url} for e in found]
    context["reply_kind"] = context.get("reply_kind") or audience.reply_kind(letter.kind)
    context["brand"] = rules.brand
    return templates.render(letter.kind, letter.locale, context)


def _reply_to(letter: Letter, context: dict, number: int, rules: DispatchRules) -> str:
    """The signed Reply-To ``notify.audience`` names for this kind of mail.

    ``c``, ``o``, ``n`` and ``d`` are signed together with the recipient's address: a
    confirmation only its own address can give, an operator's answer, note or digest
    reply that speaks for that operator only; ``t`` is the ticket's, for the customer.
    """
    kind = context.get("reply_kind") or audience.reply_kind(letter.kind)
    if not kind:
        return rules.support
    bound = letter.to_address if kind in ("c", *reply_address.OPERATOR_BOUND) else ""
    return reply_address.make(rules.support, rules.secret, kind, number, bound=bound)


def _build_digest(
    letter: Letter, context: dict, templates: Templates, rules: DispatchRules
) -> tuple[str, bytes]:
    context["reply_kind"] = audience.reply_kind(letter.kind)
    context["brand"] = rules.brand
    text, html = templates.render(letter.kind, letter.locale, context)
    message = to_wire(
        Outgoing(
            from_name=_sender_name(letter.locale, rules),
            from_address=rules.support,
            to=letter.to_address,
            subject=context["subject"],
            message_id=letter.message_id,
            reply_to=_reply_to(letter, context, 0, rules),
            date=letter.created_at,
            text=text,
            html=html,
            in_reply_to=letter.in_reply_to,  # a held notice threads under the stranger's mail
            references=letter.references.split(),
            auto_submitted=letter.auto_submitted,
            language=resolve_locale(letter.locale),
        )
    )
    bounce = reply_address.make(rules.support, rules.secret, "b", letter.id)
    return bounce, message


def _sender_name(locale: str, rules: DispatchRules) -> str:
    """The From name: the brand when one is set, else "Техподдержка" / "Support"."""
    return rules.brand or SENDER_NAMES.get(resolve_locale(locale), SENDER_NAMES["en"])


Built = tuple[str, bytes] | str  # (envelope, bytes), or why it could not be built


def build_many(letters: list[Letter], templates: Templates, rules: DispatchRules) -> list[Built]:
    out: list[Built] = []
    shared = Shared()
    for letter in letters:
        try:
            out.append(build(letter, templates, rules, shared))
        except Exception as exc:  # a template or data fault: the row fails, saying why
            out.append(f"cannot build: {exc.__class__.__name__}: {exc}")
    return out
