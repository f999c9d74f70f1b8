"""The verbs that run the gateway or feed it: ``init``, ``serve``, ``sweep`` (cron) and
``import`` (an old mailbox); ``ingest`` (an MTA's pipe) is ``cli.pipe``."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import socket
import sys

from gateway.app.gateway import Gateway
from gateway.app.runs import import_mailbox, run_sweep
from gateway.cli import render
from gateway.cli.base import EX_OK, CliError, show
from gateway.cli.commands import wired
from gateway.config import Settings


def cmd_init(args: argparse.Namespace) -> int:
    with wired(args, migrated=False) as w:
        w.init_database()
        print(f"database ready: {w.engine.url.render_as_string(hide_password=True)}")
    return EX_OK


def _ports_free(settings: Settings) -> None:
    """Each listener's port, tried before anything starts: a port in use is one line that
    names the setting to change, not a page of tracebacks from parts already started."""
    listeners = [("HELPDESK_LISTEN", settings.listen, settings.listen_host_port)]
    if settings.submission_listen:
        listeners.append(
            (
                "HELPDESK_SUBMISSION_LISTEN",
                settings.submission_listen,
                settings.submission_host_port,
            )
        )
    if settings.http_listen:
        listeners.append(("HELPDESK_HTTP_LISTEN", settings.http_listen, settings.http_host_port))
    for name, url, (host, port) in listeners:
        if port == 0:
            continue
        try:
            for family, kind, proto, _, address in socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            ):
                with socket.socket(family, kind, proto) as probe:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    probe.bind(address)
        except OSError as exc:
            raise CliError(
                f"{name}={url}: cannot listen on {host}:{port}: {exc.strerror or exc}; "
                f"stop what uses it or set {name} to another port"
            ) from None


def cmd_serve(args: argparse.Namespace) -> int:
    _ports_free(args.settings)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # aiosmtpd logs every SMTP command at INFO: a line per command costs more
    # CPU than storing the mail. Its warnings and errors still show.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    gw = Gateway(args.settings)
    # Everything imported and wired so far lives as long as the process: out of the
    # collector's sight, a full collection scans what serving made, not SQLAlchemy,
    # Jinja and aiosmtpd again (a pause on the loop every SMTP session waits on).
    gc.freeze()
    try:
        asyncio.run(gw.serve())
    finally:
        gw.close()
    return EX_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    with wired(args, reads_only=args.dry_run) as w:
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
