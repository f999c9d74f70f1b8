"""Status changes as lines of the conversation (issue 15), for either side.

The audit rows (``events``) say who moved a ticket where; this turns the ones a
person cares about into sentences in the conversation: closed by you / by the
customer / by an operator / administratively / automatically after N days
without a reply, reopened, merged into #N, and on the target of a merge,
merged from #N. A customer's "Close" button is a mail whose whole text is
``#close``: that pseudo-message is not shown, the line "you closed it" is.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from gateway.desk.model import Status

# The close command, and the stamp line the page's Close button adds (web.mailer).
CLOSE_ONLY = re.compile(
    r"\s*#(close|закрыть)\s*"
    r"((Закрыто клиентом на странице поддержки|Closed by the customer on the support page)"
    r" [\d: -]+ UTC\.\s*)?",
    re.IGNORECASE,
)
MERGED = re.compile(r"merged into #(\d+)")


def is_close_command(message: dict[str, Any]) -> bool:
    """A message that is nothing but the customer's close command."""
    return "close" in message["flags"] and bool(CLOSE_ONLY.fullmatch(message["text"] or ""))


def _line(e: dict[str, Any], side: str, auto_days: int) -> tuple[str, dict] | None:
    """(string key, values) for one event, or None when the conversation shows it already."""
    actor, to, was = e["actor"], e["to"], e["from"]
    merged = MERGED.search(e["reason"] or "")
    if merged:
        return "tl_merged_into", {"number": merged.group(1)}
    if to == Status.CLOSED_NO_REPLY.value:
        return "tl_auto_closed", {"days": auto_days}
    if to == Status.CLOSED.value:
        if actor.startswith("customer"):
            return ("tl_closed_by_you" if side == "customer" else "tl_closed_by_customer"), {}
        if (e["reason"] or "").startswith("closed administratively"):
            return "tl_admin_closed", {}
        return "tl_closed_by_operator", {"who": actor.partition(":")[2]}
    if was in (Status.CLOSED.value, Status.CLOSED_NO_REPLY.value):
        return "tl_reopened", {}
    if to == Status.IN_PROGRESS.value and side == "operator":
        return "tl_taken", {"who": actor.partition(":")[2]}
    return None


def merge(
    messages: list[dict[str, Any]],
    events: list[dict[str, Any]],
    merged_from: list[Any],
    *,
    side: str,
    locked: bool,
    auto_days: int,
    t: Any,
) -> list[dict[str, Any]]:
    """Messages and status lines in one list, by time (a message before its own change)."""
    items: list[tuple[str, int, dict[str, Any]]] = [
        (m["created_at"] or "", 0, {**m, "kind": "message"}) for m in messages
    ]
    for e in events:
        found = _line(e, side, auto_days)
        if found:
            key, values = found
            items.append((e["at"] or "", 1, {"kind": "event", "text": t(key, **values),
                                              "at": _moment(e["at"])}))  # fmt: skip
    for row in merged_from:
        at = row.closed_at.isoformat() if row.closed_at else ""
        line = {"kind": "event", "text": t("tl_merged_from", number=row.id), "at": _moment(at)}
        items.append((at, 1, line))
    items.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in items]


def _moment(iso: str | None) -> dict[str, str] | None:
    if not iso:
        return None
    value = datetime.fromisoformat(iso)
    return {"iso": value.isoformat(), "text": value.strftime("%Y-%m-%d %H:%M UTC")}
