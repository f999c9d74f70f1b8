"""Children die with their parent (issue 14, item 6).

``kill -9`` of ``helpdesk serve`` gives it no chance to stop its children: the
intake writer, the notification builder's pool worker and the import's parse
workers were left running (~97 MB each) until someone found them. On Linux
``prctl(PR_SET_PDEATHSIG, SIGKILL)`` asks the kernel to kill the calling
process when the thread that made it exits; each child calls
:func:`die_with_parent` first thing (a pool's initializer, the writer's main).
Elsewhere it does nothing: the children still exit when their pipe closes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None) -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies; True when armed.

    ``parent`` is the pid the child expects as its parent: if that parent died
    before the request was made (the child was reparented), exit at once.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
    if parent is not None and os.getppid() != parent:
        os._exit(75)  # the parent is gone already: nobody would read our answers
    return armed
