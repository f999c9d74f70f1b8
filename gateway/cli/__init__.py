"""``helpdesk``: the command-line contract of DESIGN §6. Thin: parse, call, print.

Every failure is one line on stderr that says what is wrong and what to do,
and an exit status ≥ 1 — never a traceback. ``helpdesk ingest`` speaks the
sysexits an MTA's pipe transport understands: 0 stored, 65 refused — only for
a message the gateway refuses — and 75 for everything else (a usage error in
master.cf, a missing config, a database away or without schema), so Postfix
keeps the mail queued instead of bouncing it; and what it prints names no
path or URL of ours, since Postfix copies it into the sender's DSN (issue 14).

Each verb's module is imported only when it runs (``cli.parser``): one
``helpdesk ingest`` per mail must stay cheap.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import import_module

from gateway.cli.base import EX_ERROR, EX_TEMPFAIL, CliError
from gateway.cli.failure import describe, redact
from gateway.cli.parser import build_parser

PIPE_VERB = "ingest"


def _verb_of(argv: Sequence[str]) -> str | None:
    """The verb named in ``argv`` before parsing it (to know how to fail when it is wrong)."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    piped = _verb_of(argv) == PIPE_VERB
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        if piped and exc.code not in (0, None):
            return EX_TEMPFAIL  # master.cf is wrong, not the mail: keep it queued
        raise
    try:
        from gateway.config import load_settings

        args.settings = load_settings(args.config)
        module, _, name = args.fn.rpartition(".")
        return getattr(import_module(f"gateway.cli.{module}"), name)(args)
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        message, code = str(exc), exc.code
    except Exception as exc:
        message, known = describe(exc)
        if not known and not piped:
            raise  # a bug: its traceback is what a developer needs
        code = EX_TEMPFAIL if piped else EX_ERROR
    if piped and not sys.stderr.isatty():
        message = redact(message)
    print(f"helpdesk: {message}", file=sys.stderr)
    return code


__all__ = ["build_parser", "main"]
