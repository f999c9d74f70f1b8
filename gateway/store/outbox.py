"""The transactional outbox (guarantee 4): write the rows, and what operators ask of them.

A row is written in the same transaction as the change that caused it, so a
notification exists exactly when its change does: under the loop limit, or held
back with the reason. The dispatcher leases, sends and marks them
(:mod:`gateway.store.leases`); a crash between sending and marking sends a row again
with the same Message-ID — at worst a duplicate that mail clients fold, never a
lost mail.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from gateway.store.tables import Outbox

OUTBOX = Outbox.__table__
PENDING, SENT, FAILED, SUPPRESSED = "pending", "sent", "failed", "suppressed"


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` automatic answers to one address per ``window`` (guarantee 5)."""

    count: int = 10
    window: timedelta = timedelta(minutes=180)


# The loop limit guards against loops only (issue 13): it counts automatic *answers to
# incoming mail* (Auto-Submitted: auto-replied) — not a status change an operator made, not
# a sign-in link somebody asked for — and only rows already due: a row dated later (a
# what-if sweep ``--as-of`` a future day) is not yet mail that went anywhere.
LOOPING = "auto-replied"
# "Already due" allows for the clocks of instances that share the database: a row another
# instance dated a few seconds after this mail's ``now`` is mail that went out, not a
# what-if. Without the slack two instances let 12 answers through a limit of 10.
CLOCK_SLACK = timedelta(minutes=5)
# Held-back mails count too: a flood stays held until it pauses for a whole window.
# One grouped count per batch: the scheduler writes thousands of rows at once.
_RECENT_AUTOMATIC = (
    select(OUTBOX.c.to_address, func.count())
    .where(
        OUTBOX.c.to_address.in_(bindparam("addresses", expanding=True)),
        OUTBOX.c.created_at > bindparam("since"),
        OUTBOX.c.created_at <= bindparam("now"),
        OUTBOX.c.auto_submitted == LOOPING,
    )
    .group_by(OUTBOX.c.to_address)
)
_RECENT_ONE = select(func.count()).select_from(
    select(OUTBOX.c.id)
    .where(
        OUTBOX.c.to_address == bindparam("address"),
        OUTBOX.c.created_at > bindparam("since"),
        OUTBOX.c.created_at <= bindparam("now"),
        OUTBOX.c.auto_submitted == LOOPING,
    )
    .limit(bindparam("cap"))
    .subquery()
)
# Mail a person asked for, counted per address and per requester, each on its own.
# A flood held back does not prolong an address's wait; a flooding requester stays held.
_ASKED_TO = select(func.count()).where(
    OUTBOX.c.kind == bindparam("kind"),
    OUTBOX.c.to_address == bindparam("address"),
    OUTBOX.c.state != SUPPRESSED,
    OUTBOX.c.created_at > bindparam("since"),
    OUTBOX.c.created_at <= bindparam("now"),
)
_ASKED_BY = select(func.count()).where(
    OUTBOX.c.kind == bindparam("kind"),
    OUTBOX.c.requester == bindparam("requester"),
    OUTBOX.c.created_at > bindparam("since"),
    OUTBOX.c.created_at <= bindparam("now"),
)
_LOCK_ADDRESSES = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(a, 0)) "
    "FROM unnest(CAST(:addresses AS text[])) AS a ORDER BY a"
)
_INSERT = OUTBOX.insert().returning(OUTBOX.c.id)
# Many rows: one INSERT, each id matched to its row by the Message-ID (unique). Asking
# SQLAlchemy for the ids in parameter order instead makes it insert one row per
# statement on SQLite, which cannot promise RETURNING's order: four statements for a
# customer's notice and three operators' copies (issue 16).
_INSERT_MANY = OUTBOX.insert().returning(OUTBOX.c.id, OUTBOX.c.message_id)


@dataclass(frozen=True)
class Letter:
    """One notification to write; ``hold`` (a reason) keeps it from being sent."""

    ticket_id: int | None
    kind: str
    to_address: str
    locale: str
    context: dict
    auto_submitted: str
    message_id: str
    in_reply_to: str | None = None
    references: Sequence[str] = ()
    hold: str | None = None
    limited: bool = True  # False: to one of ours (an operator), never rate-limited
    requester: str | None = None  # who asked for it (a sign-in link, a confirmation)


def enqueue(
    session: Session, *, now: datetime, limit: RateLimit | None = None, **fields: Any
) -> tuple[int, str]:
    """Write one notification; (row id, state). See :func:`enqueue_many`."""
    return enqueue_many(session, [Letter(**fields)], now, limit)[0]


