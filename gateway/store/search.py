"""Full-text search over subjects and message texts, Russian and English (issue 15).

Two backends, one result shape:

* **PostgreSQL**: a stored generated column ``messages.search_vector`` =
  ``to_tsvector('russian', …) || to_tsvector('english', …)`` of a message's subject
  and text, with a GIN index (migration 0008): the database keeps it, nothing is
  kept in step by hand, and no query rebuilds a tsvector. Ranked by ``ts_rank``.
* **SQLite**: FTS5 has no Russian stemmer, so the words are stemmed here with
  Snowball (the algorithms PostgreSQL uses) and the stems go into a contentless
  FTS5 table ``search_fts`` whose rowid is the message's id. Contentless, not
  external-content: the indexed text (stems) exists nowhere else, so FTS5 could
  not re-read it from ``messages``. Messages are never edited or deleted, only
  added (a merge moves them, and the ticket is joined at query time), so the
  index is kept by appending: :func:`catch_up` adds every message above the
  highest indexed id; the migration fills it, the search calls it first.
  A token that punctuation joins (a domain, an address) is asked for as the phrase
  of its words (:func:`units`), as PostgreSQL's parser reads it whole. Ranked by
  ``bm25``, of the rows to rank only, weighing their rare words (:func:`_scored`).

The words' stems and the matching fragment shown for a hit are
:mod:`gateway.store.stems`'s, the same on both backends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, column, func, select, table, text
from sqlalchemy.orm import Session

from gateway.store.stems import stems
from gateway.store.tables import Customer, Message, Ticket

INDEXED_CHARS = 100_000  # of a message's text: a pasted 5 MB log is not a search document
CANDIDATES = 300  # the newest matching messages, ranked for an operator's query
BATCH = 50  # SQLite: ranked messages whose tickets are looked up at a time
RECENT = 6_000  # PostgreSQL: the newest messages a common word's CANDIDATES are sought in
HIDDEN_FLAGS = ("note", "held", "rejected", "auto")  # what customers never see or find
# PostgreSQL: a stored generated column (computed once, when a message is written: the
# query never rebuilds a tsvector) and the GIN index over it (migration 0008).
PG_EXPRESSION = (
    "to_tsvector('russian'::regconfig, subject || ' ' || left(text, 100000))"
    " || to_tsvector('english'::regconfig, subject || ' ' || left(text, 100000))"
)
PG_COLUMN = "search_vector"
PG_VECTOR = f"messages.{PG_COLUMN}"
PG_INDEX = "ix_messages_search"
SQLITE_TABLE = "search_fts"

FTS = table(SQLITE_TABLE, column("rowid"), column("rank"))


def document(subject: str, body: str) -> str:
    """What the SQLite index holds for one message: its stems, space-separated."""
    return " ".join(stems(f"{subject} {body[:INDEXED_CHARS]}"))


def is_schema_object(name: str | None) -> bool:
    """The search index's own tables and index, which the models do not describe
    (FTS5's virtual and shadow tables, the expression index): migration compares skip them."""
    return bool(name) and (str(name).startswith(SQLITE_TABLE) or name in (PG_INDEX, PG_COLUMN))


def catch_up(session: Session, batch: int = 2000) -> int:
    """Add the messages not yet in the SQLite index; how many. Nothing to do on PostgreSQL."""
    if session.get_bind().dialect.name != "sqlite":
        return 0
    added = 0
    while True:
        last = session.scalar(text(f"SELECT coalesce(max(rowid), 0) FROM {SQLITE_TABLE}"))
        rows = session.execute(
            select(Message.id, Message.subject, Message.text)
            .where(Message.id > last)
            .order_by(Message.id)
            .limit(batch)
        ).all()
        if rows:
            session.execute(
                text(f"INSERT INTO {SQLITE_TABLE}(rowid, body) VALUES (:id, :body)"),
                [{"id": r.id, "body": document(r.subject, r.text)} for r in rows],
            )
            added += len(rows)
        if len(rows) < batch:
            return added


@dataclass(frozen=True)
class Hit:
    ticket: int
    message: int | None  # the best-matching message; None for an exact match
    exact: bool


def _visible(stmt: Any, customer_id: int | None) -> Any:
    if customer_id is None:
        return stmt
    stmt = stmt.where(
        Ticket.customer_id == customer_id, Message.author_kind.in_(["customer", "operator"])
    )
    for flag in HIDDEN_FLAGS:
        stmt = stmt.where(~Message.flags.contains(flag))
    return stmt


def _ranked(session: Session, query: str, customer_id: int | None) -> Iterable[Any]:
    """(message id, ticket id) of the best-matching messages, best first."""
    if session.get_bind().dialect.name == "postgresql":
        tsq = (
            "(websearch_to_tsquery('russian'::regconfig, :q)"
            " || websearch_to_tsquery('english'::regconfig, :q))"
        )
        # The newest CANDIDATES matches are ranked (ts_rank reads the stored vectors).
        # A common word has them among the newest RECENT messages: read those by id,
        # newest first (bounded, whatever the table's size; the GIN index would hand
        # over all 10,000 matches at 100,000 tickets, 35 ms). Fewer found there, the
        # word is rare enough for the GIN index to answer; "id + 0" keeps the planner
        # from walking the primary key backwards through every message instead.
        matching = (
            select(Message.id, Message.ticket_id)
            .join(Ticket, Ticket.id == Message.ticket_id)
            .where(text(f"{PG_VECTOR} @@ {tsq}"))
        )
        matching = _visible(matching, customer_id)
        top = session.scalar(select(func.max(Message.id))) or 0
        recent = matching.where(Message.id > top - RECENT).order_by(Message.id.desc())
        rows = _ts_ranked(session, recent.limit(CANDIDATES), tsq, query)
        if len(rows) < CANDIDATES:
            every = matching.order_by(text("messages.id + 0 DESC")).limit(CANDIDATES)
            rows = _ts_ranked(session, every, tsq, query)
        return rows
    return _fts_ranked(session, query, customer_id)


def units(query: str) -> list[str]:
    """The query for FTS5, every part required: a word's stem, or, for a token that
    punctuation joins (a domain ``shop12345.ru``, an address, ``SSL-сертификат``), the
    phrase of its stems: the token as a whole, as PostgreSQL's parser takes a host name
    or a compound word."""
    found: list[str] = []
    for token in query.split():
        words = stems(token)
        part = '"' + " ".join(words) + '"'
        if words and part not in found:
            found.append(part)
    return found


def _fts_ranked(session: Session, query: str, customer_id: int | None) -> Iterator[tuple[int, int]]:
    """SQLite: (message id, ticket id) of the best-matching messages, best first.

    An operator's search ranks the newest CANDIDATES matches, as on PostgreSQL: FTS5
    walks the matches newest first, stops at the CANDIDATES-th, and the ranking pass
    reads from there on (a rowid range). A customer's search ranks every match they may
    see (a customer's messages are few). bm25 orders them in SQLite, and their tickets
    are looked up best first, a batch at a time, as far as the caller reads (20
    tickets, not 300 messages' rows)."""
    parts = units(query)
    if not parts:
        return
    catch_up(session)
    every, scored = " ".join(parts), " ".join(_scored(session, parts))
    tickets: dict[int, int] = {}
    found: set[int] | None = None  # None: every row the ranking pass reads is one to rank
    if customer_id is not None:
        matching = select(FTS.c.rowid).where(text(f"{SQLITE_TABLE} MATCH :every"))
        mine = select(Message.id, Message.ticket_id).join(Ticket, Ticket.id == Message.ticket_id)
        mine = _visible(mine.where(Message.id.in_(matching)), customer_id)
        tickets.update(session.execute(mine, {"every": every}).tuples().all())
        found = set(tickets)
    elif scored != every:  # the rare parts' rows in the range may lack a common part
        newest = text(
            f"SELECT rowid FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE} MATCH :every"
            " ORDER BY rowid DESC LIMIT :n"
        )
        found = set(session.scalars(newest, {"every": every, "n": CANDIDATES}))
    if found is None:
        rows = (
            f"rowid >= coalesce((SELECT rowid FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE}"
            " MATCH :every ORDER BY rowid DESC LIMIT 1 OFFSET :k), 0)"
        )
    elif found:
        # "+rowid": a filter on the rows read, not a lookup FTS5 would make per id (and
        # bm25 would count its words' rows again for each); bm25 runs for these alone.
        rows = (
            f"rowid BETWEEN {min(found)} AND {max(found)}"
            " AND +rowid IN (SELECT value FROM json_each(:found))"
        )
    else:
        return
    ranking = text(
        f"SELECT rowid FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE} MATCH :scored AND {rows}"
        f" ORDER BY bm25({SQLITE_TABLE}), rowid DESC"
    )
    values = {"every": every, "scored": scored, "k": CANDIDATES - 1}
    ranked = list(session.scalars(ranking, {**values, "found": json.dumps(sorted(found or ()))}))
    for at in range(0, len(ranked), BATCH):
        batch = ranked[at : at + BATCH]
        unknown = [m for m in batch if m not in tickets]
        if unknown:
            owners = select(Message.id, Message.ticket_id).where(Message.id.in_(unknown))
            tickets.update(session.execute(owners).tuples().all())
        yield from ((m, tickets[m]) for m in batch if m in tickets)


def _scored(session: Session, parts: list[str]) -> list[str]:
    """The parts that bm25 weighs. bm25 reads every row of each part it weighs (for its
    IDF): *ru* of a domain, in every ticket, cost 7 ms at 100,000 tickets. A part in fewer
    than CANDIDATES messages is cheap to weigh and says the most; the common ones, in
    every row found anyway, weigh little, and are left out when a rare one is there.
    With none rare, the sparsest is weighed (its CANDIDATES-th newest row is the oldest)."""
    if len(parts) == 1:
        return parts
    nth = ", ".join(
        f"(SELECT rowid FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE} MATCH :p{i}"
        " ORDER BY rowid DESC LIMIT 1 OFFSET :k)"
        for i in range(len(parts))
    )
    values = {f"p{i}": p for i, p in enumerate(parts)}
    oldest = session.execute(text(f"SELECT {nth}"), {**values, "k": CANDIDATES - 1}).one()
    rare = [p for p, at in zip(parts, oldest, strict=True) if at is None]
    return rare or [min(zip(oldest, parts, strict=True))[1]]


def _ts_ranked(session: Session, found: Any, tsq: str, query: str) -> Sequence[Row]:
    """PostgreSQL: the messages ``found`` selects, best ``ts_rank`` first."""
    sub = found.subquery()
    stmt = (
        select(sub.c.id, sub.c.ticket_id)
        .join(Message, Message.id == sub.c.id)
        .order_by(text(f"ts_rank({PG_VECTOR}, {tsq}) DESC"), sub.c.id.desc())
    )
    return session.execute(stmt, {"q": query}).all()


def _exact(session: Session, query: str, customer_id: int | None) -> list[int]:
    """A ticket number (``123``, ``#123``) or, for operators, a customer's address."""
    q = query.strip()
    if re.fullmatch(r"#?\d{1,9}", q):
        stmt = select(Ticket.id).where(Ticket.id == int(q.lstrip("#")))
        if customer_id is not None:
            stmt = stmt.where(Ticket.customer_id == customer_id)
        return list(session.scalars(stmt))
    if customer_id is None and re.fullmatch(r"[^@\s]+@[^@\s]+", q):
        return list(
            session.scalars(
                select(Ticket.id)
                .join(Customer, Customer.id == Ticket.customer_id)
                .where(Customer.email == q.lower())
                .order_by(Ticket.id.desc())
                .limit(50)
            )
        )
    return []


def search(
    session: Session, query: str, *, customer_id: int | None = None, limit: int = 20
) -> list[Hit]:
    """Tickets for ``query``: exact matches first, then by the rank of their best message.

    ``customer_id`` limits it to that customer's tickets and the messages they can
    see (no internal notes, held or automatic mail) — a customer's search.
    """
    query = query.strip()[:500]
    if not query:
        return []
    hits = [Hit(n, None, True) for n in _exact(session, query, customer_id)]
    seen = {h.ticket for h in hits}
    for message, ticket in _ranked(session, query, customer_id):
        if len(hits) >= limit:
            break
        if ticket not in seen:
            seen.add(ticket)
            hits.append(Hit(ticket, message, False))
    return hits[:limit]
