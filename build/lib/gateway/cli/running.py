"""The verbs that run the gateway or feed it: ``init``, ``serve``, ``ingest`` (an MTA's
pipe), ``sweep`` (cron) and ``import`` (an old mailbox)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from gateway.app.gateway import Gateway
from gateway.app.runs import import_mailbox, run_sweep
from gateway.cli import render
from gateway.cli.commands import (
    EX_DATAERR,
    EX_OK,
    EX_TEMPFAIL,
    CliError,
    show,
    wired,
)
from gateway.outcome import Delivery, Origin, OutcomeKind


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
    show(result, args.json, render.sweep)
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
    show(report.as_dict(), args.json, render.import_report)
    return EX_OK