def enqueue_many(
    session: Session, letters: Sequence[Letter], now: datetime, limit: RateLimit | None = None
) -> list[tuple[int, str]]:
    """Write notifications; (row id, state) of each, in order.

    One held back — ``hold`` says why, or it is automatic and its address is
    over the limit — is kept as ``suppressed`` with the reason, so an operator
    can see what was not sent. Letters in the same batch count against each
    other as if written one by one.
    """
    if not letters:
        return []
    conn = session.connection()
    recent = _recent_automatic(conn, letters, now, limit) if limit is not None else {}
    rows = []
    for x in letters:
        address = x.to_address.lower()
        state, error = (SUPPRESSED, x.hold) if x.hold else (PENDING, None)
        if x.hold is None and x.auto_submitted == LOOPING and limit is not None and x.limited:
            if recent.get(address, 0) >= limit.count:
                minutes = int(limit.window.total_seconds() // 60)
                state, error = (
                    SUPPRESSED,
                    (
                        f"loop limit: {limit.count} automatic answers to {x.to_address} "
                        f"in the last {minutes} minutes already"
                    ),
                )
            recent[address] = recent.get(address, 0) + 1
        rows.append(
            {
                "ticket_id": x.ticket_id,
                "kind": x.kind,
                "to_address": address,
                "locale": x.locale,
                "message_id": x.message_id,
                "in_reply_to": x.in_reply_to,
                "references": " ".join(x.references),
                "context": json.dumps(x.context, ensure_ascii=False),
                "auto_submitted": x.auto_submitted,
                "state": state,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": error,
                "created_at": now,
                "sent_at": None,
                "requester": x.requester,
            }
        )
    if len(rows) == 1:
        ids = [conn.execute(_INSERT, rows[0]).scalar_one()]
    else:
        made = {message_id: i for i, message_id in conn.execute(_INSERT_MANY, rows)}
        ids = [made[r["message_id"]] for r in rows]
    return [(i, r["state"]) for i, r in zip(ids, rows, strict=True)]


def _recent_automatic(
    conn: Connection, letters: Sequence[Letter], now: datetime, limit: RateLimit
) -> dict[str, int]:
    """How many automatic mails each address of the batch got within the limit's window."""
    addresses = sorted(
        {
            x.to_address.lower()
            for x in letters
            if x.auto_submitted == LOOPING and x.limited and x.hold is None
        }
    )
    if addresses and conn.dialect.name == "postgresql":
        # Count-then-insert is a race between instances: each would count only
        # committed rows. A per-address lock held to COMMIT makes them take turns.
        conn.execute(_LOCK_ADDRESSES, {"addresses": addresses})
    since = now - limit.window
    if len(addresses) == 1:  # intake: LIMIT keeps a long flood's count cheap
        params = {
            "address": addresses[0],
            "since": since,
            "now": now + CLOCK_SLACK,
            "cap": limit.count,
        }
        return {addresses[0]: conn.execute(_RECENT_ONE, params).scalar() or 0}
    if addresses:
        params = {"addresses": addresses, "since": since, "now": now + CLOCK_SLACK}
        return {a: n for a, n in conn.execute(_RECENT_AUTOMATIC, params)}
    return {}


def asked_recently(
    session: Session, kind: str, address: str, requester: str, now: datetime, window: timedelta
) -> tuple[int, int]:
    """How many mails of ``kind`` went to ``address``, and were asked for by ``requester``,
    within ``window`` before ``now``: the two counts of the asked-for limit (issue 13)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":  # two instances must take turns counting
        connection.execute(_LOCK_ADDRESSES, {"addresses": sorted({address.lower(), requester})})
    params = {"kind": kind, "since": now - window, "now": now + CLOCK_SLACK}
    to = connection.execute(_ASKED_TO, {**params, "address": address.lower()}).scalar() or 0
    by = connection.execute(_ASKED_BY, {**params, "requester": requester}).scalar() or 0
    return to, by


def retry(session: Session, row_id: int, now: datetime) -> Row | None:
    """A failed or suppressed row goes back to pending, its attempts counted afresh."""
    found = session.execute(select(OUTBOX).where(OUTBOX.c.id == row_id)).first()
    if found is None or found.state in (PENDING, SENT):
        return found
    session.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == row_id)
        .values(state=PENDING, attempts=0, next_attempt_at=now, last_error=None)
    )
    return session.execute(select(OUTBOX).where(OUTBOX.c.id == row_id)).first()


def rows(session: Session, *, failed_only: bool = False, limit: int = 200) -> Sequence[Row]:
    query = select(OUTBOX).order_by(OUTBOX.c.id.desc()).limit(limit)
    if failed_only:
        query = query.where(OUTBOX.c.state.in_((FAILED, SUPPRESSED)))
    return session.execute(query).all()


def undelivered(session: Session, ticket: int, kinds: Sequence[str]) -> Sequence[Row]:
    """The ticket's mails of ``kinds`` that did not go out (failed, or held back and why):
    what an operator must hear about their own answer (issue 13)."""
    return session.execute(
        select(OUTBOX.c.id, OUTBOX.c.kind, OUTBOX.c.to_address, OUTBOX.c.state, OUTBOX.c.last_error)
        .where(
            OUTBOX.c.ticket_id == ticket,
            OUTBOX.c.kind.in_(kinds),
            OUTBOX.c.state.in_((FAILED, SUPPRESSED)),
        )
        .order_by(OUTBOX.c.id)
    ).all()


def states_of(session: Session, ids: Sequence[int]) -> dict[int, tuple[str, str | None]]:
    """row id → (state, last error), for the rows an action just wrote."""
    if not ids:
        return {}
    query = select(OUTBOX.c.id, OUTBOX.c.state, OUTBOX.c.last_error).where(OUTBOX.c.id.in_(ids))
    return {r.id: (r.state, r.last_error) for r in session.execute(query)}


def ticket_of(session: Session, row_id: int) -> int | None:
    return session.scalar(select(OUTBOX.c.ticket_id).where(OUTBOX.c.id == row_id))
