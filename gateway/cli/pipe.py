"""``helpdesk ingest``: the verb an MTA's pipe transport runs once per mail (DESIGN §6).

Its exit status is all the MTA reads: 0 stored, 65 (EX_DATAERR) when the gateway
refuses *this message* — Postfix then bounces it with the one line printed here —
and 75 (EX_TEMPFAIL) for everything else, so a setup mistake keeps the mail queued
until it is fixed (``cli.main`` maps the failures). Imports only what storing needs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.app.pipe import ingest_once
from gateway.app.wiring import Wiring
from gateway.cli.base import EX_DATAERR, EX_OK, EX_TEMPFAIL, CliError
from gateway.outcome import Delivery, Origin, OutcomeKind


def cmd_ingest(args: argparse.Namespace) -> int:
    data = sys.stdin.buffer.read()
    settings = args.settings
    # No secret.key is made before the database is known to be there: a pipe pointed at
    # the wrong place leaves nothing behind (issue 14, item 18).
    has_secret = bool(settings.secret) or (Path(settings.data_dir) / "secret.key").exists()
    wiring = Wiring(settings, writes=has_secret)
    try:
        wiring.require_database()
        if not has_secret:  # a database made by init elsewhere: the secret is made now
            wiring.close()
            wiring = Wiring(settings)
        if not data.strip():
            raise CliError("refused: the message is empty", EX_DATAERR)
        recipients = tuple(r for r in (args.recipient or [wiring.intake.support]) if r)
        for rcpt in recipients:
            if not wiring.intake.serves(rcpt):
                raise CliError(
                    f"refused: {rcpt} is not served here (only {wiring.intake.support})",
                    EX_DATAERR,
                )
        limit = args.settings.max_message_size
        if len(data) > limit:
            raise CliError(
                f"refused: the message is {len(data)} bytes, over the limit of {limit}",
                EX_DATAERR,
            )
        outcome = ingest_once(wiring, Delivery(args.sender, recipients, data, Origin.PIPE))
    finally:
        wiring.close()
    if outcome.kind is OutcomeKind.DEFERRED:
        raise CliError(f"try again later: {outcome.detail}", EX_TEMPFAIL)
    if not outcome.accepted:
        who = outcome.address or args.sender
        raise CliError(f"refused: {who} is not a registered customer. {outcome.detail}", EX_DATAERR)
    print(f"{outcome.kind.value}: {outcome.detail}")
    return EX_OK
