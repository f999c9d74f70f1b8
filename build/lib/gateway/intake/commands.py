"""The commands on the first lines of an operator's mail, checked before anything happens.

The operator answers from an ordinary mail client. Of their mail only the new
words count (quotes and signature are cut by ``mail.body`` before this module
sees the text). The first lines may be commands, one per line:

    ==========================  ==============================================
    #take            #взять      assign to me, in_progress
    #status S        #статус S   S: in_progress, awaiting_customer, awaiting_operator
    #close           #закрыть    resolved
    #admin-close R               closed administratively for reason R; locks it
    #note            #заметка    the whole mail is an internal note
    #assign OP       #назначить  give it to operator OP (name or address)
    #merge N         #объединить this ticket into ticket N
    #notify on|off   #уведомления  the customer's notifications
    ==========================  ==============================================

Everything after the commands is the reply: it goes to the customer from the
support address under the operator's name, and the ticket waits for the
customer — unless a command sets another status, which wins because it comes
after. One wrong line and nothing happens at all: the mail is kept, marked
``rejected``, and the operator is told which line and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway.desk.model import Status
from gateway.mail.intent import Command, CommandError
from gateway.operations import Refused
from gateway.operations.tickets import find_operator
from gateway.store import tickets

STATUS_WORDS = {
    "in_progress": Status.IN_PROGRESS,
    "awaiting_customer": Status.AWAITING_CUSTOMER,
    "awaiting_operator": Status.AWAITING_OPERATOR,
    "в_работе": Status.IN_PROGRESS,
}
_NUMBER = re.compile(r"^\[?#?(\d{1,9})\]?$")


@dataclass(frozen=True, slots=True)
class Order:
    """One command, checked: what to do and with what."""

    name: str
    line: int
    raw: str
    status: Status | None = None
    text: str = ""
    number: int | None = None
    switch: bool | None = None


@dataclass(frozen=True, slots=True)
class Wrong:
    line: int
    text: str
    reason: str


def check(
    session: Session,
    commands: tuple[Command, ...],
    errors: tuple[CommandError, ...],
    number: int,
) -> tuple[list[Order], list[Wrong]]:
    """Every command line understood and possible, or the list of what is wrong."""
    orders: list[Order] = []
    wrong = [Wrong(e.line, e.raw, f"{e.reason}; see the list of commands below") for e in errors]
    for c in commands:
        arg = c.arg.strip()
        if c.name in ("take", "close", "note"):
            if arg:
                wrong.append(Wrong(c.line, c.raw, f"#{c.name} takes nothing after it"))
            else:
                orders.append(Order(c.name, c.line, c.raw))
        elif c.name == "status":
            status = STATUS_WORDS.get(arg.lower().replace(" ", "_"))
            if status is None:
                wrong.append(
                    Wrong(
                        c.line,
                        c.raw,
                        "use #status in_progress, awaiting_customer or awaiting_operator",
                    )
                )
            else:
                orders.append(Order("status", c.line, c.raw, status=status))
        elif c.name == "admin-close":
            if not arg:
                wrong.append(Wrong(c.line, c.raw, "#admin-close needs a reason after it"))
            else:
                orders.append(Order("admin_close", c.line, c.raw, text=arg))
        elif c.name == "assign":
            try:
                person = find_operator(session, arg) if arg else None
            except Refused:
                person = None
            if person is None:
                wrong.append(Wrong(c.line, c.raw, f"no operator {arg!r}: use a name or address"))
            else:
                orders.append(Order("assign", c.line, c.raw, text=person.email))
        elif c.name == "merge":
            found = _NUMBER.match(arg)
            target = int(found.group(1)) if found else None
            if target is None or target == number or not tickets.ticket_exists(session, target):
                wrong.append(
                    Wrong(c.line, c.raw, "#merge needs the number of another existing ticket")
                )
            else:
                orders.append(Order("merge", c.line, c.raw, number=target))
        elif c.name == "notify":
            if arg.lower() not in ("on", "off", "вкл", "выкл"):
                wrong.append(Wrong(c.line, c.raw, "use #notify on or #notify off"))
            else:
                orders.append(Order("notify", c.line, c.raw, switch=arg.lower() in ("on", "вкл")))
        else:
            wrong.append(Wrong(c.line, c.raw, f"#{c.name} is a customer's command"))
    return orders, sorted(wrong, key=lambda w: w.line)


def body_after(fresh: str, orders: list[Order], wrong: list[Wrong]) -> str:
    """The reply: the new text below the command lines."""
    last = max([o.line for o in orders] + [w.line for w in wrong] + [0])
    return "\n".join(fresh.splitlines()[last:]).strip()
