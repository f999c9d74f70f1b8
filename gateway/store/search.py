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
  Ranked by ``bm25``.

The matching fragment is cut and marked in Python from the same stems
(:func:`fragment`), the same on both backends.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import snowballstemmer
from sqlalchemy import Row, column, func, select, table, text
from sqlalchemy.orm import Session

from gateway.store.tables import Customer, Message, Ticket

WORD = re.compile(r"\w+")
CYRILLIC = re.compile(r"[а-я]")
LATIN = re.compile(r"[a-z]")
INDEXED_CHARS = 100_000  # of a message's text: a pasted 5 MB log is not a search document
CANDIDATES = 300  # the newest matching messages, ranked for an operator's query
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

_RU = snowballstemmer.stemmer("russian")
_EN = snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """One word's stem: Russian Snowball for Cyrillic, English (Porter 2) for Latin."""
    word = word.lower().replace("ё", "е")
    if CYRILLIC.search(word):
        return str(_RU.stemWord(word))
    if LATIN.search(word):
        return str(_EN.stemWord(word))
    return word


def stems(value: str) -> list[str]:
    return [stem(w) for w in WORD.findall(value)]


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


def _ranked(session: Session, query: str, customer_id: int | None) -> Sequence[Row]:
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
    words = sorted(set(stems(query)))
    if not words:
        return []
    catch_up(session)
    match = " ".join(f'"{w}"' for w in words)
    # FTS5 ranks inside the virtual table (ORDER BY rank: bm25, no join per match). An
    # operator's search ranks the newest CANDIDATES matches, as on PostgreSQL: bm25 of
    # every match of a common word (10,000 at 100,000 tickets) cost 9 ms of the page's
    # 20. FTS5 walks a word's rowids newest first and stops at the CANDIDATES-th, and
    # the rowid bound lets the ranking pass seek past the older ones. A customer's
    # search ranks all of theirs (a customer's tickets are few; they are filtered after).
    ranked = select(FTS.c.rowid, FTS.c.rank.label("score"))
    ranked = ranked.where(text(f"{SQLITE_TABLE} MATCH :q")).order_by(FTS.c.rank)
    if customer_id is None:
        oldest = text(
            f"rowid >= coalesce((SELECT rowid FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE}"
            f" MATCH :q ORDER BY rowid DESC LIMIT 1 OFFSET {CANDIDATES - 1}), 0)"
        )
        ranked = ranked.where(oldest).limit(CANDIDATES)
    best = ranked.subquery()
    stmt = (
        select(Message.id, Message.ticket_id)
        .join(best, best.c.rowid == Message.id)
        .order_by(best.c.score, Message.id.desc())
        .limit(CANDIDATES)
    )
    if customer_id is not None:  # only a customer's search filters by the ticket
        stmt = _visible(stmt.join(Ticket, Ticket.id == Message.ticket_id), customer_id)
    return session.execute(stmt, {"q": match}).all()


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
    for row in _ranked(session, query, customer_id):
        if len(hits) >= limit:
            break
        if row.ticket_id not in seen:
            seen.add(row.ticket_id)
            hits.append(Hit(row.ticket_id, row.id, False))
    return hits[:limit]


def fragment(query: str, body: str, width: int = 24) -> list[tuple[str, bool]]:
    """About ``width`` words of ``body`` around its first matching word, as
    (text, matched) pieces for the template to mark (it escapes every piece)."""
    wanted = set(stems(query))
    words = list(WORD.finditer(body))
    first = next((i for i, m in enumerate(words) if stem(m.group()) in wanted), None)
    if first is None:
        return [(body[:200], False)] if body else []
    lo = max(0, first - width // 3)
    hi = min(len(words), lo + width)
    start = words[lo - 1].end() if lo else 0
    end = words[hi].start() if hi < len(words) else len(body)
    pieces: list[tuple[str, bool]] = [("… " if lo else "", False)]
    at = start
    for m in words[lo:hi]:
        if stem(m.group()) in wanted:
            pieces += [(body[at : m.start()], False), (m.group(), True)]
            at = m.end()
    pieces += [(body[at:end], False), (" …" if hi < len(words) else "", False)]
    return [p for p in pieces if p[0]]
