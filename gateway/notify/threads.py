"""How each mail threads, per recipient (issue 13).

``In-Reply-To`` names a mail this recipient holds — their own last message to us
about the ticket, or our last mail to them — and ``References`` is that
recipient's chain: its first mail and the last ten. The first mail an operator
got about a ticket is that ticket's anchor in their mailbox: every later copy,
held stranger or command error refers to it, so each ticket is one thread there.
Mail to someone else (another operator's copy, the operator's own submitted
answer for the customer) is never named: a client that never saw an id splits
the conversation on it (Gmail's rule, NeoMutt's thread view).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from gateway.store import recipients

LAST = 10  # the chain's last ids kept in References, after its first


class Threads:
    """The chains of a batch's recipients, read once, grown as the batch's mails are added.

    ``opened`` is a ticket the caller's mail opened a moment ago, with what each address
    holds of it (the customer: their own mail; anyone else: nothing): its chains need
    no query. A new request is most of a support address's mail, and the two queries
    were a seventh of the intake writer's statements (issue 16).
    """

    def __init__(
        self,
        session: Session,
        pairs: Sequence[tuple[int, str]],
        opened: tuple[int, dict[str, list[str]]] | None = None,
    ) -> None:
        number, held = opened if opened is not None else (None, {})
        rest = [(n, a) for n, a in pairs if n != number]
        self._chains = recipients.chains(session, rest) if rest else {}
        for address, ids in held.items():
            self._chains[(number, address.lower())] = list(ids)  # type: ignore[index]

    def place(self, number: int, address: str, message_id: str) -> tuple[str | None, list[str]]:
        """(In-Reply-To, References) of a new mail to ``address`` about ticket ``number``;
        the mail joins that chain, so the next one in the batch threads under it."""
        chain = self._chains.setdefault((number, address.lower()), [])
        if not chain:
            chain.append(message_id)
            return None, []
        parent = chain[-1]
        references = list(dict.fromkeys([chain[0], *chain[-LAST:]]))
        chain.append(message_id)
        return parent, references
