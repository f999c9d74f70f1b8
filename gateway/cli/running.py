"""The verbs that run the gateway or feed it: ``init``, ``serve``, ``sweep`` (cron) and
``import`` (an old mailbox); ``ingest`` (an MTA's pipe) is ``cli.pipe``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from gateway.app.gateway import Gateway
from gateway.app.runs import import_mailbox, run_sweep
from gateway.cli import render
from gateway.cli.base import EX_OK, CliError, show
from gateway.cli.commands import wired


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
