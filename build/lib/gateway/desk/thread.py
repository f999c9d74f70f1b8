"""Which ticket a message belongs to, and who wrote it (guarantee 6).

Order of evidence, strongest first: a signed reply address (cannot be guessed),
then In-Reply-To and References (nearest first — any Message-ID already on a
ticket, the customer's own or ours), then the subject token (people edit
subjects, forward mails, and paste tokens), else a new ticket.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.desk.model import AuthorKind


@dataclass(frozen=True, slots=True)
class ThreadClues:
    reply_token: int | None = None
    referenced: tuple[tuple[str, int], ...] = ()
    subject_token: int | None = None
    subject_token_exists: bool = False


@dataclass(frozen=True, slots=True)
class ThreadChoice:
    number: int | None
    reason: str


def choose_ticket(
    clues: ThreadClues, token_text: Callable[[int], str] = lambda n: f"[#{n}]"
) -> ThreadChoice:
    if clues.reply_token is not None:
        n = clues.reply_token
        return ThreadChoice(n, f"threaded by signed reply address of #{n}")
    if clues.referenced:
        mid, number = clues.referenced[0]
        return ThreadChoice(number, f"threaded by References/In-Reply-To {mid} into #{number}")
    if clues.subject_token is not None:
        token = token_text(clues.subject_token)
        if clues.subject_token_exists:
            return ThreadChoice(clues.subject_token, f"threaded by subject token {token}")
        return ThreadChoice(None, f"subject token {token} names no ticket; new ticket")
    return ThreadChoice(None, "new ticket: no token, no known reference")


def author_kind(
    *, sender_is_operator: bool, sender_customer_id: int | None, ticket_customer_id: int | None
) -> AuthorKind:
    if sender_is_operator:
        return AuthorKind.OPERATOR
    if ticket_customer_id is None or sender_customer_id == ticket_customer_id:
        return AuthorKind.CUSTOMER
    return AuthorKind.STRANGER
