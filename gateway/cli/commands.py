"""The verbs of ``helpdesk``: each calls the operations, views or runs and prints.

No rule lives here: a verb reads its arguments, calls one function, prints
its result (``--json`` as is, else through ``cli.render``) and returns the
exit status. Refusals and failures are raised and become one line on stderr
in ``cli.main``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from gateway import intake, views
from gateway.app.gateway import Gateway
from gateway.app.runs import import_mailbox, run_sweep
from gateway.app.wiring import Wiring
from gateway.cli import render
from gateway.desk.model import Status
from gateway.outcome import Delivery, Origin, OutcomeKind

EX_OK, EX_ERROR, EX_USAGE, EX_DATAERR, EX_TEMPFAIL = 0, 1, 2, 65, 75


class CliError(Exception):
    def __init__(self, message: str, code: int = EX_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _print(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    if as_json:
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        out = text(data)
        if out:
            print(out)


@contextmanager
def wired(args: argparse.Namespace, *, migrated: bool = True) -> Iterator[Wiring]:
    """The gateway's parts for one command; the database is let go when it ends."""
    wiring = Wiring(args.settings)
    try:
        if migrated:
            wiring.require_database()
        yield wiring
    finally:
        wiring.close()


# --- running ------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    with wired(args, migrated=False) as w:
        w.init_database()
        print(f"database ready: {w.engine.url.render_as_string(hide_password=True)}")
    return EX_OK


def cmd_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # aiosmtpd logs every SMTP command at INFO: a line per command costs more
    # CPU than storing the mail. Its warnings and errors still show.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    gw = Gateway(args.settings)
    try:
        asyncio.run(gw.serve())
    finally:
        gw.close()
    return EX_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    data = sys.stdin.buffer.read()
    gw = Gateway(args.settings)
    try:
        gw.wiring.require_database()
        if not data.strip():
            raise CliError("refused: standard input is empty; pipe one message in", EX_DATAERR)
        recipients = tuple(args.recipient or [gw.rules.support])
        for rcpt in recipients:
            if not gw.rules.serves(rcpt):
                raise CliError(
                    f"refused: {rcpt} is not served here (only {gw.rules.support})", EX_DATAERR
                )
        if len(data) > args.settings.max_message_size:
            raise CliError(
                f"refused: the message is {len(data)} bytes, over the limit of "
                f"{args.settings.max_message_size}",
                EX_DATAERR,
            )
        outcome = gw.ingest_now(Delivery(args.sender, recipients, data, Origin.PIPE))
    finally:
        gw.close()
    if outcome.kind is OutcomeKind.DEFERRED:
        raise CliError(f"try again later: {outcome.detail}", EX_TEMPFAIL)
    if not outcome.accepted:
        who = outcome.address or args.sender
        raise CliError(f"refused: {who} is not a registered customer. {outcome.detail}", EX_DATAERR)
    print(f"{outcome.kind.value}: {outcome.detail}")
    return EX_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    with wired(args) as w:
        result = run_sweep(w, as_of=args.as_of, dry_run=args.dry_run)
    _print(result, args.json, render.sweep)
    return EX_OK


def cmd_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm  # only this verb draws a progress bar

    bar: tqdm | None = None

    def start(total: int) -> None:
        nonlocal bar
        bar = tqdm(total=total, unit="msg", desc="importing", file=sys.stderr, disable=None)

    def step(done: int) -> None:
        if bar is not None:
            bar.update(done)

    with wired(args) as w:
        try:
            report = import_mailbox(
                w,
                args.paths,
                dry_run=args.dry_run,
                notify_open=args.notify_open,
                on_start=start,
                progress=step,
            )
        except KeyboardInterrupt:
            done = bar.n if bar is not None else 0
            raise CliError(
                f"interrupted after {done:,} messages; what was committed is kept, "
                "so run the same command again to continue",
                130,
            ) from None
        finally:
            if bar is not None:
                bar.close()
    _print(report.as_dict(), args.json, render.import_report)
    return EX_OK


