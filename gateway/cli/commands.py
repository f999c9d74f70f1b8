"""The verbs of ``helpdesk`` about tickets, people, the quarantine and the outbox:
each calls the operations or views and prints (``cli.running`` has the rest).

No rule lives here: a verb reads its arguments, calls one function, prints
its result (``--json`` as is, else through ``cli.render``) and returns the
exit status. Refusals and failures are raised and become one line on stderr
in ``cli.main``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from gateway import intake, views
from gateway.app.wiring import Wiring
from gateway.cli import render
from gateway.cli.base import EX_DATAERR, EX_OK, CliError, show
from gateway.desk.model import Status
from gateway.outcome import OutcomeKind


@contextmanager
def wired(
    args: argparse.Namespace, *, migrated: bool = True, reads_only: bool = False
) -> Iterator[Wiring]:
    """The gateway's parts for one command; the database is let go when it ends.
    ``reads_only``: a listing or a dry run, which must create no file (no secret.key)."""
    wiring = Wiring(args.settings, writes=not reads_only)
    try:
        if migrated:
            wiring.require_database()
        yield wiring
    finally:
        wiring.close()


# --- tickets ------------------------------------------------------------------------


def cmd_tickets(args: argparse.Namespace) -> int:
    if args.status and args.status not in {s.value for s in Status}:
        raise CliError(f"unknown status {args.status!r}; use one of {', '.join(Status)}")
    with wired(args, reads_only=True) as w, w.sessions() as session:
        rows = views.tickets(
            session, status=args.status, customer=args.customer, policy=w.policy, now=w.clock()
        )
    show(rows, args.json, render.tickets)
    return EX_OK


def cmd_ticket_show(args: argparse.Namespace) -> int:
    with wired(args, reads_only=True) as w, w.sessions() as session:
        detail = views.ticket_detail(session, args.number, policy=w.policy, now=w.clock())
    if detail is None:
        raise CliError(f"there is no ticket #{args.number}; see `helpdesk tickets`")
    show(detail, args.json, render.ticket)
    return EX_OK


def cmd_ticket_act(args: argparse.Namespace) -> int:
    action = args.ticket_verb.replace("-", "_")
    text = ""
    if action in ("note", "reply"):
        text = args.text if args.text is not None else sys.stdin.read()
        if not text.strip():
            raise CliError(f"a {action} needs text: --text TEXT, or pipe it on stdin")
    with wired(args) as w:
        result = w.desk.act(
            args.number,
            args.as_,
            action,
            status=getattr(args, "status", None),
            reason=getattr(args, "reason", "") or "",
            text=text,
        )
    for why in result.get("undelivered", []):  # issue 13: never a silent exit 0
        number = result["number"]
        print(f"warning: ticket #{number}: your answer was not sent: {why}", file=sys.stderr)
    show(
        result,
        args.json,
        lambda r: (
            f"ticket #{r['number']}: {r['status']}" + ("" if r["changed"] else " (unchanged)")
        ),
    )
    return EX_OK


def cmd_ticket_merge(args: argparse.Namespace) -> int:
    with wired(args) as w:
        r = w.desk.merge(args.number, args.into, args.as_)
    show(r, args.json, lambda r: f"ticket #{r['number']} merged into #{r['into']}")
    return EX_OK


def cmd_ticket_assign(args: argparse.Namespace) -> int:
    with wired(args) as w:
        r = w.desk.assign(args.number, args.assignee, args.as_)
    show(r, args.json, lambda r: f"ticket #{r['number']} assigned to {r['assignee']}")
    return EX_OK


def cmd_ticket_notify(args: argparse.Namespace) -> int:
    on = None if args.switch is None else args.switch == "on"
    with wired(args) as w:
        row = w.desk.set_ticket_notify(args.number, on=on, address=args.to)
    show(row, args.json, render.notify_settings)
    return EX_OK


def cmd_held_list(args: argparse.Namespace) -> int:
    with wired(args, reads_only=True) as w, w.sessions() as session:
        rows = views.held(session)
    show(rows, args.json, render.held)
    return EX_OK


def cmd_held_decide(args: argparse.Namespace) -> int:
    with wired(args) as w:
        r = w.desk.decide_held(args.id, args.as_, accept=args.held_verb == "accept")
    show(r, args.json, lambda r: f"held mail {r['id']}: {r['decision']} (ticket #{r['ticket']})")
    return EX_OK


# --- people, the quarantine, the outbox ---------------------------------------------


def cmd_customers_add(args: argparse.Namespace) -> int:
    with wired(args) as w:
        row = w.desk.add_customer(args.email, args.name or "", verified=not args.guest)
    show(row, args.json, lambda r: f"customer {r['id']}: {r['email']}")
    return EX_OK


def cmd_customers_list(args: argparse.Namespace) -> int:
    with wired(args, reads_only=True) as w, w.sessions() as session:
        rows = views.customers(session)
    show(rows, args.json, render.customers)
    return EX_OK


def cmd_operators_add(args: argparse.Namespace) -> int:
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError("--password-stdin given but standard input had no password")
    with wired(args) as w:
        row = w.desk.add_operator(args.name, args.address, password)
    show(row, args.json, lambda r: f"operator {r['id']}: {r['name']} <{r['email']}>")
    return EX_OK


def cmd_operators_list(args: argparse.Namespace) -> int:
    with wired(args, reads_only=True) as w, w.sessions() as session:
        rows = views.operators(session)
    show(rows, args.json, render.operators)
    return EX_OK


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    with wired(args, reads_only=True) as w, w.sessions() as session:
        rows = views.quarantine(session, everything=args.all)
    show(rows, args.json, render.quarantine)
    return EX_OK


def cmd_quarantine_retry(args: argparse.Namespace) -> int:
    with wired(args) as w:
        outcome = intake.retry_quarantined(w.sessions, args.id, w.intake, w.clock())
    data = {
        "id": args.id,
        "result": outcome.kind.value,
        "detail": outcome.detail,
        "ticket": outcome.ticket,
    }
    show(data, args.json, lambda d: f"raw mail {d['id']}: {d['result']}: {d['detail']}")
    return EX_OK if outcome.kind is not OutcomeKind.QUARANTINED else EX_DATAERR


def cmd_outbox_list(args: argparse.Namespace) -> int:
    with wired(args, reads_only=True) as w, w.sessions() as session:
        rows = views.outbox_rows(session, failed_only=args.failed)
    show(rows, args.json, render.outbox)
    return EX_OK


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    with wired(args) as w:
        row = views.outbox_row(w.desk.retry_outbox(args.id))
    show(row, args.json, lambda r: f"notification {r['id']}: {r['state']}")
    return EX_OK
