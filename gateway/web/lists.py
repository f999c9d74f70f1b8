"""The operators' queue as a page reads it (issue 15): views, counts, sorts, filters, pages.

Blocking reads for a worker thread, like ``queries``. The queue pages by keyset
(``store.listings.queue_page``): the link to the next page carries the last row's
cursor, so page 50 of 100,000 tickets costs what page 1 does, and a ticket that
changes while an operator pages through is neither skipped nor shown twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from gateway.desk.model import Status
from gateway.store import listings, people, search, stems

PAGE_SIZE = 50


def moment(value: datetime | None) -> dict[str, str] | None:
    """A moment for ``<time datetime>``: ISO for the browser's script, UTC text without it."""
    if value is None:
        return None
    return {"iso": value.isoformat(), "text": value.strftime("%Y-%m-%d %H:%M UTC")}


@dataclass(frozen=True)
class QueueParams:
    """The queue's query string, checked: anything unknown falls back to the default."""

    view: str = "needs_us"
    sort: str = "waiting"
    customer: str = ""
    assignee: str = ""
    after: str = ""

    @classmethod
    def parse(cls, params: Any) -> QueueParams:
        view = params.get("view", "needs_us")
        sort = params.get("sort", "waiting")
        return cls(
            view=view if view in listings.VIEWS else "needs_us",
            sort=sort if sort in listings.SORTS else "waiting",
            customer=params.get("customer", "").strip()[:320],
            assignee=params.get("assignee", "")[:12],
            after=params.get("after", "")[:80],
        )

    def link(self, **change: str) -> str:
        """This query with some values changed (a view, a sort, the next page)."""
        values = {
            "view": self.view,
            "sort": self.sort,
            "customer": self.customer,
            "assignee": self.assignee,
            "after": "",
        }
        values.update(change)
        return "/op?" + urlencode({k: v for k, v in values.items() if v})


def _customer_id(session: Session, text: str) -> int | None:
    """A customer filter: an address or a customer number; -1 matches nobody."""
    if not text:
        return None
    if text.lstrip("#").isdigit():
        return int(text.lstrip("#"))
    found = people.find_customer(session, text)
    return found.id if found else -1


def queue(session: Session, p: QueueParams, me: str, locale: str) -> dict[str, Any]:
    """One page of the queue, the counts of every view, and the next page's link."""
    ops = people.operators(session)
    me_id = next((o.id for o in ops if o.email == me), None)
    assignee: int | str | None = None
    if p.assignee == "none":
        assignee = "none"
    elif p.assignee.isdigit():
        assignee = int(p.assignee)
    q = listings.QueueQuery(
        view=p.view,
        sort=p.sort,
        customer_id=_customer_id(session, p.customer),
        assignee=assignee,
        me=me_id,
        after=p.after,
        limit=PAGE_SIZE,
    )
    rows = listings.queue_page(session, q)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return {
        "tickets": [
            {
                "number": r.id,
                "subject": r.subject,
                "customer": r.customer,
                "status": r.status,
                "status_label": Status(r.status).operator_label(locale),
                "assignee": r.assignee,
                "waiting": moment(r.awaiting_since),
                "updated": moment(r.updated_at),
                "nudges": r.nudges,
            }
            for r in rows
        ],
        "counts": listings.queue_counts(session, q),
        "waiting_label": Status.AWAITING_CUSTOMER.operator_label(locale),
        "count_cap": listings.COUNT_CAP,
        "next_link": p.link(after=listings.cursor_of(rows[-1], p.sort)) if more else "",
        "first_link": p.link() if p.after else "",
        "operators": [{"id": o.id, "name": o.name, "email": o.email} for o in ops],
    }


def header_counts(session: Session) -> dict[str, int]:
    return listings.inbox_counts(session)


def search_page(
    session: Session, query: str, locale: str, *, customer_id: int | None, operator: bool
) -> dict[str, Any]:
    """Ranked tickets for a query with the matching fragment of each; a customer's own only."""
    hits = search.search(session, query, customer_id=customer_id)
    brief = listings.tickets_brief(session, [h.ticket for h in hits])
    texts = listings.message_texts(session, [h.message for h in hits if h.message])
    results = []
    for h in hits:
        row = brief.get(h.ticket)
        if row is None:
            continue
        status = Status(row.status)
        body = texts.get(h.message, "") if h.message else ""
        results.append(
            {
                "number": row.id,
                "subject": row.subject,
                "subject_marked": stems.fragment(query, row.subject, width=40),
                "customer": row.customer,
                "status": row.status,
                "status_label": status.operator_label(locale) if operator else status.label(locale),
                "updated": moment(row.updated_at),
                "exact": h.exact,
                "fragment": stems.fragment(query, body) if body else [],
            }
        )
    return {"query": query, "results": results}
