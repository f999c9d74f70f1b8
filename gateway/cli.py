"""``helpdesk``: the command-line contract of DESIGN §6. Thin: parse, call, print.

Every failure is one line on stderr that says what is wrong and what to do,
and an exit status ≥ 1 — never a traceback. ``helpdesk ingest`` speaks the
sysexits an MTA's pipe transport understands: 0 stored, 65 refused, 75 retry.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from gateway import app, views
from gateway.config import ConfigError, load_settings
from gateway.desk.model import Status
from gateway.outcome import Delivery, OutcomeKind
from gateway.store.db import NotMigrated, StoreUnavailable

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


def _gateway(args: argparse.Namespace, *, migrated: bool = True) -> app.Gateway:
    gw = args.gateway = app.Gateway(args.settings)  # main() closes it
    if migrated:
        gw.require_database()
    return gw


# --- verbs ----------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    gw = _gateway(args, migrated=False)
    gw.init_database()
    print(f"database ready: {gw.engine.url.render_as_string(hide_password=True)}")
    return EX_OK


def cmd_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # aiosmtpd logs every SMTP command at INFO: a line per command costs more
    # CPU than storing the mail. Its warnings and errors still show.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    gw = _gateway(args)
    asyncio.run(gw.serve())
    return EX_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    data = sys.stdin.buffer.read()
    gw = _gateway(args)
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
    outcome = gw.ingest_now(Delivery(args.sender, recipients, data, "pipe"))
    if outcome.kind is OutcomeKind.DEFERRED:
        raise CliError(f"try again later: {outcome.detail}", EX_TEMPFAIL)
    if not outcome.accepted:
        who = outcome.address or args.sender
        raise CliError(f"refused: {who} is not a registered customer. {outcome.detail}", EX_DATAERR)
    print(f"{outcome.kind.value}: {outcome.detail}")
    return EX_OK


def cmd_tickets(args: argparse.Namespace) -> int:
    if args.status and args.status not in {s.value for s in Status}:
        raise CliError(f"unknown status {args.status!r}; use one of {', '.join(Status)}")
    gw = _gateway(args)
    with gw.sessions() as session:
        rows = views.tickets(session, status=args.status, customer=args.customer)

    def text(rows: list[dict]) -> str:
        if not rows:
            return "no tickets"
        return "\n".join(
            f"#{t['number']:<6} {t['status']:<18} {t['customer']:<30} {t['subject']}" for t in rows
        )

    _print(rows, args.json, text)
    return EX_OK


def cmd_ticket_show(args: argparse.Namespace) -> int:
    gw = _gateway(args)
    with gw.sessions() as session:
        detail = views.ticket_detail(session, args.number)
    if detail is None:
        raise CliError(f"there is no ticket #{args.number}; see `helpdesk tickets`")
    _print(detail, args.json, views.render_ticket_text)
    return EX_OK


def cmd_ticket_act(args: argparse.Namespace) -> int:
    gw = _gateway(args)
    action = args.ticket_verb.replace("-", "_")
    text = ""
    if action in ("note", "reply"):
        text = args.text if args.text is not None else sys.stdin.read()
        if not text.strip():
            raise CliError(f"a {action} needs text: --text TEXT, or pipe it on stdin")
    result = app.operator_action(
        gw,
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
    gw = _gateway(args)
    r = app.merge_tickets(gw, args.number, args.into, args.as_)
    _print(r, args.json, lambda r: f"ticket #{r['number']} merged into #{r['into']}")
    return EX_OK


def cmd_ticket_assign(args: argparse.Namespace) -> int:
    gw = _gateway(args)
    r = app.assign_ticket(gw, args.number, args.assignee, args.as_)
    _print(r, args.json, lambda r: f"ticket #{r['number']} assigned to {r['assignee']}")
    return EX_OK


def cmd_held_list(args: argparse.Namespace) -> int:
    gw = _gateway(args)
    rows = app.held_mails(gw)
    _print(
        rows,
        args.json,
        lambda rows: (
            "\n".join(
                f"{r['id']:<6} #{r['ticket']:<6} {r['from']:<32} {r['subject']}" for r in rows
            )
            or "no mail is held"
        ),
    )
    return EX_OK


def cmd_held_decide(args: argparse.Namespace) -> int:
    gw = _gateway(args)
    r = app.decide_held(gw, args.id, args.as_, accept=args.held_verb == "accept")
    _print(r, args.json, lambda r: f"held mail {r['id']}: {r['decision']} (ticket #{r['ticket']})")
    return EX_OK


def cmd_customers_add(args: argparse.Namespace) -> int:
    gw = _gateway(args)
    row = app.add_customer(gw, args.email, args.name or "", verified=not args.guest)
    _print(row, args.json, lambda r: f"customer {r['id']}: {r['email']}")
    return EX_OK


def cmd_customers_list(args: argparse.Namespace) -> int:
    gw = _gateway(args)
    rows = app.list_customers(gw)
    _print(
        rows,
        args.json,
        lambda rows: (
            "\n".join(
                f"{r['id']:<6} {r['email']:<32} "
                f"{'verified' if r['verified'] else 'guest':<9} {r['name']}"
                for r in rows
            )
            or "no customers"
        ),
    )
    return EX_OK


def cmd_operators_add(args: argparse.Namespace) -> int:
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError("--password-stdin given but standard input had no password")
    gw = _gateway(args)
    row = app.add_operator(gw, args.name, args.address, password)
    _print(row, args.json, lambda r: f"operator {r['id']}: {r['name']} <{r['email']}>")
    return EX_OK


def cmd_operators_list(args: argparse.Namespace) -> int:
    gw = _gateway(args)
    rows = app.list_operators(gw)
    _print(
        rows,
        args.json,
        lambda rows: (
            "\n".join(f"{r['id']:<4} {r['name']:<20} {r['email']}" for r in rows) or "no operators"
        ),
    )
    return EX_OK


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    gw = _gateway(args)
    with gw.sessions() as session:
        rows = views.quarantine(session, everything=args.all)
    _print(
        rows,
        args.json,
        lambda rows: (
            "\n".join(
                f"{r['id']:<6} {r['state']:<11} {r['received_at']}  "
                f"{r['mail_from'] or '<>'}: {r['reason']}"
                for r in rows
            )
            or "quarantine is empty"
        ),
    )
    return EX_OK


def cmd_quarantine_retry(args: argparse.Namespace) -> int:
    gw = _gateway(args)
    outcome = app.retry_quarantined(gw, args.id)
    data = {
        "id": args.id,
        "result": outcome.kind.value,
        "detail": outcome.detail,
        "ticket": outcome.ticket,
    }
    _print(data, args.json, lambda d: f"raw mail {d['id']}: {d['result']}: {d['detail']}")
    return EX_OK if outcome.kind is not OutcomeKind.QUARANTINED else EX_DATAERR


def cmd_ticket_notify(args: argparse.Namespace) -> int:
    gw = _gateway(args)
    on = None if args.switch is None else args.switch == "on"
    row = app.set_ticket_notify(gw, args.number, on=on, address=args.to)
    _print(
        row,
        args.json,
        lambda r: (
            f"ticket #{r['number']}: notifications {'on' if r['notify'] else 'off'}"
            f" to {r['notify_address'] or '(no address)'}"
            + (f"; bouncing: {r['notify_bounced']}" if r["notify_bounced"] else "")
        ),
    )
    return EX_OK


def cmd_outbox_list(args: argparse.Namespace) -> int:
    gw = _gateway(args)
    rows = app.outbox_rows(gw, failed_only=args.failed)
    _print(
        rows,
        args.json,
        lambda rows: (
            "\n".join(
                f"{r['id']:<6} {r['state']:<10} #{r['ticket'] or '-':<6} {r['kind']:<16} "
                f"{r['to']}" + (f"  ({r['last_error']})" if r["last_error"] else "")
                for r in rows
            )
            or "the outbox is empty"
        ),
    )
    return EX_OK


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    gw = _gateway(args)
    row = app.retry_outbox(gw, args.id)
    _print(row, args.json, lambda r: f"notification {r['id']}: {r['state']}")
    return EX_OK


def _as_of(value: str) -> datetime:
    """An ISO date-time for --as-of; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--as-of {value!r} is not an ISO date-time, e.g. 2026-12-31T12:00:00+03:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sweep_text(r: dict) -> str:
    head = f"sweep as of {r['as_of']}" + (" (dry run: nothing was changed)" if r["dry_run"] else "")
    lines = [head]
    for key, label in (
        ("auto_closed", "closed without reply"),
        ("reminded", "reminded"),
        ("reopen_lapsed", "reopen window lapsed"),
        ("escalated", "escalated to operators"),
    ):
        numbers = r[key]
        shown = ", ".join(f"#{n}" for n in numbers[:20]) + (" …" if len(numbers) > 20 else "")
        lines.append(f"  {label}: {len(numbers)}" + (f" ({shown})" if numbers else ""))
    merged = ", ".join(f"#{m['ticket']} → #{m['into']}" for m in r["merged"][:20])
    lines.append(f"  duplicates merged: {len(r['merged'])}" + (f" ({merged})" if merged else ""))
    if "notifications_due" in r:
        lines.append(f"  notifications due to send: {r['notifications_due']}")
    else:
        lines.append(f"  notifications tried: {r['notifications_tried']}")
    return "\n".join(lines)


