"""The three shapes of a decision, which every rule of ``machine`` returns.

``keep``: nothing moves, the status and both clocks stay (a nudge, a note).
``move``: one transition with its audit row, and the clock that belongs to the
new status. ``opened``: a new ticket (a request, a follow-up of a closed one).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.desk.model import Decision, Disposition, Flag, Status, StatusChange, TicketState


def keep(
    state: TicketState,
    *trace: str,
    flags: frozenset[Flag] = frozenset(),
    notices: tuple[str, ...] = (),
) -> Decision:
    """Nothing moves: status and both clocks stay as they were."""
    return Decision(
        disposition=Disposition.APPEND,
        status=state.status,
        awaiting_since=state.awaiting_since,
        closed_at=state.closed_at,
        locked=state.locked,
        flags=flags,
        trace=trace,
        notices=notices,
    )


def move(state: TicketState, to: Status, now: datetime, reason: str, **extra: object) -> Decision:
    """A transition: one StatusChange, the clock that belongs to the new status."""
    if to is state.status and not extra.get("locked"):
        return keep(state, f"status stays {to.value}", flags=extra.get("flags", frozenset()))  # type: ignore[arg-type]
    closed = to.is_closed
    return Decision(
        disposition=Disposition.APPEND,
        status=to,
        awaiting_since=None if closed else now,
        closed_at=now if closed else None,
        locked=bool(extra.get("locked", state.locked)),
        changes=(StatusChange(state.status, to, reason),),
        flags=extra.get("flags", frozenset()),  # type: ignore[arg-type]
        trace=(f"{state.status.value} → {to.value}: {reason}",),
        notices=extra.get("notices", ("status",)),  # type: ignore[arg-type]
    )


def opened(
    now: datetime, disposition: Disposition, flags: frozenset[Flag], notice: str, *trace: str
) -> Decision:
    """A new ticket, waiting for an operator from ``now``."""
    return Decision(
        disposition=disposition,
        status=Status.AWAITING_OPERATOR,
        awaiting_since=now,
        closed_at=None,
        changes=(StatusChange(None, Status.AWAITING_OPERATOR, "ticket created"),),
        flags=flags,
        trace=trace,
        notices=(notice,) if notice else (),
    )


def days(delta: timedelta) -> int:
    """Whole days, as the traces count them."""
    return delta.days
