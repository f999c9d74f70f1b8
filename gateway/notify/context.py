"""What a template is given: the facts of the ticket, frozen when the change happens.

The mail must tell what was true at the moment of the change, whenever the
dispatcher gets to it, so the context is built here and stored in the outbox
row as JSON; templates never look anything up.
"""

from __future__ import annotations

from sqlalchemy import Row

from gateway.desk.model import Status
from gateway.mail.subject import format_token
from gateway.notify.words import command_reason

# RFC 3834: an answer to a customer's mail is "auto-replied"; what a timer or
# an operator's action causes is "auto-generated"; an operator's own words are not automatic.
AUTO_SUBMITTED = {
    "created": "auto-replied",
    "reopened": "auto-replied",
    "follow_up": "auto-replied",
    "locked_follow_up": "auto-replied",
    "duplicate": "auto-replied",
    "confirm_address": "auto-replied",
    "status": "auto-generated",
    "auto_closed": "auto-generated",
    "reminder": "auto-generated",
    "operator_reply": "no",
    "possible_repeat": "auto-generated",
    "escalation": "auto-generated",
    "operator_message": "auto-generated",
    "command_error": "auto-replied",
    "stranger_held": "auto-generated",
    "held_notice": "auto-replied",
    "imported": "auto-generated",  # ``helpdesk import --notify-open``: news of no mail of theirs
    "signin_link": "auto-generated",  # asked for on the support page, not by mail
    "digest_answer": "auto-replied",  # an answer to an operator's reply to the digest
}


def auto_submitted(kind: str) -> str:
    return AUTO_SUBMITTED.get(kind, "auto-generated")


def ticket_context(
    ticket: Row,
    kind: str,
    *,
    support: str,
    token_format: str,
    window_days: int,
    locale: str,
    extra: dict | None,
) -> dict:
    """What a template needs about the ticket, localized; ``extra`` adds the event's facts."""
    status = Status(ticket.status)
    context = {
        "ticket": {
            "number": ticket.id,
            "subject": ticket.subject,
            "token": format_token(ticket.id, token_format),
            "status": status.value,
            "status_label": status.label(locale),
        },
        "customer_name": ticket.customer_name or "",
        "support_address": support,
        "locale": locale,
        "window_days": window_days,
        **(extra or {}),
    }
    for key in ("old_status", "new_status"):
        if context.get(key):
            context[f"{key}_label"] = Status(context[key]).label(locale)
    if kind == "created":
        context.setdefault("text", "")  # the dispatcher adds matching FAQ entries
    if kind == "command_error":  # the reasons in the mail's language (issue 13)
        context["errors"] = [
            {**e, "reason": command_reason(e["reason"], locale)} for e in context.get("errors", [])
        ]
    if kind == "status":
        context.setdefault("reason", "")
        code, said = reason_code(context["reason"])
        context["reason_code"], context["admin_reason"] = code, said
        for key, default in (("by_customer", False), ("locked", False), ("reopen_until", "")):
            context.setdefault(key, default)
        context.setdefault("new_status", status.value)
    return context


def reason_code(reason: str) -> tuple[str, str]:
    """The audit reason of a change as a code the templates translate, and the words an
    operator meant for the customer (``#admin-close REASON``). The audit strings themselves
    ("resolved by operator", "customer replied") are English for operators: a customer
    never reads them (issue 13)."""
    if reason.startswith("closed administratively"):
        return "admin", reason.partition(":")[2].strip()
    codes = {
        "resolved by operator": "resolved",
        "closed by customer": "by_customer",
        "taken by operator": "taken",
    }
    if reason.startswith("no reply for"):
        return "no_reply", ""
    return codes.get(reason, ""), ""
