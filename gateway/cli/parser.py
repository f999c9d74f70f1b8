"""The argparse tree of ``helpdesk`` (DESIGN §6): every verb, its arguments and its help.

A usage error is one line that says what to fix and exit status 2 (75 for
``ingest``: see ``cli.main``); each verb names its function as ``module.function``
of ``gateway.cli``, imported only when it runs.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.cli.base import EX_USAGE


def _as_of(value: str) -> datetime:
    """An ISO date-time for --as-of; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--as-of {value!r} is not an ISO date-time, e.g. 2026-12-31T12:00:00+03:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, what to fix, exit 2
        self.exit(EX_USAGE, f"helpdesk: {message}; see `{self.prog} --help`\n")


class _Version(argparse.Action):
    """``helpdesk --version``: the installed distribution's version, read only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("helpdesk-gateway")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "unknown (not installed)"
        print(f"helpdesk {number}")
        parser.exit(0)


def _verb(name: str, fn: str, help: str, parent: Any) -> argparse.ArgumentParser:
    """A verb whose function is named ``module.function`` in ``gateway.cli``: imported only
    when that verb runs, so ``helpdesk ingest`` loads neither the page nor the scheduler."""
    sp = parent.add_parser(name, help=help, description=help)
    sp.set_defaults(fn=fn)
    return sp


def _json(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
    sp.add_argument("--json", action="store_true", help="print JSON (DESIGN §6 shapes)")
    return sp


def _group(sub: Any, name: str, help: str) -> Any:
    return sub.add_parser(name, help=help).add_subparsers(
        dest=f"{name}_verb", required=True, parser_class=_Parser
    )


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="helpdesk", description="Helpdesk Gateway: e-mail in, tickets out.")
    p.add_argument("--config", type=Path, help="settings file (default config/helpdesk.toml)")
    p.add_argument("--version", action=_Version, help="print the version and exit")
    sub = p.add_subparsers(dest="verb", required=True, parser_class=_Parser)
    _running(sub)
    _tickets(sub)
    _admin(sub)
    return p


def _running(sub: Any) -> None:
    _verb("init", "running.cmd_init", "create or migrate the database", sub)
    _verb("serve", "running.cmd_serve", "run the listeners until SIGTERM/SIGINT", sub)
    sp = _verb(
        "ingest", "pipe.cmd_ingest", "store one message read on stdin (exit 0, 65 or 75)", sub
    )
    sp.add_argument("--sender", help="envelope sender (MAIL FROM); '' is the null sender <>")
    sp.add_argument(
        "--recipient",
        action="extend",
        nargs="+",
        metavar="ADDRESS",
        help="envelope recipients, one argument each (Postfix's ${recipient} expands so)",
    )
    sp = _json(
        _verb("sweep", "running.cmd_sweep", "run the 30-day rules and the dedup sweep once", sub)
    )
    sp.add_argument(
        "--as-of", type=_as_of, metavar="ISO", help="evaluate the rules as of this moment"
    )
    sp.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")
    sp = _json(
        _verb(
            "import", "running.cmd_import", "bring in an old support mailbox (mbox or Maildir)", sub
        )
    )
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


def _as_operator(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--as", dest="as_", required=True, metavar="OPERATOR", help="operator name or address"
    )


def _tickets(sub: Any) -> None:
    sp = _json(_verb("tickets", "commands.cmd_tickets", "list tickets", sub))
    sp.add_argument("--status", help="only this status")
    sp.add_argument("--customer", help="only this customer (address or id)")
    ticket = _group(sub, "ticket", "one ticket")
    sp = _json(
        _verb("show", "commands.cmd_ticket_show", "a ticket with messages and history", ticket)
    )
    sp.add_argument("number", type=int)
    for name, help in (
        ("take", "assign to the operator and set in_progress"),
        ("close", "close as resolved"),
        ("note", "add an internal note (text from --text or stdin)"),
        ("reply", "answer the customer (text from --text or stdin); awaiting_customer"),
        ("status", "set an open status"),
        ("admin-close", "close administratively (locks the ticket, contract §9.5)"),
    ):
        sp = _json(_verb(name, "commands.cmd_ticket_act", help, ticket))
        sp.add_argument("number", type=int)
        if name == "status":
            sp.add_argument("status", help="in_progress, awaiting_customer or awaiting_operator")
        _as_operator(sp)
        if name in ("note", "reply"):
            sp.add_argument("--text")
        if name == "admin-close":
            sp.add_argument("--reason", required=True, help="why; the customer is told")
    sp = _json(_verb("merge", "commands.cmd_ticket_merge", "merge ticket N into ticket M", ticket))
    sp.add_argument("number", type=int)
    sp.add_argument("into", type=int)
    _as_operator(sp)
    sp = _json(
        _verb("assign", "commands.cmd_ticket_assign", "give the ticket to an operator", ticket)
    )
    sp.add_argument("number", type=int)
    sp.add_argument("assignee", help="operator name or address")
    _as_operator(sp)
    sp = _json(
        _verb("notify", "commands.cmd_ticket_notify", "the ticket's notification settings", ticket)
    )
    sp.add_argument("number", type=int)
    sp.add_argument("switch", nargs="?", choices=("on", "off"), help="notifications on or off")
    sp.add_argument("--to", metavar="ADDRESS", help="send notifications to this address")
    held = _group(sub, "held", "strangers' mails held for a decision (guarantee 6)")
    _json(_verb("list", "commands.cmd_held_list", "mails held for an operator's decision", held))
    for name, help in (
        ("accept", "add the held mail to its ticket as the customer's message"),
        ("reject", "keep it out of the ticket for good"),
    ):
        sp = _json(_verb(name, "commands.cmd_held_decide", help, held))
        sp.add_argument("id", type=int, help="the held message's id (see `helpdesk held list`)")
        _as_operator(sp)


def _admin(sub: Any) -> None:
    outbox = _json(
        _verb("outbox", "commands.cmd_outbox_list", "notifications: queued, sent, failed", sub)
    )
    outbox.add_argument("--failed", action="store_true", help="only failed and suppressed")
    outbox_verbs = outbox.add_subparsers(dest="outbox_verb", parser_class=_Parser)
    sp = _json(
        _verb(
            "retry", "commands.cmd_outbox_retry", "send a failed notification again", outbox_verbs
        )
    )
    sp.add_argument("id", type=int)
    customers = _group(sub, "customers", "customer accounts")
    sp = _json(_verb("add", "commands.cmd_customers_add", "register a customer address", customers))
    sp.add_argument("email")
    sp.add_argument("--name", default="")
    sp.add_argument("--guest", action="store_true", help="record as unverified")
    _json(_verb("list", "commands.cmd_customers_list", "list customers", customers))
    operators = _group(sub, "operators", "operators")
    sp = _json(_verb("add", "commands.cmd_operators_add", "add an operator", operators))
    sp.add_argument("name")
    sp.add_argument("address")
    sp.add_argument("--password-stdin", action="store_true", help="read the SMTP AUTH password")
    _json(_verb("list", "commands.cmd_operators_list", "list operators", operators))
    quarantine = _group(sub, "quarantine", "mail that could not be processed")
    sp = _json(_verb("list", "commands.cmd_quarantine_list", "list quarantined mail", quarantine))
    sp.add_argument("--all", action="store_true", help="also automatic mail kept without a ticket")
    sp = _json(
        _verb(
            "retry", "commands.cmd_quarantine_retry", "run one quarantined mail again", quarantine
        )
    )
    sp.add_argument("id", type=int)
