"""What every verb of ``helpdesk`` shares and nothing heavy: the exit statuses, the one
error type a verb raises, and printing a result as JSON or text.

Kept apart from ``cli.commands`` so that ``helpdesk ingest`` — one process per mail
from an MTA's pipe — imports neither the views nor the page (issue 14, item 15).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

# sysexits(3): an MTA's pipe transport reads 65 as "bounce", 75 as "try again later".
EX_OK, EX_ERROR, EX_USAGE, EX_DATAERR, EX_TEMPFAIL = 0, 1, 2, 65, 75


class CliError(Exception):
    """One line for stderr that says what is wrong and what to do, and the exit status."""

    def __init__(self, message: str, code: int = EX_ERROR) -> None:
        super().__init__(message)
        self.code = code


def show(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    if as_json:
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        out = text(data)
        if out:
            print(out)