# --- tickets ------------------------------------------------------------------------


def cmd_tickets(args: argparse.Namespace) -> int:
    if args.status and args.status not in {s.value for s in Status}:
        raise CliError(f"unknown status {args.status!r}; use one of {', '.join(Status)}")
    with wired(args) as w, w.sessions() as session:
        rows = views.tickets(
            session, status=args.status, customer=args.customer, policy=w.policy, now=w.clock()
        )
    _print(rows, args.json, render.tickets)
    return EX_OK


def cmd_ticket_show(args: argparse.Namespace) -> int:
    with wired(args) as w, w.sessions() as session:
        detail = views.ticket_detail(session, args.number, policy=w.policy, now=w.clock())
    if detail is None:
        raise CliError(f"there is no ticket #{args.number}; see `helpdesk tickets`")
    _print(detail, args.json, render.ticket)
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
    _print(
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
    _print(r, args.json, lambda r: f"ticket #{r['number']} merged into #{r['into']}")
    return EX_OK


def cmd_ticket_assign(args: argparse.Namespace) -> int:
    with wired(args) as w:
        r = w.desk.assign(args.number, args.assignee, args.as_)
    _print(r, args.json, lambda r: f"ticket #{r['number']} assigned to {r['assignee']}")
    return EX_OK


def cmd_ticket_notify(args: argparse.Namespace) -> int:
    on = None if args.switch is None else args.switch == "on"
    with wired(args) as w:
        row = w.desk.set_ticket_notify(args.number, on=on, address=args.to)
    _print(row, args.json, render.notify_settings)
    return EX_OK


def cmd_held_list(args: argparse.Namespace) -> int:
    with wired(args) as w, w.sessions() as session:
        rows = views.held(session)
    _print(rows, args.json, render.held)
    return EX_OK


def cmd_held_decide(args: argparse.Namespace) -> int:
    with wired(args) as w:
        r = w.desk.decide_held(args.id, args.as_, accept=args.held_verb == "accept")
    _print(r, args.json, lambda r: f"held mail {r['id']}: {r['decision']} (ticket #{r['ticket']})")
    return EX_OK


# --- people, the quarantine, the outbox ---------------------------------------------


def cmd_customers_add(args: argparse.Namespace) -> int:
    with wired(args) as w:
        row = w.desk.add_customer(args.email, args.name or "", verified=not args.guest)
    _print(row, args.json, lambda r: f"customer {r['id']}: {r['email']}")
    return EX_OK


def cmd_customers_list(args: argparse.Namespace) -> int:
    with wired(args) as w, w.sessions() as session:
        rows = views.customers(session)
    _print(rows, args.json, render.customers)
    return EX_OK


def cmd_operators_add(args: argparse.Namespace) -> int:
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError("--password-stdin given but standard input had no password")
    with wired(args) as w:
        row = w.desk.add_operator(args.name, args.address, password)
    _print(row, args.json, lambda r: f"operator {r['id']}: {r['name']} <{r['email']}>")
    return EX_OK


def cmd_operators_list(args: argparse.Namespace) -> int:
    with wired(args) as w, w.sessions() as session:
        rows = views.operators(session)
    _print(rows, args.json, render.operators)
    return EX_OK


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    with wired(args) as w, w.sessions() as session:
        rows = views.quarantine(session, everything=args.all)
    _print(rows, args.json, render.quarantine)
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
    _print(data, args.json, lambda d: f"raw mail {d['id']}: {d['result']}: {d['detail']}")
    return EX_OK if outcome.kind is not OutcomeKind.QUARANTINED else EX_DATAERR


def cmd_outbox_list(args: argparse.Namespace) -> int:
    with wired(args) as w, w.sessions() as session:
        rows = views.outbox_rows(session, failed_only=args.failed)
    _print(rows, args.json, render.outbox)
    return EX_OK


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    with wired(args) as w:
        row = views.outbox_row(w.desk.retry_outbox(args.id))
    _print(row, args.json, lambda r: f"notification {r['id']}: {r['state']}")
    return EX_OK
