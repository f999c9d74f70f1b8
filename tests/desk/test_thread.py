"""Threading (which ticket a message belongs to) and authorship (guarantee 6).

Contract of :func:`choose_ticket`, strongest evidence first: signed reply address, then
In-Reply-To/References (nearest first), then the subject token if that ticket exists, else a
new ticket. It does not look at the sender: a token of another customer's ticket threads into
that ticket, and :func:`author_kind` then names the sender a stranger, so the caller holds the
message instead of appending it.
"""

from __future__ import annotations

import pytest

from gateway.desk.model import AuthorKind
from gateway.desk.thread import ThreadChoice, ThreadClues, author_kind, choose_ticket

# Ticket numbers used below, all different so a wrong choice cannot pass by accident.
SIGNED, REFERENCED, NEAREST, OLDER, SUBJECT, MISSING = 11, 22, 33, 44, 55, 66


def refs(*pairs: tuple[str, int]) -> tuple[tuple[str, int], ...]:
    """Known Message-IDs of the mail's In-Reply-To/References, nearest first."""
    return pairs


@pytest.mark.parametrize(
    ("clues", "number", "evidence"),
    [
        pytest.param(ThreadClues(), None, "no token, no known reference", id="no-clues"),
        # the subject token alone
        pytest.param(
            ThreadClues(subject_token=SUBJECT, subject_token_exists=True),
            SUBJECT,
            f"subject token [#{SUBJECT}]",
            id="subject-token",
        ),
        pytest.param(
            ThreadClues(subject_token=MISSING, subject_token_exists=False),
            None,
            f"[#{MISSING}] names no ticket",
            id="subject-token-unknown",
        ),
        # In-Reply-To / References alone
        pytest.param(
            ThreadClues(referenced=refs(("<a@example.ru>", REFERENCED))),
            REFERENCED,
            "<a@example.ru>",
            id="in-reply-to",
        ),
        pytest.param(
            ThreadClues(referenced=refs(("<near@x>", NEAREST), ("<old@x>", OLDER))),
            NEAREST,
            "<near@x>",
            id="references-nearest-first",
        ),
        # References beat the subject token (people edit subjects and paste tokens)
        pytest.param(
            ThreadClues(
                referenced=refs(("<a@example.ru>", REFERENCED)),
                subject_token=SUBJECT,
                subject_token_exists=True,
            ),
            REFERENCED,
            "<a@example.ru>",
            id="references-beat-subject-token",
        ),
        pytest.param(
            ThreadClues(
                referenced=refs(("<a@example.ru>", REFERENCED)),
                subject_token=MISSING,
                subject_token_exists=False,
            ),
            REFERENCED,
            "<a@example.ru>",
            id="references-beat-unknown-subject-token",
        ),
        # the signed reply address beats everything
        pytest.param(
            ThreadClues(
                reply_token=SIGNED,
                referenced=refs(("<a@example.ru>", REFERENCED)),
                subject_token=SUBJECT,
                subject_token_exists=True,
            ),
            SIGNED,
            f"signed reply address of #{SIGNED}",
            id="signed-address-beats-all",
        ),
        pytest.param(
            ThreadClues(reply_token=SIGNED),
            SIGNED,
            f"signed reply address of #{SIGNED}",
            id="signed-address",
        ),
    ],
)
def test_choose_ticket(clues: ThreadClues, number: int | None, evidence: str) -> None:
    """A mail joins the ticket its strongest clue names: signed address, references, then token."""
    choice = choose_ticket(clues)
    assert isinstance(choice, ThreadChoice)
    assert choice.number == number
    assert evidence in choice.reason  # the trace says which evidence decided


def test_subject_token_reason_uses_the_configured_token_format() -> None:
    """The trace names a subject token in the configured format, e.g. "(Заявка №55)"."""
    clues = ThreadClues(subject_token=SUBJECT, subject_token_exists=True)
    choice = choose_ticket(clues, lambda n: f"(Заявка №{n})")
    assert choice.number == SUBJECT
    assert f"(Заявка №{SUBJECT})" in choice.reason
    assert f"[#{SUBJECT}]" not in choice.reason


@pytest.mark.parametrize(
    ("is_operator", "sender_customer", "ticket_customer", "kind"),
    [
        pytest.param(False, 1, 1, AuthorKind.CUSTOMER, id="ticket-owner"),
        pytest.param(False, 1, None, AuthorKind.CUSTOMER, id="known-sender-new-ticket"),
        pytest.param(False, None, None, AuthorKind.CUSTOMER, id="unknown-sender-new-ticket"),
        pytest.param(False, 2, 1, AuthorKind.STRANGER, id="another-customer"),
        pytest.param(False, None, 1, AuthorKind.STRANGER, id="unknown-sender-existing-ticket"),
        pytest.param(True, None, 1, AuthorKind.OPERATOR, id="operator-any-ticket"),
        pytest.param(True, None, None, AuthorKind.OPERATOR, id="operator-no-ticket"),
        pytest.param(True, 2, 1, AuthorKind.OPERATOR, id="operator-also-a-customer"),
    ],
)
def test_author_kind(
    is_operator: bool, sender_customer: int | None, ticket_customer: int | None, kind: AuthorKind
) -> None:
    """The sender is the ticket's customer, a stranger to it, or an operator on any ticket."""
    assert (
        author_kind(
            sender_is_operator=is_operator,
            sender_customer_id=sender_customer,
            ticket_customer_id=ticket_customer,
        )
        is kind
    )


@pytest.mark.parametrize(
    ("sender_customer", "kind"),
    [
        pytest.param(1, AuthorKind.CUSTOMER, id="own-token"),
        pytest.param(2, AuthorKind.STRANGER, id="token-of-another-customer"),
        pytest.param(None, AuthorKind.STRANGER, id="token-from-unknown-sender"),
    ],
)
def test_token_of_another_customer_threads_but_marks_a_stranger(
    sender_customer: int | None, kind: AuthorKind
) -> None:
    """Guarantee 6: the token picks the ticket; authorship decides whether it lands there."""
    owners = {SUBJECT: 1}
    choice = choose_ticket(ThreadClues(subject_token=SUBJECT, subject_token_exists=True))
    assert choice.number == SUBJECT
    assert (
        author_kind(
            sender_is_operator=False,
            sender_customer_id=sender_customer,
            ticket_customer_id=owners[choice.number],
        )
        is kind
    )