def cmd_sweep(args: argparse.Namespace) -> int:
    gw = _gateway(args)
    result = app.run_sweep(gw, as_of=args.as_of, dry_run=args.dry_run)
    _print(result, args.json, _sweep_text)
    return EX_OK


def _import_text(r: dict) -> str:
    head = "import of " + ", ".join(r["paths"])
    if r["dry_run"]:
        head += " (dry run: nothing was written)"
    rate = f"{r['messages_per_second']:,.0f} messages/s"
    lines = [
        head,
        f"  messages read:            {r['messages_read']:,} in {r['seconds']:.1f} s ({rate})",
        f"  dated from:               {r['first_date'] or '-'} to {r['last_date'] or '-'}",
        f"  already imported:         {r['already_imported']:,}",
        f"  copies of one message:    {r['copies_of_one_message']:,}",
        f"  tickets created:          {r['tickets_created']:,}"
        f" ({len(r['open_tickets']):,} still open)",
        f"  messages threaded:        {r['messages_threaded']:,}",
        f"  operators' messages:      {r['operator_messages']:,}",
        f"  held from strangers:      {r['held_from_strangers']:,}",
        f"  duplicates collapsed:     {r['duplicates_collapsed']:,}",
    ]
    rules = r["rules_applied"]
    lines.append(
        f"  30-day rules applied:     {rules['auto_closed']:,} closed without reply, "
        f"{rules['reopen_lapsed']:,} reopen windows lapsed"
    )
    for d in r["duplicates"][:20]:
        kind = "same request as" if d["kind"] == "duplicate" else "repeats a message in"
        lines.append(f"    {d['message_id'] or d['where']} {kind} #{d['ticket']}")
    for key, label in (
        ("quarantined", "quarantined"),
        ("refused", "refused"),
        ("ignored", "kept without a ticket"),
    ):
        lines.append(f"  {label + ':':<26}{len(r[key]):,}")
        lines.extend(f"    {m['where']}: {m['reason']}" for m in r[key][:20])
    if "notifications_queued" in r:
        lines.append(
            f"  told of their open ticket: {r['notifications_queued']:,} customers "
            "(queued: `helpdesk serve` sends them)"
        )
    shown = sum(min(len(r[k]), 20) for k in ("duplicates", "quarantined", "refused", "ignored"))
    listed = sum(len(r[k]) for k in ("duplicates", "quarantined", "refused", "ignored"))
    if listed > shown:
        lines.append(f"  (first 20 of each list shown; --json lists all {listed:,})")
    return "\n".join(lines)


