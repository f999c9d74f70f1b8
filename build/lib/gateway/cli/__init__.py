"""``helpdesk``: the command-line contract of DESIGN §6. Thin: parse, call, print.

Every failure is one line on stderr that says what is wrong and what to do,
and an exit status ≥ 1 — never a traceback. ``helpdesk ingest`` speaks the
sysexits an MTA's pipe transport understands: 0 stored, 65 refused, 75 retry.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from gateway.cli.commands import EX_ERROR, EX_TEMPFAIL, CliError
from gateway.cli.parser import build_parser
from gateway.config import ConfigError, load_settings
from gateway.operations import Refused
from gateway.store.db import NotMigrated, StoreUnavailable


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.settings = load_settings(args.config)
        return args.fn(args)
    except CliError as exc:
        print(f"helpdesk: {exc}", file=sys.stderr)
        return exc.code
    except (ConfigError, Refused, NotMigrated) as exc:
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


__all__ = ["build_parser", "main"]