def cmd_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm  # only this verb draws a progress bar

    gw = _gateway(args)
    bar: tqdm | None = None

    def start(total: int) -> None:
        nonlocal bar
        bar = tqdm(total=total, unit="msg", desc="importing", file=sys.stderr, disable=None)

    def step(done: int) -> None:
        if bar is not None:
            bar.update(done)

    try:
        report = app.import_mailbox(
            gw,
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
    _print(report.as_dict(), args.json, _import_text)
    return EX_OK


# --- the parser -----------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, what to fix, exit 2
        self.exit(EX_USAGE, f"helpdesk: {message}; see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="helpdesk", description="Helpdesk Gateway: e-mail in, tickets out.")
    p.add_argument("--config", type=Path, help="settings file (default config/helpdesk.toml)")
    sub = p.add_subparsers(dest="verb", required=True, parser_class=_Parser)

    def verb(name: str, fn: Callable, help: str, parent: Any = sub) -> argparse.ArgumentParser:
        sp = parent.add_parser(name, help=help, description=help)
        sp.set_defaults(fn=fn)
        return sp

    def with_json(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--json", action="store_true", help="print JSON (DESIGN §6 shapes)")
        return sp

    verb("init", cmd_init, "create or migrate the database")
    verb("serve", cmd_serve, "run the listeners until SIGTERM/SIGINT")
    sp = verb("ingest", cmd_ingest, "store one message read on stdin (exit 0, 65 or 75)")
    sp.add_argument("--sender", help="envelope sender (MAIL FROM); '' is the null sender <>")
    sp.add_argument("--recipient", action="append", help="envelope recipient; repeatable")

    sp = with_json(verb("tickets", cmd_tickets, "list tickets"))
    sp.add_argument("--status", help="only this status")
    sp.add_argument("--customer", help="only this customer (address or id)")

    ticket = sub.add_parser("ticket", help="one ticket").add_subparsers(
        dest="ticket_verb", required=True, parser_class=_Parser
    )
    sp = with_json(verb("show", cmd_ticket_show, "a ticket with messages and history", ticket))
    sp.add_argument("number", type=int)
    for name, help in (
        ("take", "assign to the operator and set in_progress"),
        ("close", "close as resolved"),
        ("note", "add an internal note (text from --text or stdin)"),
        ("reply", "answer the customer (text from --text or stdin); awaiting_customer"),
        ("status", "set an open status"),
        ("admin-close", "close administratively (locks the ticket, contract §9.5)"),
    ):
        sp = with_json(verb(name, cmd_ticket_act, help, ticket))
        sp.add_argument("number", type=int)
        if name == "status":
            sp.add_argument("status", help="in_progress, awaiting_customer or awaiting_operator")
        sp.add_argument(
            "--as", dest="as_", required=True, metavar="OPERATOR", help="operator name or address"
        )
        if name in ("note", "reply"):
            sp.add_argument("--text")
        if name == "admin-close":
            sp.add_argument("--reason", required=True, help="why; the customer is told")

    sp = with_json(verb("merge", cmd_ticket_merge, "merge ticket N into ticket M", ticket))
    sp.add_argument("number", type=int)
    sp.add_argument("into", type=int)
    sp.add_argument("--as", dest="as_", required=True, metavar="OPERATOR")
    sp = with_json(verb("assign", cmd_ticket_assign, "give the ticket to an operator", ticket))
    sp.add_argument("number", type=int)
    sp.add_argument("assignee", help="operator name or address")
    sp.add_argument("--as", dest="as_", required=True, metavar="OPERATOR")

    held = sub.add_parser(
        "held", help="strangers' mails held for a decision (guarantee 6)"
    ).add_subparsers(dest="held_verb", required=True, parser_class=_Parser)
    with_json(verb("list", cmd_held_list, "mails held for an operator's decision", held))
    for name, help in (
        ("accept", "add the held mail to its ticket as the customer's message"),
        ("reject", "keep it out of the ticket for good"),
    ):
        sp = with_json(verb(name, cmd_held_decide, help, held))
        sp.add_argument("id", type=int, help="the held message's id (see `helpdesk held list`)")
        sp.add_argument("--as", dest="as_", required=True, metavar="OPERATOR")

    sp = with_json(verb("notify", cmd_ticket_notify, "the ticket's notification settings", ticket))
    sp.add_argument("number", type=int)
    sp.add_argument("switch", nargs="?", choices=("on", "off"), help="notifications on or off")
    sp.add_argument("--to", metavar="ADDRESS", help="send notifications to this address")

    sp = with_json(verb("sweep", cmd_sweep, "run the 30-day rules and the dedup sweep once"))
    sp.add_argument(
        "--as-of", type=_as_of, metavar="ISO", help="evaluate the rules as of this moment"
    )
    sp.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")

    sp = with_json(verb("import", cmd_import, "bring in an old support mailbox (mbox or Maildir)"))
    sp.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="mbox file or Maildir; several are merged into one date order (inbox and Sent)",
    )
    sp.add_argument("--dry-run", action="store_true", help="show the report; write nothing")
    sp.add_argument(
        "--notify-open",
        action="store_true",
        help="mail the customers of tickets still open their ticket's number (history: nothing)",
    )

    outbox = with_json(verb("outbox", cmd_outbox_list, "notifications: queued, sent, failed"))
    outbox.add_argument("--failed", action="store_true", help="only failed and suppressed")
    outbox_verbs = outbox.add_subparsers(dest="outbox_verb", parser_class=_Parser)
    sp = with_json(
        verb("retry", cmd_outbox_retry, "send a failed notification again", outbox_verbs)
    )
    sp.add_argument("id", type=int)

    customers = sub.add_parser("customers", help="customer accounts").add_subparsers(
        dest="customers_verb", required=True, parser_class=_Parser
    )
    sp = with_json(verb("add", cmd_customers_add, "register a customer address", customers))
    sp.add_argument("email")
    sp.add_argument("--name", default="")
    sp.add_argument("--guest", action="store_true", help="record as unverified")
    with_json(verb("list", cmd_customers_list, "list customers", customers))

    operators = sub.add_parser("operators", help="operators").add_subparsers(
        dest="operators_verb", required=True, parser_class=_Parser
    )
    sp = with_json(verb("add", cmd_operators_add, "add an operator", operators))
    sp.add_argument("name")
    sp.add_argument("address")
    sp.add_argument("--password-stdin", action="store_true", help="read the SMTP AUTH password")
    with_json(verb("list", cmd_operators_list, "list operators", operators))

    quarantine = sub.add_parser(
        "quarantine", help="mail that could not be processed"
    ).add_subparsers(dest="quarantine_verb", required=True, parser_class=_Parser)
    sp = with_json(verb("list", cmd_quarantine_list, "list quarantined mail", quarantine))
    sp.add_argument("--all", action="store_true", help="also automatic mail kept without a ticket")
    sp = with_json(
        verb("retry", cmd_quarantine_retry, "run one quarantined mail again", quarantine)
    )
    sp.add_argument("id", type=int)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.settings = load_settings(args.config)
        return args.fn(args)
    except CliError as exc:
        print(f"helpdesk: {exc}", file=sys.stderr)
        return exc.code
    except (ConfigError, app.AdminError, NotMigrated) as exc:
        print(f"helpdesk: {exc}", file=sys.stderr)
        return EX_ERROR
    except (StoreUnavailable, SQLAlchemyError) as exc:
        code = EX_TEMPFAIL if args.verb == "ingest" else EX_ERROR
        print(
            f"helpdesk: the database is not available ({exc.__class__.__name__}); "
            "check HELPDESK_DATABASE_URL and that the server runs",
            file=sys.stderr,
        )
        return code
    except OSError as exc:
        print(
            f"helpdesk: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr
        )
        return EX_TEMPFAIL if args.verb == "ingest" else EX_ERROR
    except KeyboardInterrupt:
        return 130
    finally:  # main() may run in a longer-lived process (tests, scripts): leave no pool open
        if (gw := getattr(args, "gateway", None)) is not None:
            gw.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
